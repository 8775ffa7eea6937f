"""AQ-1 outdoor air quality sensor, fPort 5 measurement frame (our own format, see manifest)."""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any

from bocage.codecs.registry import CodecError

_FRAME = struct.Struct(">HHHhBB")
#: a concentration field holding this value reports a failed sensor
FAULT = 0xFFFF


def decode(payload: bytes, f_port: int, config: Mapping[str, Any]) -> dict[str, Any]:
    if f_port != 5:
        raise CodecError(f"AQ-1 sends measurements on fPort 5, not {f_port}")
    if len(payload) != _FRAME.size:
        raise CodecError(f"AQ-1 measurement frame is {_FRAME.size} bytes, got {len(payload)}")
    pm25, pm10, no2, centidegrees, humidity, battery = _FRAME.unpack(payload)
    for name, raw in (("PM2.5", pm25), ("PM10", pm10), ("NO2", no2)):
        if raw == FAULT:
            raise CodecError(f"{name} sensor fault (0xFFFF)")
    return {
        "pm25": pm25 / 10,
        "pm10": pm10 / 10,
        "no2": no2,
        "temperature": centidegrees / 100,
        "humidity": humidity,
        "battery": battery,
    }
