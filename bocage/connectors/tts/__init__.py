"""The Things Stack v3: JSON webhook messages (MQTT later)."""
