"""PV-1 photovoltaic inverter reader: values -> fPort 13 frame (inverse of decoder)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bocage.codecs import fields
from bocage.codecs.pv_inverter_pv1.decoder import _FRAME, STATUS
from bocage.codecs.registry import EncodeError


def encode(values: Mapping[str, Any]) -> tuple[int, bytes]:
    codes = values.get("inverterStatus", [])
    if not isinstance(codes, list | tuple) or any(c not in STATUS for c in codes):
        raise EncodeError(f"'inverterStatus' must be a list of {list(STATUS)}, got {codes!r}")
    status = sum(1 << STATUS.index(c) for c in set(codes))
    return 13, _FRAME.pack(status, fields.uint(values, "power", 32),
                           fields.uint(values, "current", 16, 0.01),
                           fields.uint(values, "energy", 32, 0.001),
                           fields.sint(values, "temperature", 8))
