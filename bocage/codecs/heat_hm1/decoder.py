"""HM-1 heat meter reader, fPort 12 index frame (our own format, see manifest)."""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any

from bocage.codecs.registry import CodecError

_FRAME = struct.Struct(">IIhhB")


def decode(payload: bytes, f_port: int, config: Mapping[str, Any]) -> dict[str, Any]:
    if f_port != 12:
        raise CodecError(f"HM-1 sends its index on fPort 12, not {f_port}")
    if len(payload) != _FRAME.size:
        raise CodecError(f"HM-1 index frame is {_FRAME.size} bytes, got {len(payload)}")
    kwh, watts, supply, back, battery = _FRAME.unpack(payload)
    return {
        "controlledProperty": "energy",
        "energy": kwh,
        "power": watts,
        "flowTemperature": supply / 100,
        "returnTemperature": back / 100,
        "battery": battery,
    }
