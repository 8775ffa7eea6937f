"""EM-1 electricity meter reader, fPort 8 index frame (our own format, see manifest)."""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any

from bocage.codecs.registry import CodecError

_FRAME = struct.Struct(">BII")
PHASES = ("singlePhase", "threePhase")


def decode(payload: bytes, f_port: int, config: Mapping[str, Any]) -> dict[str, Any]:
    if f_port != 8:
        raise CodecError(f"EM-1 sends its index on fPort 8, not {f_port}")
    if len(payload) != _FRAME.size:
        raise CodecError(f"EM-1 index frame is {_FRAME.size} bytes, got {len(payload)}")
    flags, watt_hours, watts = _FRAME.unpack(payload)
    if flags & ~1:
        raise CodecError(f"reserved flag bits set: {flags:#04x}")
    return {"phaseType": PHASES[flags & 1], "energy": watt_hours / 1000, "power": watts}
