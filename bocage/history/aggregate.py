"""NGSI-LD temporal aggregation (``aggrMethods`` × ``aggrPeriodDuration``), from raw points
or from the mergeable summaries that downsampling tiers store.

How each method treats values (following the NGSI-LD aggregated temporal representation,
and what Stellio does, so clients see the same figures):

- ``totalCount``: every instance counts, whatever its value (null included).
- ``distinctCount``: distinct values of any type; numbers compare as numbers (1 and 1.0
  are one value), objects by content.
- ``sum``, ``avg``, ``stddev``, ``sumsq``, ``min``, ``max`` work on a numeric reading of
  each value: a number is itself, a boolean counts 1 (true) or 0 (false), an array counts
  its length; strings, objects and null have no numeric reading and are skipped.
  ``min``/``max`` of a period without any numeric reading compare strings (lexicographic,
  which is also chronological for ISO 8601 date-times).
- ``stddev`` is the sample standard deviation (n - 1, as PostgreSQL's ``stddev``).
- A method with nothing to work on in a period gives ``None`` (JSON null).

Periods are ``[start, end)``, aligned on ``start_ms`` (the start of the requested interval:
``timeAt``), each ``period`` long (calendar-aware), the last one cut at ``end_ms``; no period
or a zero duration means one period over the whole interval. Periods without any instance
are left out. Results: ``{method: [(value, period_start_ms, period_end_ms), ...]}``.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import orjson

from bocage.domain.errors import BadRequestData
from bocage.history.duration import Duration, add

AGGR_METHODS = ("totalCount", "distinctCount", "sum", "avg", "min", "max", "stddev", "sumsq")
# What aggregate_summaries answers exactly. distinctCount is exact only while every merged
# bucket kept its set of distinct values (at most DISTINCT_CAP); otherwise it is None.
EXACT_FROM_SUMMARIES = frozenset(AGGR_METHODS) - {"distinctCount"}
DISTINCT_CAP = 64

Number = int | float
Result = dict[str, list[tuple[object, int, int]]]


@dataclass(frozen=True, slots=True)
class Summary:
    """What a downsampling tier keeps of a bucket of instances; merging two summaries gives
    the summary of the union (exactly for counts, sums, min and max; ``mean``/``m2`` use
    Chan et al.'s parallel formula, exact up to float rounding)."""

    count: int  # instances (totalCount)
    n: int  # instances with a numeric reading
    total: Number  # sum of numeric readings
    sumsq: Number  # sum of their squares
    mean: float  # mean of numeric readings (0.0 when n == 0)
    m2: float  # sum of squared deviations from the mean
    num_min: Number | None
    num_max: Number | None
    text_min: str | None  # over string values
    text_max: str | None
    distinct: frozenset[str] | None  # canonical JSON of distinct values; None past the cap
    first_t: int | None
    first_value: object
    last_t: int | None
    last_value: object

    def to_json(self) -> bytes:
        """A compact JSON object, the inverse of :meth:`from_json`."""
        body: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        body["distinct"] = None if self.distinct is None else sorted(self.distinct)
        try:
            return orjson.dumps(body)
        except TypeError:  # an integer beyond 64 bits
            return json.dumps(body, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, data: bytes | str) -> Summary:
        body = json.loads(data) if isinstance(data, str) else orjson.loads(data)
        distinct = body.pop("distinct")
        return cls(distinct=None if distinct is None else frozenset(distinct), **body)


EMPTY = Summary(0, 0, 0, 0, 0.0, 0.0, None, None, None, None, frozenset(), None, None, None, None)


def numeric(value: object) -> Number | None:
    """The numeric reading of a value for sum/avg/min/max/stddev/sumsq, or None."""
    kind = type(value)
    if kind is float or kind is int:
        return value  # type: ignore[return-value]
    if kind is bool:
        return 1 if value else 0
    if kind is list:
        return len(value)  # type: ignore[arg-type]
    return None


def canonical(value: object) -> str:
    """The key under which distinctCount compares values."""
    if type(value) is float and value.is_integer() and abs(value) < 2**53:
        value = int(value)
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:
        return json.dumps(value, sort_keys=True, separators=(",", ":"))


def summarize(points: Sequence[tuple[int, object]],
              distinct_cap: int | None = DISTINCT_CAP) -> Summary:
    """Summarise ``(t, value)`` points (any order). ``distinct_cap=None`` keeps every
    distinct value (for one-off exact answers, not for storage)."""
    if not points:
        return EMPTY
    readings = [r for r in map(numeric, (v for _, v in points)) if r is not None]
    texts = [v for _, v in points if type(v) is str]
    distinct: frozenset[str] | None = frozenset(canonical(v) for _, v in points)
    if distinct_cap is not None and len(distinct) > distinct_cap:  # type: ignore[arg-type]
        distinct = None
    first_t = min(t for t, _ in points)
    last_t = max(t for t, _ in points)
    first_value = next(v for t, v in points if t == first_t)
    last_value = [v for t, v in points if t == last_t][-1]
    n = len(readings)
    total: Number = _sum(readings)
    mean = total / n if n else 0.0
    m2 = _fsum([(r - mean) * (r - mean) for r in readings]) if n else 0.0
    return Summary(
        count=len(points), n=n, total=total, sumsq=_sum([r * r for r in readings]),
        mean=float(mean), m2=m2,
        num_min=min(readings) if n else None, num_max=max(readings) if n else None,
        text_min=min(texts) if texts else None, text_max=max(texts) if texts else None,
        distinct=distinct, first_t=first_t, first_value=first_value,
        last_t=last_t, last_value=last_value,
    )


def _sum(readings: Sequence[Number]) -> Number:
    if all(type(r) is int for r in readings):
        return sum(readings)
    return _fsum(readings)


def _fsum(values: Sequence[Number]) -> float:
    """math.fsum, or the plain float sum (±inf, nan) when a partial sum overflows: a
    reading near the float limits must not make compaction fail."""
    try:
        return math.fsum(values)
    except OverflowError:
        return float(sum(float(v) for v in values))


def merge(a: Summary, b: Summary) -> Summary:
    """The summary of the union of two buckets (associative; EMPTY is its identity)."""
    if a.count == 0:
        return b
    if b.count == 0:
        return a
    n = a.n + b.n
    if n:
        delta = b.mean - a.mean
        mean = a.mean + delta * b.n / n
        m2 = a.m2 + b.m2 + delta * delta * a.n * b.n / n
    else:
        mean = m2 = 0.0
    distinct = None
    if a.distinct is not None and b.distinct is not None:
        distinct = a.distinct | b.distinct
        if len(distinct) > DISTINCT_CAP:
            distinct = None
    first = a if (a.first_t, 0) <= (b.first_t, 1) else b
    last = b if (b.last_t, 1) >= (a.last_t, 0) else a
    return Summary(
        count=a.count + b.count, n=n, total=a.total + b.total, sumsq=a.sumsq + b.sumsq,
        mean=mean, m2=m2,
        num_min=_pick(min, a.num_min, b.num_min), num_max=_pick(max, a.num_max, b.num_max),
        text_min=_pick(min, a.text_min, b.text_min), text_max=_pick(max, a.text_max, b.text_max),
        distinct=distinct, first_t=first.first_t, first_value=first.first_value,
        last_t=last.last_t, last_value=last.last_value,
    )


def _pick(choose: Any, x: Any, y: Any) -> Any:
    if x is None:
        return y
    if y is None:
        return x
    return choose(x, y)


def finalize(summary: Summary, method: str) -> object:
    """The value of one aggregation method over a summarised period."""
    n = summary.n
    if method == "totalCount":
        return summary.count
    if method == "distinctCount":
        return None if summary.distinct is None else len(summary.distinct)
    if method == "sum":
        return summary.total if n else None
    if method == "avg":
        return summary.total / n if n else None
    if method == "min":
        return summary.num_min if n else summary.text_min
    if method == "max":
        return summary.num_max if n else summary.text_max
    if method == "stddev":
        return math.sqrt(max(summary.m2, 0.0) / (n - 1)) if n >= 2 else None
    if method == "sumsq":
        return summary.sumsq if n else None
    raise BadRequestData(f"unknown aggregation method {method!r}")


def check_methods(methods: Sequence[str]) -> list[str]:
    """Validate ``aggrMethods``: known names, no duplicates kept; raise BadRequestData."""
    unknown = [m for m in methods if m not in AGGR_METHODS]
    if unknown:
        raise BadRequestData(
            f"unknown aggregation method(s) {', '.join(map(repr, unknown))}; "
            f"allowed: {', '.join(AGGR_METHODS)}"
        )
    return list(dict.fromkeys(methods))


# --- periods ---------------------------------------------------------------------------------


class _Grid:
    """Maps times to period indexes over ``[start, end)``."""

    def __init__(self, start_ms: int, end_ms: int, period: Duration | None) -> None:
        if end_ms < start_ms:
            raise BadRequestData("the end of the aggregation interval is before its start")
        self.start, self.end = start_ms, end_ms
        self.step = 0 if period is None or period.is_zero else None
        self.bounds: np.ndarray | None = None
        if period is not None and not period.is_zero:
            if not period.months:
                self.step = period.ms
            else:
                starts = []
                k = 0
                while (begin := add(start_ms, period, k)) < end_ms:
                    starts.append(begin)
                    k += 1
                self.bounds = np.array([*starts, end_ms], dtype=np.int64)

    def index(self, times: np.ndarray) -> np.ndarray:
        if self.bounds is not None:
            return np.searchsorted(self.bounds, times, side="right") - 1
        if not self.step:
            return np.zeros(len(times), dtype=np.int64)
        return (times - self.start) // self.step

    def span(self, k: int) -> tuple[int, int]:
        if self.bounds is not None:
            return int(self.bounds[k]), int(self.bounds[k + 1])
        if not self.step:
            return self.start, self.end
        begin = self.start + k * self.step
        return begin, min(begin + self.step, self.end)


# --- aggregation over raw points ---------------------------------------------------------------


def aggregate(points: Sequence[tuple[int, object]], methods: Sequence[str], start_ms: int,
              end_ms: int, period: Duration | None) -> Result:
    """Aggregate raw ``(t, value)`` points falling in ``[start_ms, end_ms)``."""
    times = [t for t, _ in points]
    values = [v for _, v in points]
    return aggregate_columns(times, values, methods, start_ms, end_ms, period)


def aggregate_columns(times: Sequence[int], values: Sequence[object], methods: Sequence[str],
                      start_ms: int, end_ms: int, period: Duration | None) -> Result:
    """:func:`aggregate` over parallel columns (as ``codec.decode_columns`` returns them),
    which spares building a tuple per point."""
    wanted = check_methods(methods)
    grid = _Grid(start_ms, end_ms, period)
    result: Result = {m: [] for m in wanted}
    if not len(times) or not wanted or end_ms == start_ms:
        return result
    t = np.asarray(times, dtype=np.int64)
    if len(t) > 1 and bool(np.all(t[1:] >= t[:-1])):  # the usual case: already in time order
        lo, hi = np.searchsorted(t, [start_ms, end_ms]).tolist()
        t = t[lo:hi]
        chosen = list(values[lo:hi])
    else:
        keep = np.flatnonzero((t >= start_ms) & (t < end_ms))
        order = keep[np.argsort(t[keep], kind="stable")]
        t = t[order]
        chosen = [values[i] for i in order.tolist()]
    if not chosen:
        return result
    index = grid.index(t)
    kinds = set(map(type, chosen))
    if kinds == {float}:
        return _aggregate_numbers(np.array(chosen, dtype=np.float64), index, grid, wanted, False)
    if kinds == {int} and _small_ints(chosen):
        return _aggregate_numbers(np.array(chosen, dtype=np.int64), index, grid, wanted, True)
    # The general path: one exact summary per non-empty period.
    cuts = np.flatnonzero(np.diff(index)) + 1
    bounds = [0, *cuts.tolist(), len(chosen)]
    stamps = t.tolist()
    for lo, hi in itertools.pairwise(bounds):
        summary = summarize(list(zip(stamps[lo:hi], chosen[lo:hi], strict=True)),
                            distinct_cap=None)
        begin, finish = grid.span(int(index[lo]))
        for method in wanted:
            result[method].append((finalize(summary, method), begin, finish))
    return result


def _small_ints(values: list[object]) -> bool:
    return max(values) < 2**31 and min(values) > -(2**31)  # type: ignore[type-var,operator]


def _aggregate_numbers(v: np.ndarray, index: np.ndarray, grid: _Grid, wanted: list[str],
                       ints: bool) -> Result:
    starts = np.concatenate(([0], np.flatnonzero(np.diff(index)) + 1))
    counts = np.diff(np.append(starts, len(v)))
    spans = [grid.span(k) for k in index[starts].tolist()]
    columns: dict[str, list[Any]] = {}
    sums = np.add.reduceat(v, starts)  # int64 for ints: exact (|v| < 2**31, n < 2**32)
    for method in wanted:
        if method == "totalCount":
            columns[method] = counts.tolist()
        elif method == "distinctCount":
            columns[method] = _distinct_counts(v, index, len(starts))
        elif method == "sum":
            columns[method] = sums.tolist()
        elif method == "avg":
            columns[method] = (sums / counts).tolist()
        elif method == "min":
            columns[method] = np.minimum.reduceat(v, starts).tolist()
        elif method == "max":
            columns[method] = np.maximum.reduceat(v, starts).tolist()
        elif method == "sumsq":
            squares = v.astype(object) ** 2 if ints else v * v
            columns[method] = [int(s) if ints else float(s)
                               for s in np.add.reduceat(squares, starts)]
        elif method == "stddev":
            means = sums / counts
            deviations = v - np.repeat(means, counts)
            m2 = np.add.reduceat(deviations * deviations, starts)
            with np.errstate(all="ignore"):
                std = np.sqrt(m2 / (counts - 1))
            columns[method] = [s if c >= 2 else None
                               for s, c in zip(std.tolist(), counts.tolist(), strict=True)]
    return {m: [(value, b, e) for value, (b, e) in zip(columns[m], spans, strict=True)]
            for m in wanted}


def _distinct_counts(v: np.ndarray, index: np.ndarray, buckets: int) -> list[int]:
    # Rank the values once, then count the distinct (period, rank) pairs of each period.
    unique, ranks = np.unique(v, return_inverse=True)
    span = len(unique)
    periods = np.concatenate(([0], np.cumsum(index[1:] != index[:-1])))
    keys = periods * span + ranks.astype(np.int64).reshape(-1)
    keys.sort()
    first = np.ones(len(keys), dtype=bool)
    first[1:] = keys[1:] != keys[:-1]
    counts: list[int] = np.bincount(keys[first] // span, minlength=buckets).tolist()
    return counts


# --- aggregation over summaries (downsampled tiers) ---------------------------------------------


def aggregate_summaries(buckets: Sequence[tuple[int, int, Summary]], methods: Sequence[str],
                        start_ms: int, end_ms: int, period: Duration | None) -> Result:
    """Aggregate stored ``(bucket_start, bucket_end, Summary)`` rows. A bucket belongs to the
    period holding its start, and is used when that start lies in ``[start_ms, end_ms)``: the
    answer is exact when the periods are unions of whole buckets (P1D over hourly buckets,
    both aligned on UTC hours), else a bucket straddling two periods counts in the first.
    Methods in EXACT_FROM_SUMMARIES are exact (up to float rounding); distinctCount is
    exact while each bucket kept its distinct values, None otherwise."""
    wanted = check_methods(methods)
    grid = _Grid(start_ms, end_ms, period)
    result: Result = {m: [] for m in wanted}
    chosen = sorted((b for b in buckets if start_ms <= b[0] < end_ms), key=lambda b: b[0])
    if not chosen or not wanted:
        return result
    index = grid.index(np.array([b[0] for b in chosen], dtype=np.int64)).tolist()
    merged: dict[int, Summary] = {}
    for k, (_, _, summary) in zip(index, chosen, strict=True):
        merged[k] = merge(merged.get(k, EMPTY), summary)
    for k in sorted(merged):
        if merged[k].count == 0:
            continue
        begin, finish = grid.span(k)
        for method in wanted:
            result[method].append((finalize(merged[k], method), begin, finish))
    return result


def aggregate_series(times: Sequence[int], values: Sequence[object],
                     buckets: Sequence[tuple[int, int, Summary]], methods: Sequence[str],
                     start_ms: int, end_ms: int, period: Duration | None) -> Result:
    """A series read partly as raw points and partly as stored summaries (downsampled tiers,
    compacted chunks): the raw points are summarised per aggregation period — each group
    starting at its first point, so it lands in its own period — then merged with the
    buckets. Without buckets, the raw path (:func:`aggregate_columns`)."""
    if not buckets:
        return aggregate_columns(times, values, methods, start_ms, end_ms, period)
    grid = _Grid(start_ms, end_ms, period)
    groups: dict[int, list[tuple[int, object]]] = {}
    if len(times):
        t = np.asarray(times, dtype=np.int64)
        inside = np.flatnonzero((t >= start_ms) & (t < end_ms))
        if len(inside):
            index = grid.index(t[inside]).tolist()
            for k, i in zip(index, inside.tolist(), strict=True):
                groups.setdefault(k, []).append((int(times[i]), values[i]))
    raw = [(min(p[0] for p in points), max(p[0] for p in points) + 1, summarize(points))
           for points in groups.values()]
    return aggregate_summaries([*buckets, *raw], methods, start_ms, end_ms, period)


def period_bounds(start_ms: int, end_ms: int, period: Duration | None,
                  most: int = 20_000) -> tuple[int, ...] | None:
    """The boundaries of the aggregation periods over ``[start_ms, end_ms)`` (the last one
    ``end_ms``), or None when there would be more than ``most`` periods."""
    if end_ms <= start_ms:
        return None
    if period is None or period.is_zero:
        return (start_ms, end_ms)
    bounds = []
    k = 0
    while (begin := add(start_ms, period, k)) < end_ms:
        bounds.append(begin)
        k += 1
        if k > most:
            return None
    return (*bounds, end_ms)
