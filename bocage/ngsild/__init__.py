"""NGSI-LD: parsing, rendering, mutations and queries of entities."""
