"""Temporal query strings -> one validated :class:`TemporalRequest` (clause 6.3.x).

Parameters shared with /entities (id, idPattern, type, q, geoQ, scopeQ, attrs,
limit, offset, count) go through ``query_params``; this adds timerel, timeAt,
endTimeAt, timeproperty, lastN and the temporal formats. Every bad value is a
BadRequestData problem naming the parameter.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal, cast

from bocage.api.query_params import ListRequest, parse_list_request, parse_options
from bocage.domain.errors import BadRequestData
from bocage.domain.temporal import TIME_PROPERTIES, HistoryRange, TimeProperty
from bocage.domain.terms import Terms
from bocage.domain.timefmt import to_ms
from bocage.history.aggregate import AGGR_METHODS
from bocage.history.duration import Duration, parse_duration

TemporalFormat = Literal["normalized", "temporalValues", "aggregatedValues"]
_TEMPORAL_FORMATS: Final = ("temporalValues", "aggregatedValues")
_TIMERELS: Final = ("before", "after", "between")
#: beyond, lastN is a mistake rather than a wish (pages still bound a response)
MAX_LAST_N: Final = 1_000_000
#: only for the temporal routes: not entity query parameters
_OWN: Final = frozenset(
    {"timerel", "timeAt", "endTimeAt", "timeproperty", "lastN", "aggrMethods",
     "aggrPeriodDuration", "format", "options"}
)


@dataclass(frozen=True, slots=True)
class TimeFilter:
    """The time part of a temporal request."""

    window: HistoryRange
    #: instances per attribute in one response (beyond: 206 Partial Content)
    page: int
    format: TemporalFormat
    sys_attrs: bool
    aggr_methods: tuple[str, ...] = ()
    aggr_period: Duration | None = None  # None or zero: one period over the whole range


@dataclass(frozen=True, slots=True)
class TemporalRequest:
    entities: ListRequest
    time: TimeFilter


def _int(params: Mapping[str, str], name: str, maximum: int) -> int | None:
    raw = params.get(name)
    if raw is None:
        return None
    if not re.fullmatch(r"[0-9]{1,9}", raw) or int(raw) == 0:
        raise BadRequestData(f"{name} must be a positive integer, got {raw!r}")
    if int(raw) > maximum:
        raise BadRequestData(f"{name} must be at most {maximum}, got {raw}")
    return int(raw)


def _instant(params: Mapping[str, str], name: str) -> int | None:
    raw = params.get(name)
    return None if raw is None else to_ms(raw, name)


def parse_time_filter(
    params: Mapping[str, str], terms: Terms, max_instances: int,
    aggr_methods: frozenset[str] = frozenset(AGGR_METHODS),
) -> TimeFilter:
    options, _ = _options(params)
    timerel = params.get("timerel")
    time_at = _instant(params, "timeAt")
    end_time_at = _instant(params, "endTimeAt")
    if timerel is None:
        if time_at is not None or end_time_at is not None:
            raise BadRequestData("timeAt and endTimeAt need timerel (before, after, between)")
        start = end = None
    elif timerel not in _TIMERELS:
        raise BadRequestData(f"timerel must be before, after or between, got {timerel!r}")
    elif time_at is None:
        raise BadRequestData(f"timerel={timerel} needs timeAt")
    elif timerel == "between":
        if end_time_at is None:
            raise BadRequestData("timerel=between needs endTimeAt")
        if end_time_at <= time_at:
            raise BadRequestData("endTimeAt must be later than timeAt")
        start, end = time_at, end_time_at
    elif end_time_at is not None:
        raise BadRequestData(f"endTimeAt is only for timerel=between, not {timerel}")
    elif timerel == "before":
        start, end = None, time_at
    else:
        start, end = time_at + 1, None  # after: strictly later
    prop = params.get("timeproperty", "observedAt")
    if prop not in TIME_PROPERTIES:
        raise BadRequestData(
            f"timeproperty must be observedAt, createdAt or modifiedAt, got {prop!r}"
        )
    last_n = _int(params, "lastN", MAX_LAST_N)
    raw_attrs = [a.strip() for a in (params.get("attrs") or "").split(",") if a.strip()]
    attrs = frozenset(terms.expand(a) for a in raw_attrs) if raw_attrs else None
    fmt: TemporalFormat = "normalized"
    for name in _TEMPORAL_FORMATS:
        if name in options or params.get("format") == name:
            fmt = cast(TemporalFormat, name)
    methods: tuple[str, ...] = ()
    period = None
    if fmt == "aggregatedValues":
        raw = params.get("aggrMethods")
        methods = tuple(dict.fromkeys(m.strip() for m in (raw or "").split(",") if m.strip()))
        if not methods:
            raise BadRequestData("aggregatedValues needs aggrMethods")
        unknown = [m for m in methods if m not in aggr_methods]
        if unknown:
            raise BadRequestData(
                f"unknown aggrMethods: {', '.join(unknown)}; known: "
                f"{', '.join(sorted(aggr_methods))}"
            )
        raw_period = params.get("aggrPeriodDuration")
        period = None if raw_period is None else parse_duration(raw_period)
    elif params.get("aggrMethods") or params.get("aggrPeriodDuration"):
        raise BadRequestData("aggrMethods and aggrPeriodDuration need options=aggregatedValues")
    window = HistoryRange(attrs=attrs, timeproperty=cast(TimeProperty, prop), start=start,
                          end=end, last_n=last_n, limit=max_instances + 1)
    return TimeFilter(window, max_instances, fmt, "sysAttrs" in options, methods, period)


def _options(params: Mapping[str, str]) -> tuple[frozenset[str], str]:
    fmt = params.get("format")
    if fmt is not None and fmt not in _TEMPORAL_FORMATS and fmt != "normalized":
        raise BadRequestData(
            f"format must be normalized, temporalValues or aggregatedValues, got {fmt!r}"
        )
    stripped = {k: v for k, v in params.items() if k != "format"}
    options, _ = parse_options(stripped)
    unsupported = options & {"keyValues", "simplified", "concise"}
    if unsupported:
        raise BadRequestData(
            f"options {', '.join(sorted(unsupported))} are not temporal representations;"
            " use temporalValues or aggregatedValues"
        )
    return options, fmt or "normalized"


def parse_temporal_query(
    params: Mapping[str, str], terms: Terms, max_limit: int, max_instances: int,
    aggr_methods: frozenset[str] = frozenset(AGGR_METHODS),
) -> TemporalRequest:
    """GET /temporal/entities."""
    time = parse_time_filter(params, terms, max_instances, aggr_methods)
    rest = {k: v for k, v in params.items() if k not in _OWN}
    entities = parse_list_request(rest, terms, max_limit)
    return TemporalRequest(entities, time)
