"""AQ-1 outdoor air quality sensor: values -> fPort 5 frame (inverse of decoder)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bocage.codecs import fields
from bocage.codecs.airquality_aq1.decoder import _FRAME, FAULT


def encode(values: Mapping[str, Any]) -> tuple[int, bytes]:
    return 5, _FRAME.pack(fields.field(values, "pm25", 0.1, 0, FAULT - 1),
                          fields.field(values, "pm10", 0.1, 0, FAULT - 1),
                          fields.field(values, "no2", 1.0, 0, FAULT - 1),
                          fields.sint(values, "temperature", 16, 0.01),
                          fields.uint(values, "humidity", 8),
                          fields.uint(values, "battery", 8))
