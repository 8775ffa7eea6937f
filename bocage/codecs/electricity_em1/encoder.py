"""EM-1 electricity meter reader: values -> fPort 8 index frame (inverse of decoder)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bocage.codecs import fields
from bocage.codecs.electricity_em1.decoder import _FRAME, PHASES


def encode(values: Mapping[str, Any]) -> tuple[int, bytes]:
    return 8, _FRAME.pack(fields.choice(values, "phaseType", PHASES),
                          fields.uint(values, "energy", 32, 0.001),
                          fields.uint(values, "power", 32))
