"""PV-1 photovoltaic inverter reader, fPort 13 production frame (our own format, see manifest)."""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any

from bocage.codecs.registry import CodecError

_FRAME = struct.Struct(">HIHIb")
#: PhotovoltaicMeasurement's inverterStatus values; bit n of the status word is STATUS[n]
STATUS = (
    "00-On sector", "01-Power failure / On battery", "02-Loss of communication",
    "03-Battery fault", "04-System shutdown", "05-Tension dip", "06-Overvoltage",
    "07-Voltage drop", "08-Voltage increase", "09-Line noise", "10-Frequency variation",
    "11-Transient distortion", "12-Harmonic distortion",
)


def decode(payload: bytes, f_port: int, config: Mapping[str, Any]) -> dict[str, Any]:
    if f_port != 13:
        raise CodecError(f"PV-1 sends production on fPort 13, not {f_port}")
    if len(payload) != _FRAME.size:
        raise CodecError(f"PV-1 production frame is {_FRAME.size} bytes, got {len(payload)}")
    status, watts, centiamps, watt_hours, temperature = _FRAME.unpack(payload)
    if status >> len(STATUS):
        raise CodecError(f"reserved status bits set: {status:#06x}")
    return {
        "inverterStatus": [s for n, s in enumerate(STATUS) if status >> n & 1],
        "power": watts,
        "current": centiamps / 100,
        "energy": watt_hours / 1000,
        "temperature": temperature,
    }
