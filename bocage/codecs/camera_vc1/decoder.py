"""VC-1 camera heartbeat, fPort 15 frame (our own format, see manifest)."""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any

from bocage.codecs.registry import CodecError

_FRAME = struct.Struct(">BBH")
#: the state byte's values, in order
STATES = ("ok", "videoLoss", "recordingFault", "storageFull", "tampered", "onBattery")


def decode(payload: bytes, f_port: int, config: Mapping[str, Any]) -> dict[str, Any]:
    if f_port != 15:
        raise CodecError(f"VC-1 sends heartbeats on fPort 15, not {f_port}")
    if len(payload) != _FRAME.size:
        raise CodecError(f"VC-1 heartbeat is {_FRAME.size} bytes, got {len(payload)}")
    state, battery, hours = _FRAME.unpack(payload)
    if state >= len(STATES):
        raise CodecError(f"unknown camera state {state}")
    return {"state": STATES[state], "battery": battery, "uptime": hours}
