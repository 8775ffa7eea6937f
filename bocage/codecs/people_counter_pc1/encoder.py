"""PC-1 people counter: values -> fPort 14 count frame (inverse of decoder)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bocage.codecs import fields
from bocage.codecs.people_counter_pc1.decoder import _FRAME


def encode(values: Mapping[str, Any]) -> tuple[int, bytes]:
    return 14, _FRAME.pack(fields.uint(values, "occupancy", 16),
                           fields.uint(values, "entries", 16),
                           fields.uint(values, "exits", 16),
                           fields.uint(values, "battery", 8))
