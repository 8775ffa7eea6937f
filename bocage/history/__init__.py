"""History of attribute values: the pure core (codec, durations, aggregation, retention).

No I/O here: the storage backends and the temporal API build on these modules.
"""
