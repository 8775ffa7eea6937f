"""Energy figures from aggregated history, with numbers checked by hand."""

from __future__ import annotations

import datetime as dt

from bocage.web.energy_figures import (
    cost,
    energy_from_power,
    gym_usage,
    hour_ranges,
    index_deltas,
    local_day,
    per_day,
    per_month,
    week_schedule,
    year_start_ms,
)

H = 3_600_000


def ms(*args: int) -> int:
    return int(dt.datetime(*args, tzinfo=dt.UTC).timestamp() * 1000)


def test_local_day_is_the_paris_date() -> None:
    assert local_day(ms(2026, 1, 31, 22, 59)) == "2026-01-31"  # 23:59 in Paris
    assert local_day(ms(2026, 1, 31, 23, 0)) == "2026-02-01"  # midnight in Paris
    assert local_day(ms(2026, 7, 31, 22, 0)) == "2026-08-01"  # summer time: UTC+2


def test_the_year_starts_at_midnight_in_paris() -> None:
    assert year_start_ms(ms(2026, 11, 26, 5)) == ms(2025, 12, 31, 23)
    assert year_start_ms(ms(2025, 12, 31, 23, 30)) == ms(2025, 12, 31, 23)  # already 2026


def test_index_deltas_count_from_the_previous_periods_highest_index() -> None:
    periods = [(2 * H, 130.0, 150.0), (0, 100.0, 120.0), (H, 121.0, 125.0)]
    # first period: 120 - 100; then 125 - 120 (the 1 kWh between periods counted); 150 - 125
    assert index_deltas(periods) == [(0, 20.0), (H, 5.0), (2 * H, 25.0)]


def test_an_index_reset_counts_only_its_own_period() -> None:
    assert index_deltas([(0, 900.0, 990.0), (H, 2.0, 7.0)]) == [(0, 90.0), (H, 5.0)]
    assert index_deltas([]) == []


def test_energy_from_power_is_mean_power_times_hours() -> None:
    periods = [(2.0, 0, H), (None, H, 2 * H), (3.0, 2 * H, 2 * H + H // 2)]
    assert energy_from_power(periods) == [(0, 2.0), (2 * H, 1.5)]
    assert energy_from_power([(1500.0, 0, 2 * H)], scale=0.001) == [(0, 3.0)]


def test_per_day_and_per_month_sum_in_paris_time() -> None:
    days = per_day([(ms(2026, 2, 28, 22, 30), 1.0), (ms(2026, 2, 28, 23, 30), 2.0),
                    (ms(2026, 3, 1, 10), 4.0), (ms(2026, 2, 1, 12), 8.0)])
    assert days == {"2026-02-01": 8.0, "2026-02-28": 1.0, "2026-03-01": 6.0}
    assert list(days) == sorted(days)
    assert per_month(days.items()) == {"2026-02": 9.0, "2026-03": 6.0}


def test_cost_adds_the_subscription_pro_rata() -> None:
    assert cost(1000, 0.25, 0.0, 10) == 250.0
    assert round(cost(1000, 0.25, 365.0, 10), 6) == 260.0


def test_gym_usage_counts_hours_heated_while_empty_and_what_they_cost() -> None:
    t0 = ms(2026, 1, 13, 5)  # Tuesday 06:00 in Paris
    hours = [
        (t0, 500.0, 0),  # standby, empty
        (t0 + H, 6500.0, 0),  # programme on, nobody: 6 kWh above standby wasted
        (t0 + 2 * H, 8500.0, 0),  # 8 kWh wasted
        (t0 + 3 * H, 7000.0, 12),  # occupied
        (t0 + 4 * H, 900.0, 0),  # below 2 x standby: not active
        (t0 + 5 * H, 7000.0, None),  # the counter said nothing: not claimed empty
    ]
    u = gym_usage(hours)
    assert u.standby_w == 500.0
    assert (u.hours, u.hours_active, u.hours_occupied, u.hours_empty_active) == (6, 4, 1, 2)
    assert u.kwh == 0.5 + 6.5 + 8.5 + 7.0 + 0.9 + 7.0
    assert u.kwh_saveable == 14.0
    assert u.days == (("2026-01-13", 7.0, 14.0),)


def test_gym_usage_of_nothing() -> None:
    u = gym_usage([])
    assert (u.hours, u.kwh, u.kwh_saveable, u.days) == (0, 0.0, 0.0, ())


def test_hour_ranges_join_consecutive_hours() -> None:
    assert hour_ranges([16, 7, 8]) == "7h–9h, 16h–17h"
    assert hour_ranges([]) == ""


def test_week_schedule_keeps_what_happens_in_at_least_half_of_the_weeks() -> None:
    tuesday = ms(2026, 1, 13, 6)  # 07:00 in Paris
    week = 7 * 24 * H
    hours = []
    for k in range(2):  # two Tuesdays: 07:00 heated and empty, 08:00 heated and busy
        hours += [(tuesday + k * week, 6000.0, 0), (tuesday + k * week + H, 6000.0, 15),
                  (tuesday + k * week + 2 * H, 500.0, 0)]
    hours.append((tuesday + 2 * week + 2 * H, 500.0, 3))  # 09:00 busy one week of three
    assert week_schedule(hours) == {1: ([8], [7, 8])}
    hours.append((tuesday + 3 * week + 2 * H, 500.0, 4))  # two weeks of four: kept
    assert week_schedule(hours) == {1: ([8, 9], [7, 8])}
    assert week_schedule([]) == {}
