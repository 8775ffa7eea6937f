"""Timestamps: parsed strictly, stored and returned as UTC ISO 8601 with milliseconds and Z."""

from __future__ import annotations

import datetime as dt

from bocage.domain.errors import BadRequestData


def format_utc(moment: dt.datetime) -> str:
    """``2026-11-25T22:00:00.000Z``: fixed width, so strings sort like instants."""
    moment = moment.astimezone(dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_datetime(text: object, what: str = "DateTime") -> dt.datetime:
    """A strict ISO 8601 DateTime; a missing offset means UTC (as NGSI-LD implies)."""
    if not isinstance(text, str):
        raise BadRequestData(f"{what} must be an ISO 8601 string, got {type(text).__name__}")
    raw = text.strip()
    try:
        moment = dt.datetime.fromisoformat(raw[:-1] + "+00:00" if raw.endswith("Z") else raw)
    except ValueError:
        raise BadRequestData(f"{what} is not a valid ISO 8601 DateTime: {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment


def normalise_datetime(text: object, what: str = "DateTime") -> str:
    return format_utc(parse_datetime(text, what))


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def to_ms(text: object, what: str = "DateTime") -> int:
    """Milliseconds since the epoch (UTC) of an ISO 8601 DateTime (strict)."""
    delta = parse_datetime(text, what) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def from_ms(ms: int) -> str:
    """The normal form (``format_utc``) of an instant in epoch milliseconds."""
    return format_utc(_EPOCH + dt.timedelta(milliseconds=ms))
