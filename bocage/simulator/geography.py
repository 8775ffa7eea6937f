"""Simulated positions: departments' rough extents, communes inside, equipment nearby. Pure.

The commune data have no geometry, so positions are *simulated*: each department
gets a rough box (centre and half-height in degrees, approximate figures), each
EPCI a centre inside that box, each commune a point around its EPCI's centre, and
each piece of equipment a point within a few hundred metres of its commune's
centre. Everything is derived from hashes of the codes and the seed, so the same
seed always places things at the same spot.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bocage.simulator.rand import unit

#: department -> (longitude, latitude, half-height in degrees of latitude): rough
#: centre and size, enough to keep simulated communes inside or near the department
_DEPARTEMENTS: dict[str, tuple[float, float, float]] = {
    "01": (5.45, 46.07, 0.40), "02": (3.56, 49.56, 0.45), "03": (3.19, 46.39, 0.35),
    "04": (6.24, 44.10, 0.40), "05": (6.26, 44.66, 0.35), "06": (7.12, 43.94, 0.30),
    "07": (4.42, 44.75, 0.40), "08": (4.64, 49.62, 0.35), "09": (1.50, 42.92, 0.25),
    "10": (4.16, 48.30, 0.30), "11": (2.41, 43.10, 0.30), "12": (2.68, 44.28, 0.40),
    "13": (5.09, 43.54, 0.20), "14": (-0.36, 49.10, 0.25), "15": (2.67, 45.05, 0.35),
    "16": (0.20, 45.72, 0.35), "17": (-0.67, 45.78, 0.45), "18": (2.49, 47.06, 0.45),
    "19": (1.88, 45.36, 0.30), "2A": (8.99, 41.86, 0.30), "2B": (9.21, 42.39, 0.35),
    "21": (4.77, 47.42, 0.40), "22": (-2.86, 48.44, 0.25), "23": (2.02, 46.09, 0.30),
    "24": (0.74, 45.10, 0.40), "25": (6.36, 47.17, 0.35), "26": (5.17, 44.68, 0.45),
    "27": (1.03, 49.11, 0.30), "28": (1.37, 48.39, 0.40), "29": (-4.10, 48.26, 0.35),
    "30": (4.18, 43.99, 0.35), "31": (1.17, 43.36, 0.50), "32": (0.45, 43.69, 0.35),
    "33": (-0.58, 44.83, 0.55), "34": (3.37, 43.58, 0.30), "35": (-1.64, 48.15, 0.40),
    "36": (1.58, 46.78, 0.40), "37": (0.69, 47.26, 0.30), "38": (5.58, 45.26, 0.40),
    "39": (5.70, 46.73, 0.45), "40": (-0.78, 43.97, 0.40), "41": (1.43, 47.62, 0.35),
    "42": (4.17, 45.73, 0.45), "43": (3.81, 45.13, 0.30), "44": (-1.68, 47.36, 0.35),
    "45": (2.34, 47.91, 0.30), "46": (1.61, 44.62, 0.30), "47": (0.46, 44.37, 0.30),
    "48": (3.50, 44.52, 0.30), "49": (-0.56, 47.39, 0.30), "50": (-1.33, 49.08, 0.55),
    "51": (4.24, 48.95, 0.40), "52": (5.23, 48.11, 0.45), "53": (-0.66, 48.15, 0.35),
    "54": (6.16, 48.79, 0.50), "55": (5.38, 48.99, 0.50), "56": (-2.81, 47.85, 0.30),
    "57": (6.66, 49.04, 0.35), "58": (3.50, 47.12, 0.40), "59": (3.22, 50.45, 0.40),
    "60": (2.43, 49.41, 0.30), "61": (0.13, 48.62, 0.30), "62": (2.29, 50.49, 0.30),
    "63": (3.14, 45.73, 0.45), "64": (-0.76, 43.26, 0.35), "65": (0.16, 43.05, 0.35),
    "66": (2.52, 42.60, 0.25), "67": (7.55, 48.67, 0.50), "68": (7.27, 47.86, 0.40),
    "69": (4.64, 45.87, 0.35), "70": (6.09, 47.64, 0.35), "71": (4.54, 46.64, 0.45),
    "72": (0.22, 47.99, 0.35), "73": (6.44, 45.48, 0.35), "74": (6.43, 46.03, 0.30),
    "75": (2.35, 48.86, 0.05), "76": (1.03, 49.66, 0.30), "77": (2.93, 48.62, 0.40),
    "78": (1.84, 48.81, 0.25), "79": (-0.32, 46.56, 0.45), "80": (2.28, 49.96, 0.30),
    "81": (2.17, 43.79, 0.35), "82": (1.28, 44.08, 0.25), "83": (6.22, 43.46, 0.30),
    "84": (5.19, 43.99, 0.25), "85": (-1.30, 46.67, 0.35), "86": (0.46, 46.56, 0.45),
    "87": (1.23, 45.89, 0.35), "88": (6.38, 48.20, 0.35), "89": (3.56, 47.84, 0.40),
    "90": (6.93, 47.63, 0.12), "91": (2.24, 48.52, 0.18), "92": (2.25, 48.84, 0.05),
    "93": (2.48, 48.91, 0.06), "94": (2.47, 48.78, 0.06), "95": (2.13, 49.08, 0.15),
    "971": (-61.55, 16.17, 0.20), "972": (-61.02, 14.64, 0.15),
    "973": (-53.24, 3.92, 1.50), "974": (55.54, -21.13, 0.20), "976": (45.15, -12.82, 0.08),
}
#: metres per degree of latitude
_M_PER_DEG = 111_320.0


@dataclass(frozen=True, slots=True)
class Box:
    west: float
    south: float
    east: float
    north: float

    def contains(self, lon: float, lat: float) -> bool:
        return self.west <= lon <= self.east and self.south <= lat <= self.north


def departement_box(dep: str) -> Box:
    """The department's rough extent; KeyError for a department we have no figure for."""
    lon, lat, half = _DEPARTEMENTS[dep]
    half_lon = half / math.cos(math.radians(lat))
    return Box(lon - half_lon, lat - half, lon + half_lon, lat + half)


