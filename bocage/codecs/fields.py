"""Checked conversions from values to the integer fields of a frame. Pure.

Encoders quantise a value to the field's resolution (``round(value / step)``)
and refuse what the field cannot hold, so ``decode(encode(v))`` is ``v`` within
half a step, or the encoder says why not.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from bocage.codecs.registry import EncodeError


def number(values: Mapping[str, Any], key: str) -> float:
    """The finite number at ``key``."""
    if key not in values:
        raise EncodeError(f"missing value {key!r}")
    value = values[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise EncodeError(f"{key!r} must be a finite number, got {value!r}")
    return float(value)


def flag(values: Mapping[str, Any], key: str) -> bool:
    value = values.get(key, False)
    if not isinstance(value, bool):
        raise EncodeError(f"{key!r} must be true or false, got {value!r}")
    return value


def choice(values: Mapping[str, Any], key: str, options: tuple[str, ...]) -> int:
    """The index of ``values[key]`` in ``options``."""
    value = values.get(key)
    if value not in options:
        raise EncodeError(f"{key!r} must be one of {list(options)}, got {value!r}")
    return options.index(value)


def field(values: Mapping[str, Any], key: str, step: float, lo: int, hi: int) -> int:
    """``values[key] / step`` rounded to an integer in [lo, hi]."""
    raw = round(number(values, key) / step)
    if not lo <= raw <= hi:
        raise EncodeError(f"{key!r} = {values[key]!r} does not fit its field "
                          f"[{lo * step:g}, {hi * step:g}] (step {step:g})")
    return raw


def uint(values: Mapping[str, Any], key: str, bits: int, step: float = 1.0) -> int:
    return field(values, key, step, 0, (1 << bits) - 1)


def sint(values: Mapping[str, Any], key: str, bits: int, step: float = 1.0) -> int:
    return field(values, key, step, -(1 << (bits - 1)), (1 << (bits - 1)) - 1)


def percent(values: Mapping[str, Any], key: str) -> int:
    """A whole percentage 0-100 (battery, humidity...)."""
    return field(values, key, 1.0, 0, 100)
