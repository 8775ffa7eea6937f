"""Decoded keys of imported codecs -> canonical quantities. Pure.

Public codecs name the same quantity in many ways (``temperature``, ``temp``,
``TempC``...). A key is recognised when, lower-cased and stripped of ``_ - .``
and spaces, it is one of the aliases below, each tied to a canonical quantity
with its Smart Data Model attribute, UN/CEFACT unit and physical range. Only
quantities whose unit is conventional enough to be taken for granted are
listed (a ``distance`` may be in mm or m: it is left out). Keys that match
nothing are reported as unmapped; the model keeps the recognised ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from bocage.codecs.model import ASSET, DEVICE, Quantity


@dataclass(frozen=True, slots=True)
class Canonical:
    attribute: str
    unit: str | None
    minimum: float | None
    maximum: float | None
    scale: float = 1.0
    target: str = ASSET


TEMPERATURE: Final = Canonical("temperature", "CEL", -60, 150)
HUMIDITY: Final = Canonical("relativeHumidity", "P1", 0, 100)
CO2: Final = Canonical("co2", "59", 0, 40000)                  # ppm
BATTERY_PERCENT: Final = Canonical("batteryLevel", "C62", 0, 100, 0.01, DEVICE)
BATTERY_VOLTS: Final = Canonical("batteryVoltage", "VLT", 0, 60, 1.0, DEVICE)
PRESSURE: Final = Canonical("atmosphericPressure", "A97", 300, 1100)  # hPa
ILLUMINANCE: Final = Canonical("illuminance", "LUX", 0, 200000)
PM25: Final = Canonical("pm25", "GQ", 0, 5000)                # µg/m³
PM10: Final = Canonical("pm10", "GQ", 0, 5000)
TVOC: Final = Canonical("tvoc", "61", 0, 100000)              # ppb

ALIASES: Final[Mapping[str, Canonical]] = {
    **dict.fromkeys(("temperature", "temp", "tempc", "temperaturec", "airtemperature",
                     "ambienttemperature", "tempcsht", "tempcds"), TEMPERATURE),
    **dict.fromkeys(("humidity", "hum", "relativehumidity", "rh", "humiditypercent",
                     "humsht", "airhumidity"), HUMIDITY),
    **dict.fromkeys(("co2", "co2ppm", "carbondioxide", "co2concentration"), CO2),
    **dict.fromkeys(("battery", "batterylevel", "batterypercent", "batterypercentage",
                     "batpct", "batterypct"), BATTERY_PERCENT),
    **dict.fromkeys(("batteryvoltage", "batv", "vbat", "batteryv", "batvoltage",
                     "voltagebattery"), BATTERY_VOLTS),
    **dict.fromkeys(("pressure", "barometricpressure", "airpressure", "atmosphericpressure"),
                    PRESSURE),
    **dict.fromkeys(("illuminance", "light", "lux", "luminosity", "lightlux"), ILLUMINANCE),
    **dict.fromkeys(("pm25", "pm2p5", "pm2dot5"), PM25),
    **dict.fromkeys(("pm10",), PM10),
    **dict.fromkeys(("tvoc", "voc"), TVOC),
}


def normal_key(key: str) -> str:
    return "".join(c for c in key.lower() if c.isalnum())


def recognise(key: str, samples: Iterable[Any] = ()) -> Canonical | None:
    """The canonical quantity of a decoded key, if it is recognised.

    ``battery`` means a percentage, unless every sample is a small non-integer
    (a voltage, 3.6): then it is read as volts.
    """
    canonical = ALIASES.get(normal_key(key))
    if canonical is BATTERY_PERCENT:
        numbers = [s for s in samples if isinstance(s, int | float) and not isinstance(s, bool)]
        if numbers and all(0 < s <= 5 for s in numbers) and any(s % 1 for s in numbers):
            return BATTERY_VOLTS
    return canonical


@dataclass(frozen=True, slots=True)
class KeyMapping:
    quantities: tuple[Quantity, ...]
    #: numeric or boolean keys the table does not know (reported, not stored)
    unmapped: tuple[str, ...]


def map_decoded(examples: Iterable[Mapping[str, Any]]) -> KeyMapping:
    """Quantities for the top-level keys seen in decoded examples (``data`` objects)."""
    samples: dict[str, list[Any]] = {}
    for data in examples:
        for key, value in data.items():
            samples.setdefault(key, []).append(value)
    quantities: list[Quantity] = []
    unmapped: list[str] = []
    taken: set[str] = set()
    for key in sorted(samples):
        canonical = recognise(key, samples[key])
        if canonical is None or canonical.attribute in taken:
            unmapped.append(key)
            continue
        taken.add(canonical.attribute)
        quantities.append(Quantity(key=key, attribute=canonical.attribute, unit=canonical.unit,
                                   minimum=canonical.minimum, maximum=canonical.maximum,
                                   scale=canonical.scale, target=canonical.target))
    return KeyMapping(tuple(quantities), tuple(unmapped))
