"""JavaScript payload codecs in the format of the public LoRaWAN device repositories.

``sandbox`` runs a codec in QuickJS with time and memory limits; ``source`` and
``library`` keep codecs in the catalogue and plug them into the codec registry.
"""
