"""Sun position and French legal time, from the clock alone. Pure.

Low-precision solar formulas (the Astronomical Almanac's, good to about 0.01
degree over 1950-2050): more than enough to switch street lights at dusk.
"""

from __future__ import annotations

import datetime as dt
import math

#: J2000.0 (2000-01-01 12:00 UTC) as a Unix time
_J2000 = 946_728_000.0


def elevation(lon: float, lat: float, t: float) -> float:
    """The sun's elevation above the horizon, in degrees, at Unix time ``t``."""
    d = (t - _J2000) / 86_400.0
    g = math.radians((357.529 + 0.98560028 * d) % 360)
    q = (280.459 + 0.98564736 * d) % 360
    ecl_lon = math.radians(q + 1.915 * math.sin(g) + 0.020 * math.sin(2 * g))
    obliquity = math.radians(23.439 - 0.00000036 * d)
    ra = math.atan2(math.cos(obliquity) * math.sin(ecl_lon), math.cos(ecl_lon))
    dec = math.asin(math.sin(obliquity) * math.sin(ecl_lon))
    gmst_deg = (280.46061837 + 360.98564736629 * d) % 360
    hour_angle = math.radians(gmst_deg + lon) - ra
    phi = math.radians(lat)
    s = math.sin(phi) * math.sin(dec) + math.cos(phi) * math.cos(dec) * math.cos(hour_angle)
    return math.degrees(math.asin(max(-1.0, min(1.0, s))))


def crossings(lon: float, lat: float, day_start: float, threshold: float = -0.833,
              ) -> tuple[float | None, float | None]:
    """(rise, set) Unix times when the sun crosses ``threshold`` degrees during the 24 h
    from ``day_start`` (None when it does not: polar day or night). -0.833 is sunrise and
    sunset; -6 civil dawn and dusk."""
    step = 600.0
    rise = sett = None
    prev_t, prev = day_start, elevation(lon, lat, day_start) - threshold
    t = day_start
    while t < day_start + 86_400:
        t += step
        cur = elevation(lon, lat, t) - threshold
        if (prev < 0) != (cur < 0):
            lo, hi = prev_t, t
            for _ in range(20):  # bisect to well under a second
                mid = (lo + hi) / 2
                if (elevation(lon, lat, mid) - threshold < 0) == (prev < 0):
                    lo = mid
                else:
                    hi = mid
            if prev < 0 and rise is None:
                rise = hi
            elif prev >= 0 and sett is None:
                sett = hi
        prev_t, prev = t, cur
    return rise, sett


def _last_sunday(year: int, month: int) -> dt.date:
    last = dt.date(year, month + 1, 1) - dt.timedelta(days=1)
    return last - dt.timedelta(days=(last.weekday() + 1) % 7)


def paris_offset(t: float) -> int:
    """Seconds east of UTC of French legal time (CET, CEST from the last Sunday of March
    01:00 UTC to the last Sunday of October 01:00 UTC)."""
    year = dt.datetime.fromtimestamp(t, dt.UTC).year
    start = dt.datetime.combine(_last_sunday(year, 3), dt.time(1), dt.UTC).timestamp()
    end = dt.datetime.combine(_last_sunday(year, 10), dt.time(1), dt.UTC).timestamp()
    return 7200 if start <= t < end else 3600


def local(t: float) -> dt.datetime:
    """French legal time at Unix time ``t``, as a naive datetime (hour, weekday...)."""
    return dt.datetime.fromtimestamp(t + paris_offset(t), dt.UTC).replace(tzinfo=None)
