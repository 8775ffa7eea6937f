"""History as value objects: which instances a temporal request wants.

An attribute instance written to an entity becomes a *record* of the
attribute's history: its time (``observedAt`` when it has one, else its
``modifiedAt``), the instance itself, and the three time properties a query
may filter on. A :class:`HistoryRange` is what the temporal API asks a
history store for, already validated; :func:`select` is the reference
semantics every backend follows (and the oracle of the contract tests).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any, Final, Literal

from bocage.domain.entity import Instance

TimeProperty = Literal["observedAt", "createdAt", "modifiedAt"]
TIME_PROPERTIES: Final = ("observedAt", "createdAt", "modifiedAt")

#: instanceId prefix: ids are derived from the record's time (see ``instance_id``)
INSTANCE_PREFIX: Final = "urn:ngsi-ld:Instance:"


@dataclass(frozen=True, slots=True)
class Record:
    """One attribute instance of the history.

    ``t`` is the record's own time (observedAt, else modifiedAt), in epoch ms;
    ``observed`` / ``created`` / ``modified`` the time properties (``observed``
    None when the instance had no observedAt). ``instance`` is the stored
    instance without its time members (the renderer puts them back).
    """

    attr: str
    dataset: str  # "" for the default instance
    t: int
    observed: int | None
    created: int
    modified: int
    instance: Instance
    #: how many earlier records of the series share ``t`` (see ``instance_id``)
    nth: int = 0

    @property
    def instance_id(self) -> str:
        return instance_id(self.t, self.nth)

    def time(self, prop: TimeProperty) -> int | None:
        if prop == "observedAt":
            return self.observed
        return self.created if prop == "createdAt" else self.modified


@dataclass(frozen=True, slots=True)
class HistoryRange:
    """Which records of an entity to read.

    ``start`` is inclusive and ``end`` exclusive (epoch ms, on
    ``timeproperty``); a record lacking that time property is left out when
    a bound is given (an instance without observedAt has no place on the
    observedAt axis). ``last_n`` keeps the most recent N records of each
    attribute instance series; ``limit`` caps the records of each series
    (oldest first, or newest first with ``last_n``): a backend returns at
    most that many, which lets the API detect a partial answer.
    """

    attrs: frozenset[str] | None = None
    timeproperty: TimeProperty = "observedAt"
    start: int | None = None
    end: int | None = None
    last_n: int | None = None
    limit: int | None = None
    #: for aggregation reads: the boundaries of the aggregation periods (sorted epoch ms,
    #: the last one the end of the last period). A compacted chunk whose every point lies
    #: in one period (and in the window) may then be read as its stored summary instead of
    #: its points (``Series.buckets``); only with timeproperty observedAt.
    periods: tuple[int, ...] | None = None

    def holds(self, record: Record) -> bool:
        if self.attrs is not None and record.attr not in self.attrs:
            return False
        if self.start is None and self.end is None:
            return True
        t = record.time(self.timeproperty)
        if t is None:
            return False
        return (self.start is None or t >= self.start) and (self.end is None or t < self.end)


@dataclass(frozen=True, slots=True)
class Series:
    """One attribute instance series as parallel columns, in time order (on the
    window's time property): what aggregation reads, without building records."""

    attr: str
    dataset: str
    kind: str  # the attribute type of its first instance
    times: list[int]
    values: list[Any]
    #: older data kept only as summaries: (start, end, bocage.history.aggregate.Summary)
    buckets: list[Any] = field(default_factory=list)


#: attribute IRI -> its records (all datasets), ordered by (time, write order)
History = dict[str, list[Record]]


def order_key(record: Record, prop: TimeProperty) -> int:
    t = record.time(prop)
    return record.t if t is None else t


_FIELD: Final = {"observedAt": "observed", "createdAt": "created", "modifiedAt": "modified"}


def select(records: Iterable[Record], window: HistoryRange) -> History:
    """The records ``window`` wants, grouped by attribute, each list in time
    order. ``records`` must come in (t, write) order per attribute (ties keep it)."""
    prop = window.timeproperty
    time_of = attrgetter(_FIELD[prop])
    attrs, start, end = window.attrs, window.start, window.end
    bounded = start is not None or end is not None
    series: dict[tuple[str, str], list[Record]] = {}
    for record in records:
        if attrs is not None and record.attr not in attrs:
            continue
        if bounded:
            t = time_of(record)
            if t is None or (start is not None and t < start) or (end is not None and t >= end):
                continue
        key = (record.attr, record.dataset)
        found = series.get(key)
        if found is None:
            series[key] = [record]
        else:
            found.append(record)
    out: History = {}
    for (attr, _), found in sorted(series.items()):
        if prop != "observedAt":  # t order is observedAt order (t falls back on modifiedAt)
            found.sort(key=lambda r: order_key(r, prop))
        cap = window.last_n
        if window.limit is not None:
            cap = window.limit if cap is None else min(cap, window.limit)
        if cap is not None:
            found = found[-cap:] if window.last_n is not None else found[:cap]
        out.setdefault(attr, []).extend(found)
    return out


def instance_id(t: int, nth: int) -> str:
    """The id of the ``nth`` (from 0) record of a series at time ``t``: stable
    as long as the series' records at that instant are not rewritten."""
    return f"{INSTANCE_PREFIX}{t}" if nth == 0 else f"{INSTANCE_PREFIX}{t}-{nth}"


def parse_instance_id(text: str) -> tuple[int, int] | None:
    """(t, nth) of an id made by :func:`instance_id`; None for any other URI."""
    if not text.startswith(INSTANCE_PREFIX):
        return None
    raw = text[len(INSTANCE_PREFIX) :]
    head, _, tail = raw.partition("-")
    if not head.isdigit() or (tail and not tail.isdigit()) or len(head) > 15:
        return None
    return int(head), int(tail) if tail else 0
