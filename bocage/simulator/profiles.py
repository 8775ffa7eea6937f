"""What each simulated device measures at time t. Pure functions of time and the seed.

A profile returns the *decoded* values of its device model (the keys the model's
decoder outputs, which its encoder takes back), or None when the device is silent
at that moment. No state: a value at t depends only on (device, t, world), so a
live run, a backfill and a restart tell the same story. Cumulative quantities
(meter indexes, energy) therefore use closed forms.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bocage.simulator import energy, environment, sun, weather
from bocage.simulator import scenario as sc
from bocage.simulator.rand import between, chance, unit
from bocage.simulator.scenario import Incident, Scenario
from bocage.simulator.territory import SimDevice

DAY = 86_400.0
HOUR = 3600.0
#: 2020-01-01T00:00Z: the reference of closed-form meter indexes
T2020 = 1_577_836_800.0
#: 2024-01-01T00:00Z: background leaks are counted from there
T2024 = 1_704_067_200.0
YEAR = 365.25 * DAY

#: hourly shape of household water use (local hours 0..23; mean 1)
_WATER_SHAPE = (0.1, 0.05, 0.05, 0.05, 0.1, 0.3, 1.2, 2.4, 2.2, 1.4, 1.0, 1.1,
                1.5, 1.3, 0.9, 0.8, 0.9, 1.2, 1.6, 2.0, 1.9, 1.3, 0.9, 0.4)
_WATER_MEAN = sum(_WATER_SHAPE) / 24


@dataclass(frozen=True, slots=True)
class World:
    seed: int
    scenario: Scenario = field(default_factory=lambda: Scenario(0.0))
    _by_device: dict[str, dict[str, Incident]] = field(default_factory=dict)

    @classmethod
    def of(cls, seed: int, scenario: Scenario) -> World:
        by: dict[str, dict[str, Incident]] = {}
        for i in scenario.incidents:
            by.setdefault(i.dev_eui, {})[i.kind] = i
        return cls(seed, scenario, by)

    def incident(self, dev_eui: str, kind: str) -> Incident | None:
        return self._by_device.get(dev_eui, {}).get(kind)


Profile = Callable[[SimDevice, float, World], dict[str, Any] | None]


def battery(dev: SimDevice, t: float, w: World) -> int:
    """Battery %: drains linearly over the cell's life (4-10 years) from a random age."""
    life = between(4, 10, w.seed, "life", dev.dev_eui) * YEAR
    age0 = between(0, 0.85, w.seed, "age", dev.dev_eui) * life
    if w.incident(dev.dev_eui, sc.BATTERY) is not None:
        age0 = 0.93 * life  # nearly flat at the start of the run
    age = age0 + (t - w.scenario.start)
    return int(max(0, min(100, round(100 * (1 - age / life)))))


# ----------------------------------------------------------------- street light
def lamp_failed(dev: SimDevice, t: float, w: World) -> bool:
    scripted = w.incident(dev.dev_eui, sc.LAMP)
    if scripted is not None and t >= scripted.at:
        return True
    window = 10 * DAY  # background: 0.2 % of lamps fail per 10 days, repaired at its end
    k = math.floor(t / window)
    return (chance(0.002, w.seed, "lamp", dev.dev_eui, k)
            and t >= (k + unit(w.seed, "lampat", dev.dev_eui, k)) * window)


def streetlight(dev: SimDevice, t: float, w: World) -> dict[str, Any]:
    """On below -4° of sun elevation (dusk to dawn); dimmed to 40 % from 23:00 to
    05:00 local time; a failed lamp draws nothing and reports ``defectiveLamp``."""
    rated = between(35, 70, w.seed, "rated", dev.dev_eui)
    dark = sun.elevation(dev.at[0], dev.at[1], t) < -4
    hour = sun.local(t).hour
    dimming = 0 if not dark else (40 if hour >= 23 or hour < 5 else 100)
    failed = lamp_failed(dev, t, w)
    if dark and not failed:
        power = rated * dimming / 100 * between(0.97, 1.03, w.seed, "p", dev.dev_eui, t)
    else:
        power = 0.4  # the controller's own draw
    # lifetime energy: nights are 12 h +- 3.8 h over the year, at ~80 % of rated power
    d = (t - T2020) / DAY
    hours = 12 * d + 3.8 * 365.25 / (2 * math.pi) * math.sin(2 * math.pi * (d + 10) / 365.25)
    energy = rated * 0.8 * hours / 1000 + between(50, 400, w.seed, "e0", dev.dev_eui)
    return {"powerState": "on" if dark else "off",
            "lampStatus": "defectiveLamp" if failed else "ok",
            "dimmingLevel": dimming, "power": round(power, 1), "energy": round(energy, 3)}


