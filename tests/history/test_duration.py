"""ISO 8601 durations for aggrPeriodDuration: parsing, calendar arithmetic, periods."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bocage.domain.errors import BadRequestData
from bocage.history.duration import Duration, add, parse_duration, period_index, periods

HOUR, DAY = 3_600_000, 86_400_000


def ms(*args: int) -> int:
    return int(dt.datetime(*args, tzinfo=dt.UTC).timestamp() * 1000)  # type: ignore[misc]


@pytest.mark.parametrize(("text", "expected"), [
    ("PT1H", Duration(0, HOUR)),
    ("P1D", Duration(0, DAY)),
    ("P1W", Duration(0, 7 * DAY)),
    ("P1M", Duration(1, 0)),
    ("PT1M", Duration(0, 60_000)),
    ("P1Y", Duration(12, 0)),
    ("P3Y6M4DT12H30M5S", Duration(42, 4 * DAY + 12 * HOUR + 30 * 60_000 + 5000)),
    ("P1W2D", Duration(0, 9 * DAY)),
    ("PT0.5S", Duration(0, 500)),
    ("PT1,25S", Duration(0, 1250)),
    ("PT0S", Duration(0, 0)),
    ("P0D", Duration(0, 0)),
    ("PT15M", Duration(0, 900_000)),
])
def test_parse(text: str, expected: Duration) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", [
    "", "P", "PT", "P1DT", "1D", "PT1.5M", "P1.5D", "-P1D", "pt1h", "P1H", "PT1D", "P1S",
    "P1M1Y", "PT1S1M", "P1DT1H1H", "PT0.0001S", "P20000Y", "hello", "P 1D",
])
def test_bad_durations_are_refused_with_a_clear_message(text: str) -> None:
    with pytest.raises(BadRequestData, match="duration"):
        parse_duration(text)


def test_not_a_string() -> None:
    with pytest.raises(BadRequestData, match="string"):
        parse_duration(3600)  # type: ignore[arg-type]


def test_one_month_from_january_31_clamps_to_the_end_of_february() -> None:
    month = parse_duration("P1M")
    assert add(ms(2026, 1, 31), month) == ms(2026, 2, 28)
    assert add(ms(2028, 1, 31), month) == ms(2028, 2, 29)  # leap year
    assert add(ms(2026, 1, 31), month, 2) == ms(2026, 3, 31)  # from the start: no drift
    assert add(ms(2026, 3, 31, 10, 30), month, -1) == ms(2026, 2, 28, 10, 30)


def test_leap_years() -> None:
    year = parse_duration("P1Y")
    assert add(ms(2028, 2, 29), year) == ms(2029, 2, 28)
    assert add(ms(2028, 2, 29), year, 4) == ms(2032, 2, 29)
    assert add(ms(2028, 2, 28), parse_duration("P1D")) == ms(2028, 2, 29)
    assert add(ms(2100, 2, 28), parse_duration("P1D")) == ms(2100, 3, 1)  # not a leap year


def test_months_then_time() -> None:
    d = parse_duration("P1MT1H")
    assert add(ms(2026, 1, 31, 23), d) == ms(2026, 2, 28, 23) + HOUR


def test_out_of_range_dates_are_bad_request() -> None:
    with pytest.raises(BadRequestData, match="out of range"):
        add(ms(9999, 6, 1), parse_duration("P1Y"))


def test_hourly_periods_cut_at_the_end() -> None:
    start = ms(2026, 11, 25)
    got = list(periods(start, start + 2 * HOUR + 30 * 60_000, parse_duration("PT1H")))
    assert got == [(start, start + HOUR), (start + HOUR, start + 2 * HOUR),
                   (start + 2 * HOUR, start + 2 * HOUR + 30 * 60_000)]


def test_monthly_periods_follow_the_calendar() -> None:
    got = list(periods(ms(2026, 1, 31), ms(2026, 5, 1), parse_duration("P1M")))
    assert got == [(ms(2026, 1, 31), ms(2026, 2, 28)), (ms(2026, 2, 28), ms(2026, 3, 31)),
                   (ms(2026, 3, 31), ms(2026, 4, 30)), (ms(2026, 4, 30), ms(2026, 5, 1))]


def test_weekly_periods_and_zero_duration_and_empty_interval() -> None:
    start = ms(2026, 11, 2)
    assert len(list(periods(start, start + 28 * DAY, parse_duration("P1W")))) == 4
    assert list(periods(start, start + 5, parse_duration("PT0S"))) == [(start, start + 5)]
    assert list(periods(start, start, parse_duration("P1D"))) == []


@given(st.integers(ms(1990, 1, 1), ms(2060, 1, 1)), st.integers(1, 400),
       st.sampled_from(["PT1H", "P1D", "P1M", "P1W", "P3M", "P1Y", "PT15M", "P1MT12H"]))
def test_periods_tile_the_interval_and_index_agrees(start: int, n: int, text: str) -> None:
    d = parse_duration(text)
    end = start + n * d.approx_ms() // 7 + 1
    got = list(periods(start, end, d))
    assert got[0][0] == start and got[-1][1] == end
    assert all(a < b for a, b in got)
    assert all(got[i][1] == got[i + 1][0] for i in range(len(got) - 1))
    for k, (begin, finish) in enumerate(got):
        assert period_index(start, begin, d) == k
        assert period_index(start, finish - 1, d) == k
