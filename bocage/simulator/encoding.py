"""Values -> (fPort, payload) for each simulated device model.

Every built-in model is encoded by its codec's own encoder (``bocage/codecs/<model>/
encoder.py``, the exact inverse of its decoder): the simulator sends the bytes the
decoders read. The EV charging point model relies on the network server's decoder:
it has no payload, its values travel as the ChirpStack ``object``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from bocage.codecs.registry import CodecRegistry

Encoder = Callable[[Mapping[str, Any]], tuple[int, bytes]]
#: models whose values travel decoded (ChirpStack ``object``), not as a payload
DECODED_BY_NETWORK = frozenset({"bocage-sim-ev"})


def encoders(codecs: CodecRegistry) -> dict[str, Encoder]:
    """Built-in model id -> its codec's encoder, for every codec that has one."""
    return {c.model.id: c.encoder for c in codecs
            if c.encoder is not None and c.model is not None}
