"""US-1 ultrasonic bin fill sensor, fPort 3 fill frame (our own format, see manifest)."""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any

from bocage.codecs.registry import CodecError

_FRAME = struct.Struct(">HbB")


def decode(payload: bytes, f_port: int, config: Mapping[str, Any]) -> dict[str, Any]:
    if f_port != 3:
        raise CodecError(f"US-1 sends fill frames on fPort 3, not {f_port}")
    if len(payload) != _FRAME.size:
        raise CodecError(f"US-1 fill frame is {_FRAME.size} bytes, got {len(payload)}")
    millimetres, temperature, battery = _FRAME.unpack(payload)
    if millimetres == 0xFFFF:
        raise CodecError("no echo (distance 0xFFFF): sensor obstructed or lid open")
    depth = float(config.get("depth", 1.2))
    offset = float(config.get("offset", 0.05))
    if depth <= 0:
        raise CodecError(f"container depth must be positive, got {depth}")
    distance = millimetres / 1000
    # waste above the blind zone reads as full; an echo beyond the bottom as empty
    filling = 1 - (distance - offset) / depth
    return {
        "distance": distance,
        "fillingLevel": round(min(1.0, max(0.0, filling)), 3),
        "temperature": temperature,
        "battery": battery,
    }
