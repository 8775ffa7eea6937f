"""River levels (floods), outdoor air, gym attendance and camera heartbeats. Pure
(see :mod:`.profiles` for the conventions)."""

from __future__ import annotations

import math
from typing import Any

from bocage.simulator import sun, weather
from bocage.simulator.rand import between, chance, unit
from bocage.simulator.territory import SimDevice, river_config

DAY = 86_400.0
HOUR = 3600.0


def river_height(dev: SimDevice, t: float, seed: int, flood_at: float | None) -> float:
    """Water height (m): higher in winter, swollen by rainy days; a flood rises towards
    above the danger level with a 3-hour time constant."""
    config = river_config(dev.dev_eui, seed)
    doy = (t / DAY) % 365.25
    base = (between(0.5, 1.1, seed, "river", dev.dev_eui)
            + 0.3 * math.cos(2 * math.pi * (doy - 40) / 365.25)
            + 0.4 * weather.clouds(t - 6 * HOUR, seed, dev.insee[:2]))
    if flood_at is not None and t >= flood_at:
        crest = config["dangerLevel"] + 0.4
        base += (crest - base) * (1 - math.exp(-(t - flood_at) / (3 * HOUR)))
    return base


def river(dev: SimDevice, t: float, seed: int, battery: int,
          flood_at: float | None) -> dict[str, Any]:
    reference = river_config(dev.dev_eui, seed)["referenceLevel"]
    height = river_height(dev, t, seed, flood_at)
    return {"measuredDistance": round(max(0.05, reference - height), 3), "battery": battery}


def air(dev: SimDevice, t: float, seed: int, battery: int) -> dict[str, Any]:
    """Particles worse on cold days (wood heating) and at rush hours, NO2 with traffic."""
    outdoor = weather.temperature(t, seed, dev.insee[:2])
    hour = sun.local(t).hour
    rush = 1.0 if hour in (7, 8, 17, 18) else 0.0
    smooth = weather.clouds(t, seed, "air" + dev.insee)
    pm25 = 5 + 12 * smooth + 0.8 * max(0.0, 10 - outdoor) + 6 * rush
    return {"pm25": round(pm25, 1), "pm10": round(pm25 * between(1.5, 2.1, seed, "pm", t), 1),
            "no2": round(10 + 25 * rush + 10 * smooth),
            "temperature": round(outdoor, 2),
            "humidity": round(55 + 30 * smooth), "battery": battery}


def attendance(t: float) -> float:
    """Gym use: weekday evenings, Wednesday afternoons, Saturday mornings."""
    lt = sun.local(t)
    hour, day = lt.hour, lt.weekday()
    if day < 5 and 17 <= hour < 22:
        return 1.0
    if day == 2 and 13 <= hour < 17:
        return 0.8
    if day == 5 and 9 <= hour < 13:
        return 0.9
    if day < 5 and 9 <= hour < 16:
        return 0.3  # school classes
    return 0.0


def people(dev: SimDevice, t: float, seed: int, battery: int, interval: float,
           ) -> dict[str, Any]:
    capacity = between(25, 60, seed, "gym", dev.dev_eui)

    def inside(at: float) -> int:
        share = attendance(at)
        return 0 if share == 0 else round(capacity * share * between(
            0.6, 1.0, seed, "in", dev.dev_eui, math.floor(at / 1800)))

    now, before = inside(t), inside(t - interval)
    churn = 0 if now == 0 or before == 0 else round(now * 0.2)
    return {"occupancy": now, "entries": max(0, now - before) + churn,
            "exits": max(0, before - now) + churn, "battery": battery}


def camera(dev: SimDevice, t: float, seed: int) -> dict[str, Any]:
    """A heartbeat: uptime since the last monthly restart; a recording fault now and then."""
    window = 30 * DAY
    k = math.floor(t / window)
    restart = (k + unit(seed, "reboot", dev.dev_eui, k)) * window
    if restart > t:
        restart -= window
    fault = chance(0.005, seed, "camfault", dev.dev_eui, math.floor(t / DAY))
    return {"state": "recordingFault" if fault else "ok", "battery": 100,
            "uptime": min(65_535, round((t - restart) / HOUR))}
