"""Values -> (fPort, payload) for each simulated device model.

Built-in models are encoded by their codec's own encoder when the codec registry
provides one; until then (and for the five original models only) by the small
encoders below, which follow the frame formats of the models' manifests. The EV
charging point model relies on the network server's decoder: it has no payload,
its values travel as the ChirpStack ``object``.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping
from typing import Any

from bocage.codecs.registry import CodecRegistry

Encoder = Callable[[Mapping[str, Any]], tuple[int, bytes]]
#: models whose values travel decoded (ChirpStack ``object``), not as a payload
DECODED_BY_NETWORK = frozenset({"bocage-sim-ev"})


def _u(value: float, bits: int, name: str) -> int:
    n = round(value)
    if not 0 <= n < 1 << bits:
        raise ValueError(f"{name}={value} does not fit in {bits} bits")
    return n


def _sl1(v: Mapping[str, Any]) -> tuple[int, bytes]:
    flags = (v["powerState"] == "on") | (v["lampStatus"] == "defectiveLamp") << 1
    return 10, struct.pack(">BBHI", flags, _u(v["dimmingLevel"], 8, "dimmingLevel"),
                           _u(v["power"] * 10, 16, "power"), _u(v["energy"] * 1000, 32,
                                                                  "energy"))


def _wm1(v: Mapping[str, Any]) -> tuple[int, bytes]:
    flags = bool(v["leak"]) | bool(v["tamper"]) << 1
    return 2, struct.pack(">IHBB", _u(v["index"] * 1000, 32, "index"),
                          _u(v["flow"], 16, "flow"), flags, _u(v["battery"], 8, "battery"))


def _us1(v: Mapping[str, Any]) -> tuple[int, bytes]:
    distance = v["offset"] + (1 - v["fillingLevel"]) * v["depth"]
    return 3, struct.pack(">HbB", _u(distance * 1000, 16, "distance"),
                          round(v["temperature"]), _u(v["battery"], 8, "battery"))


def _ce1(v: Mapping[str, Any]) -> tuple[int, bytes]:
    return 4, struct.pack(">HhBB", _u(v["co2"], 16, "co2"), round(v["temperature"] * 100),
                          _u(v["humidity"], 8, "humidity"), _u(v["battery"], 8, "battery"))


def _ps1(v: Mapping[str, Any]) -> tuple[int, bytes]:
    return 1, bytes([(v["status"] == "occupied") << 7 | _u(v["battery"], 7, "battery")])


_LOCAL: dict[str, Encoder] = {"bocage-sl1": _sl1, "bocage-wm1": _wm1, "bocage-us1": _us1,
                              "bocage-ce1": _ce1, "bocage-ps1": _ps1}


def encoders(codecs: CodecRegistry) -> dict[str, Encoder]:
    """Model id -> encoder: the codec's own where it has one, else the local one."""
    out = dict(_LOCAL)
    for codec in codecs:
        own = getattr(codec, "encoder", None)
        if own is not None:
            out[codec.model.id] = own
    return out
