"""CE-1 classroom air sensor: values -> fPort 4 measurement frame (inverse of decoder)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bocage.codecs import fields
from bocage.codecs.classroom_ce1.decoder import _FRAME


def encode(values: Mapping[str, Any]) -> tuple[int, bytes]:
    return 4, _FRAME.pack(fields.uint(values, "co2", 16),
                          fields.sint(values, "temperature", 16, 0.01),
                          fields.uint(values, "humidity", 8),
                          fields.uint(values, "battery", 8))
