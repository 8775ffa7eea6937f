"""Territory rollups: readings pre-aggregated per entity type × attribute × scope × UTC day.

Compaction adds the readings it moves into chunks to the rollup row of their entity's
type(s) and scope(s) for their day (``day_deltas``), so an aggregate over every entity of a
commune, an EPCI or the whole territory (e.g. PV power per EPCI per month) reads one row
per scope and day instead of every sensor's history (``aggregate_rollups``). Pure.

A row keeps what sums: the number of readings, of numeric readings, their sum and sum of
squares, and their minimum and maximum. Counts, sums, averages, standard deviations and
sums of squares merge exactly; ``distinctCount`` cannot be kept this way and is refused.
What a row does not follow: a reading later removed (the temporal API's instance delete, an
entity's history deleted) is subtracted from the counts and sums, but a minimum or maximum it
set stays (docs/history.md).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from bocage.domain.errors import BadRequestData
from bocage.history.aggregate import Result, numeric
from bocage.history.duration import Duration, add

DAY: Final = 86_400_000
#: what rollups answer (distinctCount needs every value)
ROLLUP_METHODS: Final = ("totalCount", "sum", "avg", "min", "max", "stddev", "sumsq")
LEVELS: Final = ("commune", "epci", "departement", "territory")


@dataclass(frozen=True, slots=True)
class DayTotals:
    """The readings of one day of one series: what a rollup row adds up."""

    count: int = 0
    n: int = 0
    total: float = 0.0
    sumsq: float = 0.0
    low: float | None = None
    high: float | None = None

    def plus(self, other: DayTotals) -> DayTotals:
        return DayTotals(self.count + other.count, self.n + other.n, self.total + other.total,
                         self.sumsq + other.sumsq, _pick(min, self.low, other.low),
                         _pick(max, self.high, other.high))

    def negated(self) -> DayTotals:
        """Removing these readings: counts and sums only (min and max stay)."""
        return DayTotals(-self.count, -self.n, -self.total, -self.sumsq, None, None)


def _pick(choose: object, a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return float(choose(a, b))  # type: ignore[operator]


def day_deltas(points: Iterable[tuple[int, object]]) -> dict[int, DayTotals]:
    """``(t, value)`` readings -> their totals per UTC day (day start in epoch ms)."""
    out: dict[int, DayTotals] = {}
    for t, value in points:
        day = t - t % DAY
        r = numeric(value)
        one = DayTotals(1, 0, 0.0, 0.0) if r is None else DayTotals(
            1, 1, float(r), float(r) * float(r), float(r), float(r))
        found = out.get(day)
        out[day] = one if found is None else found.plus(one)
    return out


def rollup_keys(types: Sequence[str], scopes: Sequence[str]) -> list[tuple[str, str]]:
    """The (entity type, scope) rows a reading of an entity counts in: each of its types
    (a query names one type) × each of its scopes (an entity in a commune and in the
    open-data scope counts in both trees; one tree does not count it twice)."""
    return [(t, s) for t in dict.fromkeys(types) for s in dict.fromkeys(scopes)]


def level_of(scope: str, level: str, prefix: str) -> str | None:
    """The group a row's scope falls in: its commune (``/FR/01/<EPCI>/<INSEE>``), EPCI
    (``/FR/01/<EPCI>``), département (``/FR/01``) or the requested ``prefix`` itself
    (``territory``); None when the scope is not that deep."""
    if level == "territory":
        return prefix
    depth = {"departement": 3, "epci": 4, "commune": 5}[level]
    parts = scope.split("/")
    return "/".join(parts[:depth]) if len(parts) >= depth else None


def check_query(methods: Sequence[str], start_ms: int, period: Duration | None,
                level: str) -> None:
    """Refuse what day rows cannot answer exactly; raise BadRequestData."""
    if level not in LEVELS:
        raise BadRequestData(f"level must be one of {', '.join(LEVELS)}")
    wrong = [m for m in methods if m not in ROLLUP_METHODS]
    if wrong:
        raise BadRequestData(f"territory aggregates answer {', '.join(ROLLUP_METHODS)}; "
                             f"not {', '.join(wrong)}")
    if start_ms % DAY:
        raise BadRequestData("territory aggregates are kept per UTC day: timeAt must be a "
                             "midnight UTC (e.g. 2026-01-01T00:00:00Z)")
    if period is not None and period.ms % DAY:
        raise BadRequestData("aggrPeriodDuration must be whole days, weeks, months or years "
                             "(territory aggregates are kept per UTC day)")


def aggregate_rollups(rows: Iterable[tuple[str, int, DayTotals]], methods: Sequence[str],
                      start_ms: int, end_ms: int, period: Duration | None, level: str,
                      prefix: str) -> dict[str, Result]:
    """``(scope, day, totals)`` rows -> ``{group: {method: [(value, start, end), ...]}}``,
    periods aligned on ``start_ms`` (a UTC midnight), empty periods left out."""
    bounds = _bounds(start_ms, end_ms, period)
    groups: dict[str, str | None] = {}
    # plain lists, not DayTotals: an EPCI over a year is thousands of rows
    acc: dict[tuple[str, int], list[Any]] = {}
    for scope, day, t in rows:
        group = groups.get(scope, "")
        if group == "":
            group = groups[scope] = level_of(scope, level, prefix)
        if group is None or not start_ms <= day < end_ms:
            continue
        k = bisect.bisect_right(bounds, day) - 1
        a = acc.get((group, k))
        if a is None:
            acc[(group, k)] = [t.count, t.n, t.total, t.sumsq, t.low, t.high]
            continue
        a[0] += t.count
        a[1] += t.n
        a[2] += t.total
        a[3] += t.sumsq
        if t.low is not None and (a[4] is None or t.low < a[4]):
            a[4] = t.low
        if t.high is not None and (a[5] is None or t.high > a[5]):
            a[5] = t.high
    out: dict[str, Result] = {}
    for (group, k), a in sorted(acc.items()):
        if a[0] <= 0:
            continue
        totals = DayTotals(a[0], a[1], a[2], a[3], a[4], a[5])
        result = out.setdefault(group, {m: [] for m in methods})
        for method in methods:
            result[method].append((_finalize(totals, method), bounds[k], bounds[k + 1]))
    return out


def _bounds(start_ms: int, end_ms: int, period: Duration | None) -> list[int]:
    if period is None or period.is_zero:
        return [start_ms, end_ms]
    bounds = []
    k = 0
    while (begin := add(start_ms, period, k)) < end_ms:
        bounds.append(begin)
        k += 1
        if k > 100_000:
            raise BadRequestData("too many aggregation periods")
    return [*bounds, end_ms]


def _finalize(t: DayTotals, method: str) -> object:
    if method == "totalCount":
        return t.count
    if not t.n:
        return None
    if method == "sum":
        return t.total
    if method == "avg":
        return t.total / t.n
    if method == "min":
        return t.low
    if method == "max":
        return t.high
    if method == "sumsq":
        return t.sumsq
    if method == "stddev":
        if t.n < 2:
            return None
        return math.sqrt(max(t.sumsq - t.total * t.total / t.n, 0.0) / (t.n - 1))
    raise BadRequestData(f"unknown aggregation method {method!r}")
