"""Dashboards for elected officials: the public-authority questions, as tables. Pure.

Each dashboard turns the equipment summaries of an area (the territory, an EPCI
or a commune) into a :class:`Table` — headers and rows of plain values — that
the page renders and the CSV export writes, so what is on screen and what is
exported are the same figures.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from bocage.web.equipment import Equipment, by_domain, tally

#: CO2 thresholds (ppm) for classrooms: the French decree of 2022 on indoor air
#: (measure above 800, act above 1,500); the issue's alarm bar is 1,500
CO2_GOOD: Final = 800
CO2_ACT: Final = 1500


@dataclass(frozen=True, slots=True)
class Table:
    #: message keys of the column headers
    headers: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    #: message keys of headline figures: (key, value)
    figures: list[tuple[str, Any]] = field(default_factory=list)
    #: index of a column holding an equipment id to link to, if any
    link_column: int | None = None
    #: index of a column holding a status to show as a badge, if any
    status_column: int | None = None


@dataclass(frozen=True, slots=True)
class Dashboard:
    slug: str
    question: int
    build: Callable[[Sequence[Equipment]], Table]


def _value(item: Equipment, name: str) -> Any:
    for v in item.values:
        if v.name == name:
            return v.value
    return None


def _observed(item: Equipment, name: str) -> str | None:
    for v in item.values:
        if v.name == name:
            return v.observed_at
    return None


def co2_level(ppm: object) -> str:
    """``good`` (≤ 800 ppm), ``medium`` (≤ 1,500), ``bad`` (above), ``unknown``."""
    if not isinstance(ppm, int | float) or isinstance(ppm, bool):
        return "unknown"
    return "good" if ppm <= CO2_GOOD else "medium" if ppm <= CO2_ACT else "bad"


def classroom_co2(items: Sequence[Equipment]) -> Table:
    rooms = [i for i in items if i.type == "IndoorEnvironmentObserved"]
    rows = []
    for room in sorted(rooms, key=lambda r: (-(_num(_value(r, "co2")) or 0), r.name)):
        co2 = _value(room, "co2")
        rows.append((room.id, room.name, room.place.commune or "", co2,
                     _value(room, "temperature"), _value(room, "relativeHumidity"),
                     f"co2.{co2_level(co2)}", _observed(room, "co2")))
    levels = [co2_level(_value(r, "co2")) for r in rooms]
    return Table(
        headers=("dash.col.id", "equipment.name", "equipment.commune", "attr.co2",
                 "attr.temperature", "attr.relativeHumidity", "dash.col.air", "equipment.observed"),
        rows=rows,
        figures=[("dash.fig.rooms", len(rooms)),
                 ("co2.good", levels.count("good")),
                 ("co2.medium", levels.count("medium")),
                 ("co2.bad", levels.count("bad"))],
        link_column=0,
    )


def network_operating_rates(items: Sequence[Equipment]) -> Table:
    groups: dict[str, list[Equipment]] = {}
    for item in items:
        groups.setdefault(item.place.commune or "", []).append(item)
    rows = []
    for domain, t in by_domain(items).items():
        rows.append((f"domain.{domain}", t.total, t.ok, t.alarm, t.offline, t.maintenance,
                     t.operating_rate))
    total = tally(items)
    return Table(
        headers=("equipment.network", "tally.total", "status.ok", "status.alarm",
                 "status.offline", "status.maintenance", "tally.rate"),
        rows=rows,
        figures=[("overview.equipment", total.total), ("tally.rate", total.operating_rate)],
    )


def _status_list(items: Iterable[Equipment], extra: Callable[[Equipment], tuple[Any, ...]],
                 extra_headers: tuple[str, ...]) -> Table:
    chosen = sorted(items, key=lambda i: (i.status == "ok", i.place.commune or "", i.name))
    rows = [(i.id, i.name, i.place.commune or "", i.status, i.reason, *extra(i), i.last_seen)
            for i in chosen]
    t = tally(chosen)
    return Table(
        headers=("dash.col.id", "equipment.name", "equipment.commune", "equipment.status",
                 "equipment.reason", *extra_headers, "equipment.last_seen"),
        rows=rows,
        figures=[("overview.equipment", t.total), ("status.alarm", t.alarm),
                 ("status.offline", t.offline), ("tally.rate", t.operating_rate)],
        link_column=0, status_column=3,
    )


def lighting_status(items: Sequence[Equipment]) -> Table:
    return _status_list((i for i in items if i.domain == "lighting"),
                        lambda i: (_value(i, "powerState"), _value(i, "powerConsumption")),
                        ("attr.powerState", "attr.powerConsumption"))


def video_status(items: Sequence[Equipment]) -> Table:
    return _status_list((i for i in items if i.domain == "video"),
                        lambda i: (_value(i, "batteryLevel"),), ("attr.batteryLevel",))


def _num(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


DASHBOARDS: Final[tuple[Dashboard, ...]] = (
    Dashboard("co2-classes", 7, classroom_co2),
    Dashboard("reseaux", 8, network_operating_rates),
    Dashboard("eclairage", 9, lighting_status),
    Dashboard("videoprotection", 10, video_status),
)
BY_SLUG: Final = {d.slug: d for d in DASHBOARDS}


def to_csv(table: Table, header: Callable[[str], str], cell: Callable[[Any], str]) -> str:
    """The table as CSV (``;``-separated, as French spreadsheets expect), headers translated."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow([header(h) for h in table.headers])
    for row in table.rows:
        writer.writerow([cell(v) for v in row])
    return out.getvalue()
