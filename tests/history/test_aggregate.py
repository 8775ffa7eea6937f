"""NGSI-LD aggregation against a brute-force oracle; summaries merge like the union."""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bocage.domain.errors import BadRequestData
from bocage.history.aggregate import (
    AGGR_METHODS,
    DISTINCT_CAP,
    EMPTY,
    Summary,
    aggregate,
    aggregate_columns,
    aggregate_summaries,
    merge,
    summarize,
)
from bocage.history.duration import parse_duration, periods

HOUR, DAY = 3_600_000, 86_400_000
START = 1_767_225_600_000  # 2026-01-01T00:00:00Z

FLOATS = st.floats(-1e6, 1e6, allow_nan=False)
NUMBERS = st.one_of(FLOATS, st.integers(-(10**6), 10**6))
ANY = st.one_of(
    NUMBERS, st.booleans(), st.none(), st.sampled_from(["on", "off", "2026-01-01T00:00:00Z"]),
    st.lists(st.integers(0, 3), max_size=3), st.just({"type": "Point", "coordinates": [4, 45]}),
)
SERIES = st.one_of(st.lists(FLOATS), st.lists(st.integers(-(10**6), 10**6)),
                   st.lists(st.booleans()), st.lists(ANY),
                   st.lists(st.floats(-1e6, 1e6, allow_nan=False).map(lambda x: round(x, 1))))
PERIODS = st.sampled_from([None, "PT0S", "PT1H", "PT15M", "P1D", "P1W", "P1M", "PT7H"])


# ---------------------------------------------------------------- the oracle, written plainly


def reading(value: object) -> float | int | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        return value
    if isinstance(value, list):
        return len(value)
    return None


def key(value: object) -> object:
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int | float):
        return ("number", value)  # 1 == 1.0 in Python, as in JSON
    return ("json", json.dumps(value, sort_keys=True))


def oracle(points: Sequence[tuple[int, object]], methods: Sequence[str], start: int, end: int,
           period: str | None) -> dict[str, list[tuple[object, int, int]]]:
    d = parse_duration(period) if period else parse_duration("PT0S")
    out: dict[str, list[tuple[object, int, int]]] = {m: [] for m in methods}
    for begin, finish in periods(start, end, d):
        values = [v for t, v in sorted(points, key=lambda p: p[0]) if begin <= t < finish]
        if not values:
            continue
        nums = [r for r in map(reading, values) if r is not None]
        texts = [v for v in values if isinstance(v, str)]
        answers: dict[str, object] = {
            "totalCount": len(values),
            "distinctCount": len({key(v) for v in values}),
            "sum": sum(nums) if nums else None,
            "avg": sum(nums) / len(nums) if nums else None,
            "min": min(nums) if nums else (min(texts) if texts else None),
            "max": max(nums) if nums else (max(texts) if texts else None),
            "stddev": statistics.stdev(nums) if len(nums) >= 2 else None,
            "sumsq": sum(x * x for x in nums) if nums else None,
        }
        for method in methods:
            out[method].append((answers[method], begin, finish))
    return out


def close(got: object, want: object, scale: float) -> bool:
    if isinstance(want, float) or isinstance(got, float):
        assert isinstance(got, int | float) and isinstance(want, int | float), (got, want)
        return math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-9 * max(scale, 1.0))
    return type(got) is type(want) and got == want


def assert_same(got: dict[str, list[tuple[object, int, int]]],
                want: dict[str, list[tuple[object, int, int]]],
                points: Sequence[tuple[int, object]]) -> None:
    assert list(got) == list(want)
    nums = [abs(r) for r in (reading(v) for _, v in points) if r is not None]
    scale = max(nums, default=1.0) ** 2 * max(len(points), 1)
    for method in want:
        assert [(b, e) for _, b, e in got[method]] == [(b, e) for _, b, e in want[method]], method
        for (g, _, _), (w, _, _) in zip(got[method], want[method], strict=True):
            tolerance = scale if method in ("sumsq", "stddev") else math.sqrt(scale)
            if method == "stddev" and w is not None:
                assert g is not None and math.isclose(g, w, rel_tol=1e-6, abs_tol=1e-6), (g, w)
            else:
                assert close(g, w, tolerance), (method, g, w)


QUARTER = 15 * 60_000
# Times on quarter hours, give or take a millisecond, so period edges are hit often.
TIMES = st.builds(lambda k, jitter: START + k * QUARTER + jitter, st.integers(-96, 40 * 96),
                  st.sampled_from([0, 0, 0, -1, 1, 4321]))


@st.composite
def timed(draw: st.DrawFn) -> list[tuple[int, object]]:
    values = draw(SERIES)
    times = draw(st.lists(TIMES, min_size=len(values), max_size=len(values)))
    return list(zip(times, values, strict=True))


@settings(max_examples=300, deadline=None)
@given(timed(), st.lists(st.sampled_from(AGGR_METHODS), min_size=1, unique=True), PERIODS,
       st.integers(0, 5 * 96), st.integers(1, 40 * 96), st.sampled_from([0, 0, 1, 7]))
