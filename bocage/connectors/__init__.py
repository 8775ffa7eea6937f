"""Network server connectors: one folder per network server (manifest + envelope parser)."""