# ----------------------------------------------------------------- water meter
def _leaks(dev: SimDevice, t: float, w: World) -> list[tuple[float, float, float]]:
    """(start, end, L/h) of the leaks begun before t: the scripted one (it began 24 h
    before it is flagged) and background night leaks (1 % of meters a month, 2-6 days)."""
    out = []
    scripted = w.incident(dev.dev_eui, sc.LEAK)
    if scripted is not None and t >= scripted.at - DAY:
        out.append((scripted.at - DAY, math.inf, 45.0))
    window = 30 * DAY
    for k in range(math.floor(T2024 / window), math.floor(t / window) + 1):
        if chance(0.01, w.seed, "leak", dev.dev_eui, k):
            start = k * window + math.floor(unit(w.seed, "leakday", dev.dev_eui, k) * 28) * DAY
            start += HOUR  # 02:00 / 03:00 local: a night leak
            if start <= t:
                length = between(2, 6, w.seed, "leaklen", dev.dev_eui, k) * DAY
                out.append((start, start + length,
                            between(8, 60, w.seed, "leakrate", dev.dev_eui, k)))
    return out


def water(dev: SimDevice, t: float, w: World) -> dict[str, Any]:
    """Household use (330 L/day x a household factor) shaped by the hour, plus leaks;
    the leak flag rises when the flow has not stopped for 24 h."""
    daily = 330 * between(0.4, 2.2, w.seed, "household", dev.dev_eui)
    hour = sun.local(t).hour
    noise = between(0.6, 1.4, w.seed, "flow", dev.dev_eui, math.floor(t / 900))
    flow = daily / 24 * _WATER_SHAPE[hour] / _WATER_MEAN * noise
    litres = between(50_000, 900_000, w.seed, "index0", dev.dev_eui) + daily * (t - T2020) / DAY
    leak = False
    for start, end, rate in _leaks(dev, t, w):
        litres += rate * (min(t, end) - start) / HOUR
        if t < end:
            flow += rate
            leak = leak or t - start >= DAY
    return {"index": round(litres / 1000, 3), "flow": round(flow), "leak": leak,
            "tamper": False, "battery": battery(dev, t, w)}


# ----------------------------------------------------------------- bin
def last_round(insee: str, t: float, seed: int) -> float:
    """Unix time of the last collection round: weekly, on the commune's day, 06:00 local."""
    weekday = math.floor(unit(seed, "round", insee) * 5)  # Monday..Friday
    lt = sun.local(t)
    days_back = (lt.weekday() - weekday) % 7
    if days_back == 0 and lt.hour < 6:
        days_back = 7
    midnight_local = t - (lt.hour * HOUR + lt.minute * 60 + lt.second + lt.microsecond / 1e6)
    return midnight_local - days_back * DAY + 6 * HOUR


def bin_fill(dev: SimDevice, t: float, w: World) -> float:
    """Fills at a bin's own pace (full in 4.5 to 10 days), emptied by the weekly round."""
    rate = between(0.10, 0.22, w.seed, "fill", dev.dev_eui)
    fill = min(1.0, rate * (t - last_round(dev.insee, t, w.seed)) / DAY)
    scripted = w.incident(dev.dev_eui, sc.BIN_FULL)
    if scripted is not None and t >= w.scenario.start:
        ramp = 0.7 + 0.3 * (t - w.scenario.start) / max(1.0, scripted.at - w.scenario.start)
        fill = max(fill, min(1.0, ramp))
    return fill


def waste_bin(dev: SimDevice, t: float, w: World) -> dict[str, Any]:
    return {"fillingLevel": round(bin_fill(dev, t, w), 3),
            "depth": float(dev.configuration.get("depth", 1.2)), "offset": 0.05,
            "temperature": round(weather.temperature(t, w.seed, dev.insee[:2])),
            "battery": battery(dev, t, w)}


# ----------------------------------------------------------------- classroom
_LESSONS = ((8.5, 11.5), (13.5, 16.5))
_OUTDOOR_CO2 = 420.0


def school_day(t: float) -> bool:
    """Monday, Tuesday, Thursday, Friday, outside July-August and Christmas week."""
    lt = sun.local(t)
    if lt.month in (7, 8) or (lt.month == 12 and lt.day >= 20) or (lt.month == 1 and
                                                                   lt.day < 3):
        return False
    return lt.weekday() in (0, 1, 3, 4)


