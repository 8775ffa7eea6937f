"""Energy profiles: PV production, electricity of public buildings and lighting cabinets,
the gym's electricity (heated and lit on a fixed programme), a school boiler's gas, heat
delivered by a heat network. Pure (see :mod:`.profiles` for the conventions)."""

from __future__ import annotations

import math
from typing import Any

from bocage.simulator import sun, weather
from bocage.simulator.rand import between
from bocage.simulator.territory import SimDevice, pv_peak_kw

DAY = 86_400.0
#: 2020-01-01T00:00Z: the reference of closed-form indexes
T2020 = 1_577_836_800.0
_YEAR_DAYS = 365.25


def _seasonal_integral(d: float, mean: float, amplitude: float, peak_day: float) -> float:
    """∫ (mean + amplitude cos(2π(x - peak_day)/365.25)) dx from 0 to d (days)."""
    w = 2 * math.pi / _YEAR_DAYS
    return mean * d + amplitude / w * (math.sin(w * (d - peak_day)) - math.sin(-w * peak_day))


def pv(dev: SimDevice, t: float, seed: int) -> dict[str, Any]:
    """Power follows the sun's height, cut by clouds; the index counts ~1,200 kWh per kWp
    a year (3.3 h a day at full power, 5.1 in June, 1.5 in December)."""
    peak = pv_peak_kw(dev.dev_eui, seed)
    elevation = sun.elevation(dev.at[0], dev.at[1], t)
    factor = max(0.0, math.sin(math.radians(elevation))) ** 1.2
    cover = weather.clouds(t, seed, dev.insee[:2])
    power = peak * 1000 * factor * (1 - 0.75 * cover) * 0.85
    d = (t - T2020) / DAY
    energy = peak * _seasonal_integral(d, 3.3, 1.8, 172) + between(0, 500, seed, "pv0",
                                                                  dev.dev_eui)
    temperature = weather.temperature(t, seed, dev.insee[:2]) + 25 * factor * (1 - cover)
    return {"inverterStatus": ["00-On sector"], "power": round(power),
            "current": round(power / 400, 2), "energy": round(energy, 3),
            "temperature": round(temperature)}


def occupied(t: float) -> float:
    """Share of a public building's activity: working hours on weekdays."""
    lt = sun.local(t)
    if lt.weekday() < 5 and 8 <= lt.hour < 18:
        return 1.0
    if lt.weekday() == 5 and 9 <= lt.hour < 12:
        return 0.6
    return 0.2


def electricity(dev: SimDevice, t: float, seed: int, cabinet: bool = False) -> dict[str, Any]:
    """A public building: base load with occupancy plus electric heating below 15 °C; a
    lighting cabinet: its 25 lights, on from dusk to dawn, dimmed after 23:00."""
    d = (t - T2020) / DAY
    if cabinet:
        lights_w = 25 * between(35, 70, seed, "cabinet", dev.dev_eui)
        dark = sun.elevation(dev.at[0], dev.at[1], t) < -4
        hour = sun.local(t).hour
        power = 0.0 if not dark else lights_w * (0.4 if hour >= 23 or hour < 5 else 1.0)
        hours = _seasonal_integral(d, 12, 3.8, -10)  # long nights around the winter solstice
        energy = lights_w * 0.8 * hours / 1000
        phase = "singlePhase"
    else:
        base = between(2_000, 9_000, seed, "base", dev.dev_eui)
        heating = between(300, 900, seed, "heat", dev.dev_eui)  # W per degree below 15 °C
        outdoor = weather.temperature(t, seed, dev.insee[:2])
        power = base * occupied(t) + heating * max(0.0, 15 - outdoor)
        # mean load ~0.45 of the base, heating ~(6 + 5 cos) degrees on average
        watt_days = 0.45 * base * d + heating * _seasonal_integral(d, 6, 5, 15)
        energy = watt_days * 24 / 1000
        phase = "threePhase"
    energy += between(100, 5_000, seed, "e0", dev.dev_eui)
    return {"phaseType": phase, "energy": round(energy, 3), "power": round(power)}


#: the gym's heating and lighting programme (local time): weekdays 07:00-22:00, Saturday
#: 08:00-18:00, 85 hours a week, set once and never matched to who uses the hall
GYM_PROGRAMME = {0: (7, 22), 1: (7, 22), 2: (7, 22), 3: (7, 22), 4: (7, 22), 5: (8, 18)}
_GYM_SHARE = 85 / 168


def gym_programmed(t: float) -> bool:
    """Whether the gym's programme heats and lights the hall at t."""
    lt = sun.local(t)
    hours = GYM_PROGRAMME.get(lt.weekday())
    return hours is not None and hours[0] <= lt.hour < hours[1]


def gym_electricity(dev: SimDevice, t: float, seed: int) -> dict[str, Any]:
    """A gym on electric heating: standby load, plus lights and heating (below 18 °C
    outside) while the programme runs, whether anyone is in the hall or not."""
    standby = between(300, 800, seed, "standby", dev.dev_eui)
    lights = between(3_000, 6_000, seed, "lights", dev.dev_eui)
    heating = between(400, 1_000, seed, "gymheat", dev.dev_eui)  # W per degree below 18 °C
    outdoor = weather.temperature(t, seed, dev.insee[:2])
    power = standby
    if gym_programmed(t):
        power += lights + heating * max(0.0, 18 - outdoor)
    d = (t - T2020) / DAY
    # programme share of the week; heating ~(9 + 6 cos) degrees below 18 on average
    watt_days = standby * d + _GYM_SHARE * (lights * d + heating * _seasonal_integral(d, 9, 6, 15))
    energy = watt_days * 24 / 1000 + between(100, 5_000, seed, "e0", dev.dev_eui)
    return {"phaseType": "threePhase", "energy": round(energy, 3), "power": round(power)}


def gas(dev: SimDevice, t: float, seed: int, battery: int) -> dict[str, Any]:
    """A school's gas boiler: heating below 16 °C outside during the heating season's
    days, hot water all year; the index counts m3 (about 10.5 kWh each)."""
    per_degree = between(0.15, 0.45, seed, "gas", dev.dev_eui)  # m3/h per degree below 16
    outdoor = weather.temperature(t, seed, dev.insee[:2])
    flow = per_degree * max(0.0, 16 - outdoor) + 0.1
    d = (t - T2020) / DAY
    m3 = (per_degree * _seasonal_integral(d, 5, 4.5, 15) + 0.1 * d) * 24
    return {"index": round(m3 + between(1_000, 20_000, seed, "g0", dev.dev_eui), 3),
            "flow": round(flow, 3), "tamper": False, "battery": battery}


def heat(dev: SimDevice, t: float, seed: int, battery: int) -> dict[str, Any]:
    """A heat network's boiler: power grows as it gets colder, plus hot water all year."""
    per_degree = between(8_000, 20_000, seed, "hnet", dev.dev_eui)
    outdoor = weather.temperature(t, seed, dev.insee[:2])
    power = per_degree * max(0.0, 17 - outdoor) + 20_000
    d = (t - T2020) / DAY
    energy = (per_degree * _seasonal_integral(d, 7, 6, 15) + 20_000 * d) * 24 / 1000
    flow = 62 + 0.8 * max(0.0, 17 - outdoor)
    return {"energy": round(energy + between(1e4, 1e5, seed, "h0", dev.dev_eui)),
            "power": round(power), "flowTemperature": round(flow, 2),
            "returnTemperature": round(flow - 15 - power / 20_000, 2), "battery": battery}
