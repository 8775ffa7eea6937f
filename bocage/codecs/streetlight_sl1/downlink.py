"""SL-1 street-light controller: lighting orders, fPort 11 (our own format). Pure.

Four bytes, big-endian: order (0 back to schedule, 1 on, 2 off, 3 dim), level %
(0-100, dim only, else 0), minutes the order holds (uint16, 0 = until the next
order). When the minutes run out the controller goes back to its own schedule
by itself; bocage also sends a "schedule" order then (``bocage.commands``).
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any, Final

from bocage.codecs.registry import CodecError, EncodeError

F_PORT: Final = 11
ORDERS: Final = ("schedule", "on", "off", "dim")
_FRAME = struct.Struct(">BBH")


def encode_downlink(data: Mapping[str, Any]) -> tuple[int, bytes]:
    action = data.get("action")
    if action not in ORDERS:
        raise EncodeError(f"action must be one of {', '.join(ORDERS)}, got {action!r}")
    level = data.get("level") or 0
    minutes = data.get("durationMinutes") or 0
    if isinstance(level, bool) or not isinstance(level, int) or not 0 <= level <= 100:
        raise EncodeError(f"level must be an integer 0-100, got {level!r}")
    if action != "dim" and level:
        raise EncodeError("level applies to dim only")
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 0 <= minutes <= 0xFFFF:
        raise EncodeError(f"durationMinutes must be an integer 0-65535, got {minutes!r}")
    return F_PORT, _FRAME.pack(ORDERS.index(str(action)), level, minutes)


def decode_downlink(payload: bytes, f_port: int) -> dict[str, Any]:
    if f_port != F_PORT:
        raise CodecError(f"SL-1 takes orders on fPort {F_PORT}, not {f_port}")
    if len(payload) != _FRAME.size:
        raise CodecError(f"an SL-1 order is {_FRAME.size} bytes, got {len(payload)}")
    order, level, minutes = _FRAME.unpack(payload)
    if order >= len(ORDERS):
        raise CodecError(f"unknown SL-1 order {order}")
    out: dict[str, Any] = {"action": ORDERS[order]}
    if ORDERS[order] == "dim":
        out["level"] = level
    if minutes:
        out["durationMinutes"] = minutes
    return out