def co2(dev: SimDevice, t: float, w: World) -> float:
    """ppm: rises towards the room's equilibrium during lessons, falls at breaks."""
    scripted = w.incident(dev.dev_eui, sc.CO2)
    if scripted is not None and t >= scripted.at:  # ventilation fails: class kept in
        before = co2(dev, scripted.at - 1, World(w.seed, w.scenario))
        return 2600 + (before - 2600) * math.exp(-(t - scripted.at) / 600)
    lt = sun.local(t)
    hour = lt.hour + lt.minute / 60 + lt.second / 3600
    level = _OUTDOOR_CO2
    if not school_day(t):
        return level + 10 * unit(w.seed, "co2", dev.dev_eui, math.floor(t / 600))
    peak = between(1100, 1900, w.seed, "room", dev.dev_eui)
    edges = [0.0]
    for a, b in _LESSONS:
        edges += [a, b]
    edges.append(24.0)
    for i in range(len(edges) - 1):
        start, end = edges[i], edges[i + 1]
        target, tau = (peak, 35 / 60) if i % 2 == 1 else (_OUTDOOR_CO2, 25 / 60)
        span = min(hour, end) - start
        if span <= 0:
            break
        level = target + (level - target) * math.exp(-span / tau)
    return level


def classroom(dev: SimDevice, t: float, w: World) -> dict[str, Any]:
    level = co2(dev, t, w)
    crowd = (level - _OUTDOOR_CO2) / 1500
    return {"co2": round(level), "temperature": round(19 + 2.2 * min(1.0, crowd)
                                                       + between(-0.3, 0.3, w.seed, "t",
                                                                 dev.dev_eui), 2),
            "humidity": round(42 + 12 * min(1.0, crowd)), "battery": battery(dev, t, w)}


# ----------------------------------------------------------------- carpool spot
def spot_busy(t: float) -> float:
    lt = sun.local(t)
    hour = lt.hour + lt.minute / 60
    if lt.weekday() >= 5:
        return 0.15
    if 7.5 <= hour < 18.5:
        return 0.8
    if 6.5 <= hour < 7.5:
        return 0.1 + 0.7 * (hour - 6.5)
    return 0.08


def parking(dev: SimDevice, t: float, w: World) -> dict[str, Any]:
    """Weekday commuters: busy from 07:30 to 18:30, light at weekends and at night."""
    slot = math.floor(t / 1200)
    occupied = unit(w.seed, "spot", dev.dev_eui, slot) < spot_busy(t)
    return {"status": "occupied" if occupied else "free", "battery": battery(dev, t, w)}


# ----------------------------------------------------------------- EV charging point
def ev(dev: SimDevice, t: float, w: World) -> dict[str, Any]:
    """Two sockets used by day; now and then a station is out of service for a day."""
    day = math.floor(t / DAY)
    if chance(0.01, w.seed, "evdown", dev.dev_eui, day):
        return {"status": "outOfService", "availableCapacity": 0}
    hour = sun.local(t).hour
    busy = 0.35 if 8 <= hour < 20 else 0.1
    slot = math.floor(t / 1800)
    used = sum(unit(w.seed, "ev", dev.dev_eui, slot, s) < busy for s in range(2))
    return {"status": "working", "availableCapacity": 2 - used}


def _flood_at(dev: SimDevice, w: World) -> float | None:
    flood = w.incident(dev.dev_eui, sc.FLOOD)
    return None if flood is None else flood.at


PROFILES: dict[str, Profile] = {
    "streetlight": streetlight, "water": water, "bin": waste_bin, "classroom": classroom,
    "parking": parking, "ev": ev,
    "pv": lambda d, t, w: energy.pv(d, t, w.seed),
    "energy": lambda d, t, w: energy.electricity(d, t, w.seed),
    "cabinet": lambda d, t, w: energy.electricity(d, t, w.seed, cabinet=True),
    "gymmeter": lambda d, t, w: energy.gym_electricity(d, t, w.seed),
    "gas": lambda d, t, w: energy.gas(d, t, w.seed, battery(d, t, w)),
    "heat": lambda d, t, w: energy.heat(d, t, w.seed, battery(d, t, w)),
    "level": lambda d, t, w: environment.river(d, t, w.seed, battery(d, t, w),
                                               _flood_at(d, w)),
    "air": lambda d, t, w: environment.air(d, t, w.seed, battery(d, t, w)),
    "people": lambda d, t, w: environment.people(d, t, w.seed, battery(d, t, w),
                                                 d.interval),
    "camera": lambda d, t, w: environment.camera(d, t, w.seed),
}


def values(dev: SimDevice, t: float, w: World) -> dict[str, Any] | None:
    """The device's reading at t, or None (silent, or no profile for its kind)."""
    silent = w.incident(dev.dev_eui, sc.SILENT)
    if silent is not None and t >= silent.at:
        return None
    profile = PROFILES.get(dev.kind)
    return None if profile is None else profile(dev, t, w)
