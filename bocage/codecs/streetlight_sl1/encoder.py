"""SL-1 street-light controller: values -> fPort 10 status frame (inverse of decoder)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bocage.codecs import fields
from bocage.codecs.streetlight_sl1.decoder import _FRAME


def encode(values: Mapping[str, Any]) -> tuple[int, bytes]:
    flags = (fields.choice(values, "powerState", ("off", "on"))
             | fields.choice(values, "lampStatus", ("ok", "defectiveLamp")) << 1)
    return 10, _FRAME.pack(flags, fields.uint(values, "dimmingLevel", 8),
                           fields.uint(values, "power", 16, 0.1),
                           fields.uint(values, "energy", 32, 0.001))
