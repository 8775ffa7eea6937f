"""US-1 ultrasonic bin fill sensor: values -> fPort 3 fill frame (inverse of decoder).

The frame carries the distance, not the filling level: ``distance`` (metres) is
encoded when given; otherwise ``fillingLevel`` is turned back into a distance
with the container's ``depth`` and the blind zone ``offset`` (values, else the
model's defaults), as a simulator wants.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bocage.codecs import fields
from bocage.codecs.bin_us1.decoder import _FRAME
from bocage.codecs.registry import EncodeError

#: the distance field's largest value (0xFFFF means "no echo")
_MAX_MM = 0xFFFE


def encode(values: Mapping[str, Any]) -> tuple[int, bytes]:
    if "distance" in values:
        millimetres = fields.field(values, "distance", 0.001, 0, _MAX_MM)
    elif "fillingLevel" not in values:
        raise EncodeError("missing value 'distance' (or 'fillingLevel' and the container's "
                          "'depth' and 'offset')")
    else:
        level = fields.number(values, "fillingLevel")
        depth = fields.number(values, "depth") if "depth" in values else 1.2
        offset = fields.number(values, "offset") if "offset" in values else 0.05
        distance = offset + (1 - level) * depth
        millimetres = fields.field({"distance": distance}, "distance", 0.001, 0, _MAX_MM)
    return 3, _FRAME.pack(millimetres, fields.sint(values, "temperature", 8),
                          fields.uint(values, "battery", 8))
