"""SL-1 street-light controller, fPort 10 status frame (our own format, see manifest)."""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any

from bocage.codecs.registry import CodecError

_FRAME = struct.Struct(">BBHI")


def decode(payload: bytes, f_port: int, config: Mapping[str, Any]) -> dict[str, Any]:
    if f_port != 10:
        raise CodecError(f"SL-1 sends status on fPort 10, not {f_port}")
    if len(payload) != _FRAME.size:
        raise CodecError(f"SL-1 status is {_FRAME.size} bytes, got {len(payload)}")
    flags, dimming, deciwatts, watt_hours = _FRAME.unpack(payload)
    if flags & ~0b11:
        raise CodecError(f"reserved flag bits set: {flags:#04x}")
    return {
        "powerState": "on" if flags & 1 else "off",
        "lampStatus": "defectiveLamp" if flags & 2 else "ok",
        "dimmingLevel": dimming,
        "power": deciwatts / 10,
        "energy": watt_hours / 1000,
    }
