"""The device catalogue: devices and device models, kept as NGSI-LD entities."""
