"""WM-1 water meter pulse reader: values -> fPort 2 index frame (inverse of decoder)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bocage.codecs import fields
from bocage.codecs.water_pulse_wm1.decoder import _FRAME


def encode(values: Mapping[str, Any]) -> tuple[int, bytes]:
    flags = fields.flag(values, "leak") | fields.flag(values, "tamper") << 1
    return 2, _FRAME.pack(fields.uint(values, "index", 32, 0.001),
                          fields.uint(values, "flow", 16), flags,
                          fields.uint(values, "battery", 8))
