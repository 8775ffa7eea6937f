"""PC-1 people counter, fPort 14 count frame (our own format, see manifest)."""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any

from bocage.codecs.registry import CodecError

_FRAME = struct.Struct(">HHHB")


def decode(payload: bytes, f_port: int, config: Mapping[str, Any]) -> dict[str, Any]:
    if f_port != 14:
        raise CodecError(f"PC-1 sends counts on fPort 14, not {f_port}")
    if len(payload) != _FRAME.size:
        raise CodecError(f"PC-1 count frame is {_FRAME.size} bytes, got {len(payload)}")
    occupancy, entries, exits, battery = _FRAME.unpack(payload)
    return {"occupancy": occupancy, "entries": entries, "exits": exits, "battery": battery}
