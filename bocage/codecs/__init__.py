"""Payload codecs: a registry, and one folder per built-in device model.

A folder holds ``manifest.toml`` (the device model: vendor, fPorts, quantities and
their Smart Data Model mapping), ``decoder.py`` (a pure ``decode(payload, f_port,
config) -> dict``), ``encoder.py`` (its inverse, ``encode(values) -> (fPort,
payload)``, reached through ``registry.encoder_for(codec_id)``) and ``examples.json``
(bytes in, output out, an error case), which ``tests/codecs`` runs for every folder:
adding a model adds no test code.
"""
