"""Simulated weather: outdoor temperature and cloud cover, smooth in time. Pure.

Temperature: a seasonal mean (coldest mid-January) plus a daily swing (warmest
mid-afternoon) plus a day-to-day anomaly; clouds: a value in [0, 1] per 3-hour
slot and department, interpolated. Both are functions of time and the seed only.
"""

from __future__ import annotations

import math

from bocage.simulator.rand import unit


def _smooth(seed: int, key: str, t: float, period: float) -> float:
    """A value in [0, 1) per ``period`` slot, linearly interpolated between slots."""
    slot = t / period
    k = math.floor(slot)
    frac = slot - k
    return (1 - frac) * unit(seed, key, k) + frac * unit(seed, key, k + 1)


def temperature(t: float, seed: int, area: str = "") -> float:
    """Outdoor air temperature in °C."""
    day_of_year = (t / 86_400.0) % 365.25
    seasonal = 11.5 - 9.5 * math.cos(2 * math.pi * (day_of_year - 15) / 365.25)
    hour = (t / 3600.0 + 1) % 24  # roughly solar time in France
    daily = 4.5 * math.cos(2 * math.pi * (hour - 15) / 24)
    anomaly = 8 * (_smooth(seed, "temp:" + area, t, 86_400) - 0.5)
    return seasonal + daily + anomaly


def clouds(t: float, seed: int, area: str = "") -> float:
    """Cloud cover in [0, 1]."""
    return _smooth(seed, "clouds:" + area, t, 3 * 3600)
