"""VC-1 camera heartbeat: values -> fPort 15 frame (inverse of decoder)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bocage.codecs import fields
from bocage.codecs.camera_vc1.decoder import _FRAME, STATES


def encode(values: Mapping[str, Any]) -> tuple[int, bytes]:
    return 15, _FRAME.pack(fields.choice(values, "state", STATES),
                           fields.uint(values, "battery", 8),
                           fields.uint(values, "uptime", 16))
