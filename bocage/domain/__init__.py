"""Pure core: NGSI-LD entities, queries and errors. No I/O, no framework import."""
