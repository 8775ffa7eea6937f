"""Territory rollups, the pure part: per-day totals, grouping by level and period."""

from __future__ import annotations

import itertools
import math
import random

import pytest

from bocage.domain.errors import BadRequestData
from bocage.history.duration import parse_duration
from bocage.history.rollup import (
    DAY,
    DayTotals,
    aggregate_rollups,
    check_query,
    day_deltas,
    level_of,
    rollup_keys,
)

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def test_day_deltas_count_every_reading_and_sum_the_numbers() -> None:
    got = day_deltas([(T0 + 5, 2), (T0 + 10, 3.5), (T0 + DAY + 1, "on"), (T0 + 7, True)])
    assert got[T0] == DayTotals(3, 3, 6.5, 4 + 12.25 + 1, 1.0, 3.5)
    assert got[T0 + DAY] == DayTotals(1, 0, 0.0, 0.0, None, None)


def test_plus_and_negated() -> None:
    a, b = DayTotals(2, 2, 5.0, 13.0, 2.0, 3.0), DayTotals(1, 1, 7.0, 49.0, 7.0, 7.0)
    assert a.plus(b) == DayTotals(3, 3, 12.0, 62.0, 2.0, 7.0)
    assert a.plus(b).plus(b.negated()) == DayTotals(2, 2, 5.0, 13.0, 2.0, 7.0)  # max stays


def test_levels_and_keys() -> None:
    scope = "/FR/01/240100883/01004"
    assert level_of(scope, "commune", "/") == scope
    assert level_of(scope, "epci", "/") == "/FR/01/240100883"
    assert level_of(scope, "departement", "/") == "/FR/01"
    assert level_of(scope, "territory", "/FR/01") == "/FR/01"
    assert level_of("/open", "epci", "/") is None
    assert rollup_keys(["A", "A", "B"], ["/x", "/open"]) == [
        ("A", "/x"), ("A", "/open"), ("B", "/x"), ("B", "/open")]
    assert rollup_keys(["A"], []) == []


def test_aggregate_rollups_against_the_readings() -> None:
    rnd = random.Random(4)
    scopes = ["/FR/01/E1/C1", "/FR/01/E1/C2", "/FR/01/E2/C3"]
    points = [(rnd.choice(scopes), T0 + rnd.randrange(0, 60 * DAY), rnd.uniform(-5, 50))
              for _ in range(3000)]
    rows = []
    for scope in scopes:
        for day, totals in day_deltas([(t, v) for s, t, v in points if s == scope]).items():
            rows.append((scope, day, totals))
    end = T0 + 59 * DAY
    out = aggregate_rollups(rows, ["totalCount", "avg", "stddev", "max"], T0, end,
                            parse_duration("P1M"), "epci", "/")
    assert set(out) == {"/FR/01/E1", "/FR/01/E2"}
    bounds = [T0, T0 + 31 * DAY, end]  # January, then February cut at the end
    for epci, result in out.items():
        for k, (lo, hi) in enumerate(itertools.pairwise(bounds)):
            values = [v for s, t, v in points if s.startswith(epci + "/") and lo <= t < hi]
            mean = sum(values) / len(values)
            sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
            assert result["totalCount"][k] == (len(values), lo, hi)
            assert math.isclose(result["avg"][k][0], mean, rel_tol=1e-9)
            assert math.isclose(result["stddev"][k][0], sd, rel_tol=1e-7)
            assert result["max"][k][0] == max(values)


@pytest.mark.parametrize(("methods", "start", "period", "level"), [
    (["distinctCount"], T0, None, "epci"), (["sum"], T0 + 3600_000, None, "epci"),
    (["sum"], T0, "PT12H", "epci"), (["sum"], T0, None, "region")])
def test_check_query_refuses_what_day_rows_cannot_answer(
        methods: list[str], start: int, period: str | None, level: str) -> None:
    with pytest.raises(BadRequestData):
        check_query(methods, start, parse_duration(period) if period else None, level)
    check_query(["sum", "avg"], T0, parse_duration("P1M"), "commune")
    check_query(["sum"], T0, parse_duration("P1W"), "territory")
