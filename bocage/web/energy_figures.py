"""Energy figures from aggregated history: what was consumed or produced, and when. Pure.

The page module reads each meter's history through the temporal API's aggregation
(``aggrMethods`` over ``aggrPeriodDuration`` periods) and hands the periods here:

- a meter with an *index* (kWh, m³ since installation) gives ``min``/``max`` per
  period; what was used in a period is its highest index minus the previous
  period's highest (the first period, or one after an index reset: its own
  max − min), so nothing is lost between two periods;
- a meter that only reports a *power* gives its ``avg`` per period; the energy of
  a period is that mean power times the period's length (hours without any
  reading count nothing: a silent inverter is not credited).

Days and months are those of Europe/Paris (what the elected officials live in),
keyed ``YYYY-MM-DD`` and ``YYYY-MM``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final
from zoneinfo import ZoneInfo

PARIS: Final = ZoneInfo("Europe/Paris")
HOUR_MS: Final = 3_600_000
#: an hour counts as heated/lit when its mean power is at least this many times the
#: building's standby load (its lowest hourly mean over the period)
ACTIVE_RATIO: Final = 2.0


@dataclass(frozen=True, slots=True)
class Tariffs:
    """Prices the costs are computed with (settings ``tariff_*``)."""

    electricity_eur_kwh: float
    gas_eur_kwh: float
    electricity_subscription_eur_year: float = 0.0
    gas_subscription_eur_year: float = 0.0
    #: gas meters count m³; bills count kWh (the conversion coefficient on a French bill)
    gas_kwh_per_m3: float = 11.2


def local_day(ms: int) -> str:
    """The Europe/Paris date of an instant (epoch ms), ``YYYY-MM-DD``."""
    return dt.datetime.fromtimestamp(ms / 1000, PARIS).date().isoformat()


def year_start_ms(now_ms: int) -> int:
    """Midnight on 1 January, Europe/Paris, of the year of ``now_ms`` (epoch ms)."""
    year = dt.datetime.fromtimestamp(now_ms / 1000, PARIS).year
    return int(dt.datetime(year, 1, 1, tzinfo=PARIS).timestamp() * 1000)


def index_deltas(periods: Sequence[tuple[int, float, float]]) -> list[tuple[int, float]]:
    """``(period_start_ms, min, max)`` of an index -> ``(period_start_ms, used)``."""
    out: list[tuple[int, float]] = []
    previous: float | None = None
    for start, low, high in sorted(periods):
        used = high - previous if previous is not None and previous <= high else high - low
        out.append((start, used))
        previous = high
    return out


def energy_from_power(periods: Iterable[tuple[float | None, int, int]],
                      scale: float = 1.0) -> list[tuple[int, float]]:
    """``(mean power, start_ms, end_ms)`` -> ``(start_ms, energy)``: mean × hours × scale
    (power in kW gives kWh with scale 1; in W, scale 0.001)."""
    return [(start, mean * (end - start) / HOUR_MS * scale)
            for mean, start, end in periods if mean is not None]


def per_day(points: Iterable[tuple[int, float]]) -> dict[str, float]:
    """``(instant_ms, quantity)`` summed per Europe/Paris day, in day order."""
    out: dict[str, float] = {}
    for ms, quantity in points:
        day = local_day(ms)
        out[day] = out.get(day, 0.0) + quantity
    return dict(sorted(out.items()))


def per_month(days: Iterable[tuple[str, float]]) -> dict[str, float]:
    """``(YYYY-MM-DD, quantity)`` summed per month ``YYYY-MM``, in month order."""
    out: dict[str, float] = {}
    for day, quantity in days:
        out[day[:7]] = out.get(day[:7], 0.0) + quantity
    return dict(sorted(out.items()))


def cost(kwh: float, eur_kwh: float, subscription_eur_year: float, days: int) -> float:
    """Energy at its price plus the subscription for the ``days`` it covers."""
    return kwh * eur_kwh + subscription_eur_year * days / 365


@dataclass(frozen=True, slots=True)
class GymUsage:
    """A building's hours over a period: heated/lit, occupied, and both wasted."""

    #: lowest hourly mean power (W): the building with heating and lights off
    standby_w: float
    hours: int  # hours with a power reading
    hours_active: int  # heated and/or lit
    hours_occupied: int  # someone counted in
    hours_empty_active: int  # heated/lit while nobody was counted in
    kwh: float  # everything the meter counted
    #: energy above standby during the empty active hours: what a programme
    #: matched to the occupancy would have saved
    kwh_saveable: float
    #: per Europe/Paris day: (kWh while occupied, kWh above standby while empty)
    days: tuple[tuple[str, float, float], ...]


def gym_usage(hours: Sequence[tuple[int, float, int | None]],
              ratio: float = ACTIVE_RATIO) -> GymUsage:
    """``(hour_start_ms, mean power W, people counted or None)`` per hour -> usage.

    An hour is *active* when its mean power is at least ``ratio`` × standby, *occupied*
    when the counter saw anyone; an hour the counter did not report is never
    counted empty (no saving is claimed on a guess)."""
    if not hours:
        return GymUsage(0.0, 0, 0, 0, 0, 0.0, 0.0, ())
    standby = min(power for _, power, _ in hours)
    active = occupied = wasted = 0
    kwh = saveable = 0.0
    days: dict[str, list[float]] = {}
    for start, power, people in sorted(hours):
        on = power >= ratio * standby and power > 0
        used = power / 1000
        kwh += used
        day = days.setdefault(local_day(start), [0.0, 0.0])
        active += on
        if people:
            occupied += 1
            day[0] += used
        elif people == 0 and on:
            wasted += 1
            saveable += (power - standby) / 1000
            day[1] += (power - standby) / 1000
    return GymUsage(standby, len(hours), active, occupied, wasted, kwh, saveable,
                    tuple((d, v[0], v[1]) for d, v in sorted(days.items())))


def local_slot(ms: int) -> tuple[int, int]:
    """(weekday 0 = Monday, hour) of an instant in Europe/Paris."""
    moment = dt.datetime.fromtimestamp(ms / 1000, PARIS)
    return moment.weekday(), moment.hour


def week_schedule(hours: Sequence[tuple[int, float, int | None]],
                  ratio: float = ACTIVE_RATIO) -> dict[int, tuple[list[int], list[int]]]:
    """The building's week as observed: per weekday, the local hours it was occupied and
    the hours it was heated/lit, each in at least half of the weeks that hour was seen
    (so one odd evening does not move the schedule)."""
    if not hours:
        return {}
    standby = min(power for _, power, _ in hours)
    seen: dict[tuple[int, int], list[int]] = {}  # slot -> [seen, occupied, active]
    for start, power, people in hours:
        counts = seen.setdefault(local_slot(start), [0, 0, 0])
        counts[0] += 1
        counts[1] += bool(people)
        counts[2] += power >= ratio * standby and power > 0
    out: dict[int, tuple[list[int], list[int]]] = {}
    for (day, hour), (n, busy, on) in sorted(seen.items()):
        occupied, active = out.setdefault(day, ([], []))
        if 2 * busy >= n:
            occupied.append(hour)
        if 2 * on >= n:
            active.append(hour)
    return out


def hour_ranges(hours: Sequence[int]) -> str:
    """Local hours as ranges: [7, 8, 16] -> ``7h–9h, 16h–17h``; none -> ``""``."""
    spans: list[list[int]] = []
    for h in sorted(hours):
        if spans and spans[-1][1] == h:
            spans[-1][1] = h + 1
        else:
            spans.append([h, h + 1])
    return ", ".join(f"{a}h–{b}h" for a, b in spans)
