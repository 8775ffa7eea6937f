"""PS-1 parking spot sensor: values -> fPort 1 event frame (inverse of decoder)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bocage.codecs import fields


def encode(values: Mapping[str, Any]) -> tuple[int, bytes]:
    occupied = fields.choice(values, "status", ("free", "occupied"))
    return 1, bytes([occupied << 7 | fields.percent(values, "battery")])
