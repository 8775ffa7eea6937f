"""MQTT transport shared by the network-server connectors (ChirpStack, The Things Stack)."""
