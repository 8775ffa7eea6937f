"""ChirpStack v4: JSON integration events (HTTP integration now, MQTT later)."""
