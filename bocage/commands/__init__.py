"""Commands to equipment (public lighting first)."""
