"""CE-1 classroom air sensor, fPort 4 measurement frame (our own format, see manifest)."""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any

from bocage.codecs.registry import CodecError

_FRAME = struct.Struct(">HhBB")


def decode(payload: bytes, f_port: int, config: Mapping[str, Any]) -> dict[str, Any]:
    if f_port != 4:
        raise CodecError(f"CE-1 sends measurements on fPort 4, not {f_port}")
    if len(payload) != _FRAME.size:
        raise CodecError(f"CE-1 measurement frame is {_FRAME.size} bytes, got {len(payload)}")
    co2, centidegrees, humidity, battery = _FRAME.unpack(payload)
    return {
        "co2": co2,
        "temperature": centidegrees / 100,
        "humidity": humidity,
        "battery": battery,
    }
