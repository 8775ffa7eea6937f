"""Dashboards over history for elected officials (questions 11, 12, 13 and 15). Pure.

The page module reduces each meter's history of the year to a :class:`Meter` (its
quantity per Europe/Paris day) or, for a gym, a :class:`Gym` (its hours); the
builders here turn those of an area into the same :class:`Table` as the other
dashboards (headline figures, rows, CSV) plus a :class:`Chart` (one value per day
and per series) that the page hands to uPlot and to the PNG export.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from bocage.web.dashboards import Table
from bocage.web.energy_figures import (
    GymUsage,
    Tariffs,
    cost,
    gym_usage,
    hour_ranges,
    per_month,
    week_schedule,
)

#: the commune column of a row totalling an EPCI (a message key)
ALL_COMMUNES: Final = "hdash.all_communes"


@dataclass(frozen=True, slots=True)
class Meter:
    id: str
    name: str
    epci: str
    commune: str
    #: "pv" (kWh produced), "heat" (kWh delivered), "electricity" (kWh), "gas" (m³)
    kind: str
    #: (YYYY-MM-DD, quantity that day), in day order
    days: tuple[tuple[str, float], ...]
    #: PV: peak power (kWp)
    peak_kw: float | None = None

    @property
    def total(self) -> float:
        return sum(q for _, q in self.days)


@dataclass(frozen=True, slots=True)
class Gym:
    id: str
    name: str
    epci: str
    commune: str
    #: (hour start ms, mean power W, people counted or None), in time order
    hours: tuple[tuple[int, float, int | None], ...]


@dataclass(frozen=True, slots=True)
class Chart:
    """Daily values: ``days`` (YYYY-MM-DD) and, per series, a message key and a value
    (or None) for each day."""

    unit: str
    days: list[str] = field(default_factory=list)
    series: list[tuple[str, list[float | None]]] = field(default_factory=list)

    def as_json(self, label: Callable[[str], str]) -> dict[str, Any]:
        return {"unit": self.unit, "days": self.days,
                "series": [{"label": label(k), "values": v} for k, v in self.series]}


@dataclass(frozen=True, slots=True)
class HistoryBoard:
    slug: str
    question: int
    #: the kind of reading it is built from: "gym" or a Meter kind list
    kinds: tuple[str, ...]
    build: Callable[[Sequence[Any], Tariffs], tuple[Table, Chart]]
    #: a second table shown under the first (not exported), if any
    extra: Callable[[Sequence[Any]], Table] | None = None


def _daily_chart(unit: str, series: Sequence[tuple[str, dict[str, float]]]) -> Chart:
    days = sorted({d for _, values in series for d in values})
    return Chart(unit, days, [(key, [round(values[d], 3) if d in values else None
                                     for d in days]) for key, values in series])


def _sum_days(meters: Sequence[Meter]) -> dict[str, float]:
    out: dict[str, float] = {}
    for m in meters:
        for day, q in m.days:
            out[day] = out.get(day, 0.0) + q
    return out


def gym_board(gyms: Sequence[Gym], tariffs: Tariffs) -> tuple[Table, Chart]:
    """Q11: hours each gym was heated/lit while empty, and what that cost."""
    rows = []
    occupied: dict[str, float] = {}
    empty: dict[str, float] = {}
    usages: list[GymUsage] = []
    for gym in sorted(gyms, key=lambda g: (g.commune, g.name)):
        u = gym_usage(gym.hours)
        usages.append(u)
        saved_eur = u.kwh_saveable * tariffs.electricity_eur_kwh
        rows.append((gym.id, gym.name, gym.commune, u.hours_active, u.hours_occupied,
                     u.hours_empty_active, round(u.standby_w), round(u.kwh, 1),
                     round(u.kwh_saveable, 1), round(saved_eur, 2)))
        for day, busy, idle in u.days:
            occupied[day] = occupied.get(day, 0.0) + busy
            empty[day] = empty.get(day, 0.0) + idle
    saveable = sum(u.kwh_saveable for u in usages)
    table = Table(
        headers=("dash.col.id", "equipment.name", "equipment.commune", "hdash.col.hours_active",
                 "hdash.col.hours_occupied", "hdash.col.hours_empty_active",
                 "hdash.col.standby_w", "hdash.col.kwh", "hdash.col.kwh_saveable",
                 "hdash.col.eur_saveable"),
        rows=rows,
        figures=[("hdash.fig.gyms", len(gyms)),
                 ("hdash.col.hours_empty_active", sum(u.hours_empty_active for u in usages)),
                 ("hdash.col.kwh_saveable", round(saveable, 1)),
                 ("hdash.col.eur_saveable", round(saveable * tariffs.electricity_eur_kwh, 2))],
        link_column=0,
    )
    chart = _daily_chart("kWh", [("hdash.series.occupied", occupied),
                                 ("hdash.series.empty", empty)])
    return table, chart


def gym_schedule(gyms: Sequence[Gym]) -> Table:
    """Q11, the answer: each gym's week as observed (Paris time) — when it was occupied,
    when it was heated or lit, and the hours heated or lit with nobody in, to take out of
    its programme."""
    rows = []
    for gym in sorted(gyms, key=lambda g: (g.commune, g.name)):
        for day, (occupied, active) in week_schedule(gym.hours).items():
            wasted = sorted(set(active) - set(occupied))
            rows.append((gym.id, gym.name, f"hdash.weekday.{day}", hour_ranges(occupied),
                         hour_ranges(active), hour_ranges(wasted)))
    return Table(headers=("dash.col.id", "equipment.name", "hdash.col.weekday",
                          "hdash.col.occupied_hours", "hdash.col.active_hours",
                          "hdash.col.wasted_hours"), rows=rows, link_column=0)


def pv_board(meters: Sequence[Meter], tariffs: Tariffs) -> tuple[Table, Chart]:
    """Q12: PV production per commune and month, and per EPCI and month."""
    groups: dict[tuple[str, str], list[Meter]] = {}
    for m in meters:
        groups.setdefault((m.epci, m.commune), []).append(m)
    by_epci: dict[tuple[str, str], list[Meter]] = {}
    for m in meters:
        by_epci.setdefault((m.epci, ALL_COMMUNES), []).append(m)
    rows = []
    # each commune, then each EPCI as a whole (sorted last among its communes)
    for (epci, commune), group in [*sorted(groups.items()), *sorted(by_epci.items())]:
        peak = sum(m.peak_kw or 0.0 for m in group)
        for month, kwh in per_month(sorted(_sum_days(group).items())).items():
            rows.append((epci, commune, month, len(group), round(peak, 1), round(kwh, 1),
                         round(kwh / peak, 1) if peak else None))
    rows.sort(key=lambda r: (r[2], r[0], r[1] == ALL_COMMUNES, r[1]))
    total = sum(m.total for m in meters)
    peak = sum(m.peak_kw or 0.0 for m in meters)
    table = Table(
        headers=("area.epci", "equipment.commune", "hdash.col.month", "hdash.col.installations",
                 "hdash.col.kwp", "hdash.col.kwh_produced", "hdash.col.kwh_per_kwp"),
        rows=rows,
        figures=[("hdash.col.installations", len(meters)), ("hdash.col.kwp", round(peak, 1)),
                 ("hdash.fig.kwh_year", round(total, 1)),
                 ("hdash.col.kwh_per_kwp", round(total / peak, 1) if peak else None)],
    )
    return table, _daily_chart("kWh", [("hdash.series.produced", _sum_days(meters))])


def heat_board(meters: Sequence[Meter], tariffs: Tariffs) -> tuple[Table, Chart]:
    """Q13: heat delivered by each heat network, per month of the year."""
    rows = []
    for m in sorted(meters, key=lambda m: (m.commune, m.name)):
        for month, kwh in per_month(m.days).items():
            days = [q for d, q in m.days if d.startswith(month)]
            rows.append((m.id, m.name, m.commune, month, round(kwh / 1000, 3), len(days),
                         round(max(days), 1), round(kwh / len(days), 1)))
    total = sum(m.total for m in meters)
    all_days = _sum_days(meters)
    table = Table(
        headers=("dash.col.id", "equipment.name", "equipment.commune", "hdash.col.month",
                 "hdash.col.mwh_delivered", "hdash.col.days", "hdash.col.peak_day_kwh",
                 "hdash.col.mean_day_kwh"),
        rows=rows,
        figures=[("hdash.fig.networks", len(meters)),
                 ("hdash.fig.mwh_year", round(total / 1000, 3)),
                 ("hdash.col.peak_day_kwh", round(max(all_days.values()), 1) if all_days
                  else None),
                 ("hdash.col.mean_day_kwh", round(total / len(all_days), 1) if all_days
                  else None)],
        link_column=0,
    )
    return table, _daily_chart("kWh", [("hdash.series.delivered", all_days)])


def bill_board(meters: Sequence[Meter], tariffs: Tariffs) -> tuple[Table, Chart]:
    """Q15: electricity and gas used this year by each meter, and its cost."""
    rows = []
    kwh_by = {"electricity": 0.0, "gas": 0.0}
    eur_by = {"electricity": 0.0, "gas": 0.0}
    daily: dict[str, dict[str, float]] = {"electricity": {}, "gas": {}}
    for m in sorted(meters, key=lambda m: (m.commune, m.kind, m.name)):
        gas = m.kind == "gas"
        factor = tariffs.gas_kwh_per_m3 if gas else 1.0
        kwh = m.total * factor
        eur = cost(kwh, tariffs.gas_eur_kwh if gas else tariffs.electricity_eur_kwh,
                   tariffs.gas_subscription_eur_year if gas
                   else tariffs.electricity_subscription_eur_year, len(m.days))
        rows.append((m.id, m.name, m.commune, f"hdash.energy.{m.kind}", round(m.total, 3),
                     "m³" if gas else "kWh", round(kwh, 1), round(eur, 2)))
        kwh_by[m.kind] += kwh
        eur_by[m.kind] += eur
        for day, q in m.days:
            daily[m.kind][day] = daily[m.kind].get(day, 0.0) + q * factor
    table = Table(
        headers=("dash.col.id", "equipment.name", "equipment.commune", "hdash.col.energy",
                 "hdash.col.quantity", "hdash.col.unit", "hdash.col.kwh", "hdash.col.eur"),
        rows=rows,
        figures=[("hdash.fig.electricity_kwh", round(kwh_by["electricity"], 1)),
                 ("hdash.fig.electricity_eur", round(eur_by["electricity"], 2)),
                 ("hdash.fig.gas_kwh", round(kwh_by["gas"], 1)),
                 ("hdash.fig.gas_eur", round(eur_by["gas"], 2)),
                 ("hdash.fig.total_eur", round(sum(eur_by.values()), 2))],
        link_column=0,
    )
    chart = _daily_chart("kWh", [("hdash.energy.electricity", daily["electricity"]),
                                 ("hdash.energy.gas", daily["gas"])])
    return table, chart


HISTORY_BOARDS: Final[tuple[HistoryBoard, ...]] = (
    HistoryBoard("gymnases", 11, ("gym",), gym_board, gym_schedule),
    HistoryBoard("photovoltaique", 12, ("pv",), pv_board),
    HistoryBoard("reseaux-chaleur", 13, ("heat",), heat_board),
    HistoryBoard("consommations", 15, ("electricity", "gas"), bill_board),
)
HISTORY_BY_SLUG: Final = {b.slug: b for b in HISTORY_BOARDS}
