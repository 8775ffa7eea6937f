"""WL-1 river water level sensor, fPort 7 level frame (our own format, see manifest)."""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any

from bocage.codecs.registry import CodecError

_FRAME = struct.Struct(">HB")
NO_ECHO = 0xFFFF


def decode(payload: bytes, f_port: int, config: Mapping[str, Any]) -> dict[str, Any]:
    if f_port != 7:
        raise CodecError(f"WL-1 sends levels on fPort 7, not {f_port}")
    if len(payload) != _FRAME.size:
        raise CodecError(f"WL-1 level frame is {_FRAME.size} bytes, got {len(payload)}")
    millimetres, battery = _FRAME.unpack(payload)
    if millimetres == NO_ECHO:
        raise CodecError("no echo (distance 0xFFFF): sensor obstructed or misaligned")
    distance = millimetres / 1000
    out: dict[str, Any] = {"measuredDistance": distance, "battery": battery}
    reference = _metres(config, "referenceLevel")
    if reference is None:
        return out  # the height needs the sensor's reference level (device configuration)
    level = round(reference - distance, 3)
    out["referenceLevel"] = reference
    out["currentLevel"] = level
    alert, danger = _metres(config, "alertLevel"), _metres(config, "dangerLevel")
    if alert is not None and danger is not None:
        if alert > danger:
            raise CodecError(f"alertLevel {alert} is above dangerLevel {danger}")
        out["alertLevel"] = alert
        out["dangerLevel"] = danger
        out["floodLevelStatus"] = ("Danger" if level >= danger
                                   else "Alert" if level >= alert else "Normal")
    return out


def _metres(config: Mapping[str, Any], key: str) -> float | None:
    value = config.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CodecError(f"device configuration {key} must be a number of metres")
    return float(value)