def known(dep: str) -> bool:
    return dep in _DEPARTEMENTS


def _in_box(box: Box, seed: int, key: str, margin: float) -> tuple[float, float]:
    w = (box.east - box.west) * (1 - 2 * margin)
    h = (box.north - box.south) * (1 - 2 * margin)
    return (box.west + (box.east - box.west) * margin + w * unit(seed, key, "x"),
            box.south + (box.north - box.south) * margin + h * unit(seed, key, "y"))


def epci_centre(box: Box, seed: int, siren: str) -> tuple[float, float]:
    return _in_box(box, seed, "epci:" + siren, 0.2)


def commune_centre(box: Box, seed: int, insee: str,
                   epci_at: tuple[float, float] | None) -> tuple[float, float]:
    """Around its EPCI's centre (within ~15 km), clamped to the department's box."""
    if epci_at is None:
        return _in_box(box, seed, "commune:" + insee, 0.05)
    lon, lat = offset(epci_at, seed, "commune:" + insee, 15_000)
    return (min(max(lon, box.west), box.east), min(max(lat, box.south), box.north))


def offset(at: tuple[float, float], seed: int, key: str, radius_m: float) -> tuple[float, float]:
    """A point within ``radius_m`` of ``at`` (uniform over the disc)."""
    r = radius_m * math.sqrt(unit(seed, key, "r"))
    theta = 2 * math.pi * unit(seed, key, "t")
    dlat = r * math.sin(theta) / _M_PER_DEG
    dlon = r * math.cos(theta) / (_M_PER_DEG * math.cos(math.radians(at[1])))
    return (round(at[0] + dlon, 6), round(at[1] + dlat, 6))


def distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Equirectangular distance, good to a fraction of a percent at these scales."""
    mean_lat = math.radians((a[1] + b[1]) / 2)
    dx = (b[0] - a[0]) * math.cos(mean_lat) * _M_PER_DEG
    dy = (b[1] - a[1]) * _M_PER_DEG
    return math.hypot(dx, dy)
