"""WL-1 river water level sensor: values -> fPort 7 level frame (inverse of decoder).

The frame carries the distance: give ``measuredDistance`` (metres), or
``currentLevel`` with the sensor's ``referenceLevel`` (distance = reference -
level), as a simulator of a rising river wants.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bocage.codecs import fields
from bocage.codecs.registry import EncodeError
from bocage.codecs.waterlevel_wl1.decoder import _FRAME, NO_ECHO


def encode(values: Mapping[str, Any]) -> tuple[int, bytes]:
    if "measuredDistance" in values:
        distance = fields.number(values, "measuredDistance")
    elif "currentLevel" in values and "referenceLevel" in values:
        distance = fields.number(values, "referenceLevel") - fields.number(
            values, "currentLevel")
    else:
        raise EncodeError("missing value 'measuredDistance' (or 'currentLevel' and "
                          "'referenceLevel')")
    millimetres = fields.field({"measuredDistance": distance}, "measuredDistance", 0.001,
                               0, NO_ECHO - 1)
    return 7, _FRAME.pack(millimetres, fields.uint(values, "battery", 8))
