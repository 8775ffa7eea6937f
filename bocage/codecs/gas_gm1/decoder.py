"""GM-1 gas meter pulse reader, fPort 9 index frame (our own format, see manifest)."""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any

from bocage.codecs.registry import CodecError

_FRAME = struct.Struct(">IHBB")


def decode(payload: bytes, f_port: int, config: Mapping[str, Any]) -> dict[str, Any]:
    if f_port != 9:
        raise CodecError(f"GM-1 sends its index on fPort 9, not {f_port}")
    if len(payload) != _FRAME.size:
        raise CodecError(f"GM-1 index frame is {_FRAME.size} bytes, got {len(payload)}")
    litres, litres_per_hour, flags, battery = _FRAME.unpack(payload)
    if flags & ~1:
        raise CodecError(f"reserved flag bits set: {flags:#04x}")
    return {
        "controlledProperty": "gasConsumption",
        "index": litres / 1000,
        "flow": litres_per_hour / 1000,
        "tamper": bool(flags & 1),
        "battery": battery,
    }
