"""GM-1 gas meter pulse reader: values -> fPort 9 index frame (inverse of decoder)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bocage.codecs import fields
from bocage.codecs.gas_gm1.decoder import _FRAME


def encode(values: Mapping[str, Any]) -> tuple[int, bytes]:
    return 9, _FRAME.pack(fields.uint(values, "index", 32, 0.001),
                          fields.uint(values, "flow", 16, 0.001),
                          int(fields.flag(values, "tamper")),
                          fields.uint(values, "battery", 8))
