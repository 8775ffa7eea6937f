"""HTTP routes (thin): NGSI-LD, operations. Errors mapped in ``errors``."""
