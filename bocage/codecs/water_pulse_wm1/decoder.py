"""WM-1 water meter pulse reader, fPort 2 index frame (our own format, see manifest)."""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any

from bocage.codecs.registry import CodecError

_FRAME = struct.Struct(">IHBB")


def decode(payload: bytes, f_port: int, config: Mapping[str, Any]) -> dict[str, Any]:
    if f_port != 2:
        raise CodecError(f"WM-1 sends its index on fPort 2, not {f_port}")
    if len(payload) != _FRAME.size:
        raise CodecError(f"WM-1 index frame is {_FRAME.size} bytes, got {len(payload)}")
    litres, flow, flags, battery = _FRAME.unpack(payload)
    if flags & ~0b11:
        raise CodecError(f"reserved flag bits set: {flags:#04x}")
    return {
        "index": litres / 1000,
        "flow": flow,
        "leak": bool(flags & 1),
        "tamper": bool(flags & 2),
        "battery": battery,
    }
