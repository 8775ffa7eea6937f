"""Strict readers for envelope fields: every miss is a BadRequestData naming the field.

Pure helpers shared by the envelope parsers; the path in each message
(``deviceInfo.devEui``) tells the operator exactly what was wrong.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from typing import Any

from bocage.domain.errors import BadRequestData
from bocage.domain.timefmt import normalise_datetime

_EUI = re.compile(r"^[0-9A-Fa-f]{16}$")


def obj(parent: dict[str, Any], key: str, path: str, *, required: bool = True) -> dict[str, Any]:
    value = parent.get(key)
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise BadRequestData(f"{path}{key} must be a JSON object, got {_kind(value)}")
    return value


def text(parent: dict[str, Any], key: str, path: str, *, required: bool = True) -> str:
    value = parent.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise BadRequestData(f"{path}{key} must be a non-empty string, got {_kind(value)}")
    return value


def integer(parent: dict[str, Any], key: str, path: str, *, default: int | None = None,
            lo: int = 0, hi: int = 2**32 - 1) -> int | None:
    """An integer field; absent means ``default`` (both network servers omit zeros)."""
    value = parent.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise BadRequestData(f"{path}{key} must be an integer in [{lo}, {hi}], got {value!r}")
    return value


def number(parent: dict[str, Any], key: str, path: str) -> float | None:
    value = parent.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadRequestData(f"{path}{key} must be a number, got {_kind(value)}")
    return float(value)


def is_eui(value: str) -> bool:
    return _EUI.match(value) is not None


def dev_eui(value: object, where: str) -> str:
    if not isinstance(value, str) or not _EUI.match(value):
        raise BadRequestData(f"{where} must be a DevEUI of 16 hex digits, got {value!r}")
    return value.upper()


def payload(value: object, where: str) -> bytes:
    """Base64 (standard alphabet, padding required): garbage is an error, not b''."""
    if value is None or value == "":
        return b""
    if not isinstance(value, str):
        raise BadRequestData(f"{where} must be a base64 string, got {_kind(value)}")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequestData(f"{where} is not valid base64: {value[:40]!r}") from None


#: a UTC instant as network servers write it: the normal form is cut from the text
_UTC = re.compile(r"([1-9]\d{3}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(?:Z|\+00:00)")


def timestamp(value: object, where: str) -> str:
    """The instant in normal form (``format_utc``), strictly parsed."""
    if isinstance(value, str):
        m = _UTC.fullmatch(value)
        if m is not None:
            try:  # the date and time must exist (no 31 April, no 24:00)
                dt.datetime.fromisoformat(m.group(1))
            except ValueError:
                pass  # the strict parser says what is wrong
            else:
                return f"{m.group(1)}.{((m.group(2) or '') + '000')[:3]}Z"
    return normalise_datetime(value, where)


def _kind(value: object) -> str:
    return "nothing" if value is None else type(value).__name__
