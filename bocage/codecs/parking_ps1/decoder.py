"""PS-1 parking spot sensor, fPort 1 event frame (our own format, see manifest)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bocage.codecs.registry import CodecError


def decode(payload: bytes, f_port: int, config: Mapping[str, Any]) -> dict[str, Any]:
    if f_port != 1:
        raise CodecError(f"PS-1 sends events on fPort 1, not {f_port}")
    if len(payload) != 1:
        raise CodecError(f"PS-1 event frame is 1 byte, got {len(payload)}")
    byte = payload[0]
    battery = byte & 0x7F
    if battery > 100:
        raise CodecError(f"battery field {battery} is not a percentage")
    return {"status": "occupied" if byte & 0x80 else "free", "battery": battery}