def test_aggregate_matches_the_oracle(points: list[tuple[int, object]], methods: list[str],
                                      period: str | None, offset: int, length: int,
                                      shift: int) -> None:
    start = START + offset * QUARTER + shift
    end = start + length * QUARTER
    d = parse_duration(period) if period else None
    want = oracle(points, methods, start, end, period)
    assert_same(aggregate(points, methods, start, end, d), want, points)
    in_order = sorted(points, key=lambda p: p[0])  # the decoder's case: a faster path
    assert_same(aggregate_columns([t for t, _ in in_order], [v for _, v in in_order], methods,
                                  start, end, d), want, points)


def test_spec_example_shape_four_minute_periods_from_time_at() -> None:
    t0 = START + 12 * HOUR
    points = [(t0 + 60_000, 120), (t0 + 5 * 60_000, 100), (t0 + 6 * 60_000, 80)]
    got = aggregate(points, ["max", "avg"], t0, t0 + HOUR, parse_duration("PT4M"))
    assert got == {"max": [(120, t0, t0 + 240_000), (100, t0 + 240_000, t0 + 480_000)],
                   "avg": [(120.0, t0, t0 + 240_000), (90.0, t0 + 240_000, t0 + 480_000)]}


def test_booleans_strings_and_objects() -> None:
    points = [(START + i, v) for i, v in enumerate([True, False, True, "on", {"a": 1}, None])]
    got = aggregate(points, list(AGGR_METHODS), START, START + HOUR, None)
    one = {m: got[m][0][0] for m in got}
    assert one["totalCount"] == 6 and one["distinctCount"] == 5
    assert one["sum"] == 2 and one["min"] == 0 and one["max"] == 1 and one["sumsq"] == 2
    assert one["avg"] == 2 / 3
    assert one["stddev"] == pytest.approx(statistics.stdev([1, 0, 1]))  # sample, not population
    strings = aggregate([(START, "b"), (START + 1, "a")], ["min", "max", "sum"], START,
                        START + 1000, None)
    assert strings == {"min": [("a", START, START + 1000)], "max": [("b", START, START + 1000)],
                       "sum": [(None, START, START + 1000)]}


def test_bad_input() -> None:
    with pytest.raises(BadRequestData, match=r"unknown aggregation method.*'median'"):
        aggregate([], ["avg", "median"], START, START + 1, None)
    with pytest.raises(BadRequestData, match="before its start"):
        aggregate([(START, 1.0)], ["avg"], START + 10, START, None)
    with pytest.raises(BadRequestData, match="out of range"):
        aggregate([(START, 1.0)], ["avg"], START, 10**15, parse_duration("P1M"))


# ---------------------------------------------------------------- summaries


def assert_summaries_equal(a: Summary, b: Summary) -> None:
    for name in ("count", "n", "num_min", "num_max", "text_min", "text_max", "distinct",
                 "first_t", "last_t"):
        assert getattr(a, name) == getattr(b, name), name
    assert json.dumps(a.first_value) == json.dumps(b.first_value)
    assert json.dumps(a.last_value) == json.dumps(b.last_value)
    scale = max(abs(a.num_min or 0), abs(a.num_max or 0), 1) ** 2 * max(a.n, 1)
    for name in ("total", "sumsq", "mean", "m2"):
        assert math.isclose(getattr(a, name), getattr(b, name), rel_tol=1e-9,
                            abs_tol=1e-9 * scale), name


POINTS = st.lists(st.tuples(st.integers(0, 10**6), ANY), max_size=30)


@settings(max_examples=300, deadline=None)
@given(POINTS, POINTS, POINTS)
def test_merge_is_associative_and_equals_the_summary_of_the_union(
        a: list[tuple[int, object]], b: list[tuple[int, object]],
        c: list[tuple[int, object]]) -> None:
    sa, sb, sc = summarize(a), summarize(b), summarize(c)
    left, right = merge(merge(sa, sb), sc), merge(sa, merge(sb, sc))
    assert_summaries_equal(left, right)
    assert_summaries_equal(left, summarize(a + b + c))
    assert_summaries_equal(merge(EMPTY, sa), sa)
    assert_summaries_equal(merge(sa, EMPTY), sa)


@settings(max_examples=100, deadline=None)
@given(POINTS)
def test_summary_json_round_trip(points: list[tuple[int, object]]) -> None:
    summary = summarize(points)
    assert_summaries_equal(Summary.from_json(summary.to_json()), summary)


def test_distinct_values_past_the_cap_are_forgotten() -> None:
    many = summarize([(i, float(i)) for i in range(DISTINCT_CAP + 1)])
    assert many.distinct is None
    few = summarize([(i, i % 3) for i in range(1000)])
    assert few.distinct is not None and len(few.distinct) == 3
    assert merge(few, many).distinct is None


