"""HM-1 heat meter reader: values -> fPort 12 index frame (inverse of decoder)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bocage.codecs import fields
from bocage.codecs.heat_hm1.decoder import _FRAME


def encode(values: Mapping[str, Any]) -> tuple[int, bytes]:
    return 12, _FRAME.pack(fields.uint(values, "energy", 32),
                           fields.uint(values, "power", 32),
                           fields.sint(values, "flowTemperature", 16, 0.01),
                           fields.sint(values, "returnTemperature", 16, 0.01),
                           fields.uint(values, "battery", 8))