@settings(max_examples=100, deadline=None)
@given(timed(), st.sampled_from(["P1D", "PT6H", "P1W", None]))
def test_hourly_summaries_answer_like_raw_points(points: list[tuple[int, object]],
                                                 period: str | None) -> None:
    buckets: dict[int, list[tuple[int, object]]] = {}
    for t, v in points:
        buckets.setdefault(t - (t - START) % HOUR, []).append((t, v))
    rows = [(b, b + HOUR, summarize(ps)) for b, ps in buckets.items()]
    start, end = START, START + 30 * DAY
    d = parse_duration(period) if period else None
    from_tiers = aggregate_summaries(rows, list(AGGR_METHODS), start, end, d)
    raw = aggregate(points, list(AGGR_METHODS), start, end, d)
    exact = {m: raw[m] for m in AGGR_METHODS if m != "distinctCount"}
    assert_same({m: from_tiers[m] for m in exact}, exact, points)
    for (got, *_), (want, *_) in zip(from_tiers["distinctCount"], raw["distinctCount"],
                                     strict=True):
        assert got is None or got == want


# --- raw points and chunk summaries mixed (aggregate_series, period_bounds) -------------------

_DAY = 86_400_000


def _close_results(a: dict[str, list[tuple[object, int, int]]],
                   b: dict[str, list[tuple[object, int, int]]]) -> bool:
    if a.keys() != b.keys():
        return False
    for method in a:
        if len(a[method]) != len(b[method]):
            return False
        for (x, xa, xb), (y, ya, yb) in zip(a[method], b[method], strict=True):
            if (xa, xb) != (ya, yb):
                return False
            if isinstance(x, float) or isinstance(y, float):
                if not math.isclose(float(x), float(y), rel_tol=1e-9, abs_tol=1e-9):  # type: ignore[arg-type]
                    return False
            elif x != y:
                return False
    return True


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 10 * _DAY - 1),
                          st.one_of(st.integers(-50, 50), st.floats(-1e3, 1e3))),
                min_size=1, max_size=200),
       st.sampled_from(["P1D", "P2D", "PT6H", "P1M", ""]),
       st.integers(0, 3))
def test_summaries_of_whole_chunks_give_the_raw_answer(points: list[tuple[int, float]],
                                                       period_text: str, shift_days: int) -> None:
    from bocage.history.aggregate import aggregate_series, period_bounds, summarize

    points.sort(key=lambda p: p[0])
    times = [t for t, _ in points]
    values: list[object] = [v for _, v in points]
    period = parse_duration(period_text) if period_text else None
    start, end = shift_days * _DAY, 10 * _DAY - 7_000
    methods = ("totalCount", "sum", "avg", "min", "max", "stddev", "sumsq")
    want = aggregate_columns(times, values, methods, start, end, period)
    assert _close_results(aggregate_series(times, values, [], methods, start, end, period), want)
    bounds = period_bounds(start, end, period)
    assert bounds is not None and bounds[0] == start and bounds[-1] == end
    # day "chunks" lying inside the window and one period become summaries, the rest stays raw
    buckets, raw_t, raw_v = [], [], []
    for day in range(10):
        inside = [(t, v) for t, v in points if day * _DAY <= t < (day + 1) * _DAY]
        if not inside:
            continue
        lo, hi = inside[0][0], inside[-1][0]
        k = next((i for i in range(len(bounds) - 1) if bounds[i] <= lo < bounds[i + 1]), None)
        if k is not None and hi < bounds[k + 1] and start <= lo and hi < end:
            buckets.append((lo, hi + 1, summarize(inside)))
        else:
            raw_t += [t for t, _ in inside]
            raw_v += [v for _, v in inside]
    got = aggregate_series(raw_t, raw_v, buckets, methods, start, end, period)
    assert _close_results(got, want)


def test_period_bounds() -> None:
    from bocage.history.aggregate import period_bounds

    assert period_bounds(0, 3 * _DAY + 5, parse_duration("P1D")) == (0, _DAY, 2 * _DAY,
                                                                     3 * _DAY, 3 * _DAY + 5)
    assert period_bounds(0, 10, None) == (0, 10)
    assert period_bounds(0, 10 * _DAY, parse_duration("PT1M"), most=100) is None
    assert period_bounds(5, 5, None) is None


def test_a_chunk_summary_is_usable_inside_one_period_and_the_window_only() -> None:
    from bocage.domain.temporal import HistoryRange
    from bocage.storage.history_chunks import summary_usable

    w = HistoryRange(start=0, end=3 * _DAY, periods=(0, _DAY, 2 * _DAY, 3 * _DAY))
    assert summary_usable(10, _DAY - 1, w)
    assert not summary_usable(10, _DAY, w)  # crosses a period boundary
    assert not summary_usable(2 * _DAY, 3 * _DAY, w)  # reaches the window's end
    assert not summary_usable(-5, 10, w)  # starts before the window
    assert not summary_usable(10, 20, HistoryRange(start=0, end=_DAY))  # no periods
    assert not summary_usable(10, 20, HistoryRange(start=0, end=_DAY, periods=(0, _DAY),
                                                   timeproperty="modifiedAt"))
