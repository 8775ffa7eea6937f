"""What the hypervisor UI shows of one piece of equipment. Pure.

An equipment entity (a Smart Data Model entity fed by a device, or written
through the NGSI-LD API) is reduced to an :class:`Equipment`: its network
(domain), its status (ok, alarm, offline, maintenance), its place in the
territory (from its NGSI-LD ``scope``: ``/FR/<departement>/<EPCI>/<commune>``),
its position and its latest values with units. The rules are tables, so that a
new equipment type costs one line.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from bocage.domain.entity import ENTITY_KEYS, Entity

Status = Literal["ok", "alarm", "offline", "maintenance"]
STATUSES: Final[tuple[Status, ...]] = ("ok", "alarm", "offline", "maintenance")

#: network (domain) of each equipment type, by the type's local name
DOMAIN_OF_TYPE: Final[Mapping[str, str]] = {
    "Streetlight": "lighting",
    "StreetlightGroup": "lighting",
    "StreetlightControlCabinet": "lighting",
    "WaterMeter": "water",
    "WaterConsumptionObserved": "water",
    "WasteContainer": "waste",
    "Building": "buildings",
    "IndoorEnvironmentObserved": "buildings",
    "ACMeasurement": "buildings",
    "EnergyMeter": "buildings",
    "HeatMeter": "buildings",
    "GasMeter": "buildings",
    "PeopleCounter": "buildings",
    "CrowdFlowObserved": "buildings",
    "ParkingSpot": "parking",
    "ParkingSite": "parking",
    "OffStreetParking": "parking",
    "EVChargingStation": "ev",
    "PhotovoltaicMeasurement": "energy",
    "PhotovoltaicDevice": "energy",
    "AirQualityObserved": "air",
    "WaterObserved": "flood",
    "FloodMonitoring": "flood",
    "Camera": "video",
    "VideoCamera": "video",
}
DOMAINS: Final = ("lighting", "water", "waste", "buildings", "parking", "ev", "energy", "air",
                  "flood", "video")
#: types that are not equipment (the map and counts leave them out)
NOT_EQUIPMENT: Final = frozenset({"Device", "DeviceModel", "Alert", "Intervention",
                                  "AlarmRecipient"})

#: values of a status-like attribute that mean something is wrong
_FAULTY: Final = frozenset({
    "defectivelamp", "lampfailure", "faulty", "broken", "damaged", "outofservice", "error",
    "malfunction", "failure", "leak", "alarm", "alert", "faultedoccupied", "outoforder",
    "inoperative", "offline",
})
_MAINTENANCE: Final = frozenset({"maintenance", "undermaintenance", "inmaintenance",
                                 "withincident", "planned"})
#: attributes whose value says something about the equipment's state
_STATE_ATTRS: Final = ("status", "lampStatus", "operationalStatus", "deviceState", "state")
#: boolean attributes that raise an alarm when true
_ALARM_FLAGS: Final = ("leakDetected", "leak", "alarm", "floodAlert", "tamperAlert")

#: UN/CEFACT common codes -> the symbol shown on screen
UNIT_SYMBOLS: Final[Mapping[str, str]] = {
    "CEL": "°C", "KEL": "K", "P1": "%", "C62": "", "WTT": "W", "KWT": "kW", "KWH": "kWh",
    "MWH": "MWh", "WHR": "Wh", "59": "ppm", "61": "ppb", "GQ": "µg/m³", "MTR": "m", "CMT": "cm",
    "MMT": "mm", "MTQ": "m³", "LTR": "L", "L2": "L/min", "MQH": "m³/h", "A24": "cd/m²",
    "LUX": "lx", "HUR": "h", "SEC": "s", "MIN": "min", "A99": "bit", "2N": "dB", "VLT": "V",
    "AMP": "A", "E37": "pixel", "KMH": "km/h", "MTS": "m/s", "HP": "hPa", "A97": "hPa",
    "EA": "", "IE": "", "P5": "",
}


@dataclass(frozen=True, slots=True)
class Value:
    name: str
    iri: str
    value: Any
    unit: str  # symbol, "" when none
    observed_at: str | None


@dataclass(frozen=True, slots=True)
class Place:
    """Where an entity belongs in the territory, from its scope."""

    departement: str | None = None
    epci: str | None = None
    commune: str | None = None


@dataclass(frozen=True, slots=True)
class Equipment:
    id: str
    type: str
    domain: str
    status: Status
    reason: str  # why the status (an attribute and its value), "" for ok
    name: str
    place: Place
    lon: float | None
    lat: float | None
    last_seen: str | None
    values: tuple[Value, ...]
    device: str | None  # id of the Device entity behind it (refDevice)


def local_name(iri: str) -> str:
    """``https://smartdatamodels.org/dataModel.Streetlighting/Streetlight`` -> ``Streetlight``."""
    cut = max(iri.rfind("/"), iri.rfind("#"), iri.rfind(":"))
    return iri[cut + 1:] if cut >= 0 else iri


def place_of(scopes: Iterable[str]) -> Place:
    """The deepest territorial scope ``/FR/<dep>/<EPCI SIREN>/<INSEE>`` an entity carries."""
    best = Place()
    depth = 0
    for scope in scopes:
        parts = [p for p in scope.split("/") if p]
        if len(parts) < 2 or parts[0] != "FR" or len(parts) - 1 <= depth:
            continue
        depth = len(parts) - 1
        best = Place(parts[1], parts[2] if len(parts) > 2 else None,
                     parts[3] if len(parts) > 3 else None)
    return best


def domain_of(type_name: str) -> str:
    return DOMAIN_OF_TYPE.get(type_name, "other")


#: Device ``category`` values that make the device its own equipment: a video-protection
#: camera is a device and the thing the network supervises (Smart Data Models' Device
#: category ``multimedia``)
VIDEO_CATEGORIES: Final = frozenset({"multimedia", "camera", "videoCamera"})


def is_camera_device(entity: Entity) -> bool:
    """A Device entity that is a video-protection camera (its ``category``)."""
    if not any(local_name(t) == "Device" for t in entity.get("type", ())):
        return False
    for key, insts in entity.items():
        if key in ENTITY_KEYS or local_name(key) != "category" or not isinstance(insts, list):
            continue
        for inst in insts:
            value = inst.get("value") if isinstance(inst, dict) else None
            values = value if isinstance(value, list) else [value]
            if any(v in VIDEO_CATEGORIES for v in values):
                return True
    return False


def is_equipment(entity: Entity) -> bool:
    if not any(local_name(t) in NOT_EQUIPMENT for t in entity.get("type", ())):
        return True
    return is_camera_device(entity)


def _first(entity: Entity, names: Mapping[str, str], wanted: str) -> dict[str, Any] | None:
    iri = names.get(wanted)
    insts = entity.get(iri) if iri else None
    return insts[0] if insts else None


def _scalar(instance: Mapping[str, Any]) -> Any:
    for key in ("value", "object", "vocab", "json", "valueList", "objectList"):
        if key in instance:
            return instance[key]
    if "languageMap" in instance:
        langs = instance["languageMap"]
        return langs.get("fr") or next(iter(langs.values()), None) if isinstance(
            langs, dict) else None
    return None


def _norm(value: Any) -> str:
    text = local_name(value) if isinstance(value, str) else ""
    return "".join(c for c in text.lower() if c.isalnum())


def status_of(entity: Entity, names: Mapping[str, str], last_seen: str | None,
              now: dt.datetime, offline_after: dt.timedelta) -> tuple[Status, str]:
    """(status, reason). ``names`` maps short attribute names to the entity's IRIs."""
    for attr in _STATE_ATTRS:
        inst = _first(entity, names, attr)
        if inst is None:
            continue
        value = _scalar(inst)
        for item in value if isinstance(value, list) else [value]:
            key = _norm(item)
            if key in _MAINTENANCE:
                return "maintenance", f"{attr} = {local_name(str(item))}"
            if key in _FAULTY:
                return "alarm", f"{attr} = {local_name(str(item))}"
    for attr in _ALARM_FLAGS:
        inst = _first(entity, names, attr)
        if inst is not None and _scalar(inst) is True:
            return "alarm", f"{attr}"
    filling = _first(entity, names, "fillingLevel")
    threshold = _first(entity, names, "binFullnessThreshold")
    if filling is not None and isinstance(_scalar(filling), int | float):
        level = float(_scalar(filling))
        limit = _scalar(threshold) if threshold is not None else None
        # fillingLevel is a ratio (0..1); the threshold is a percentage in the model
        limit_ratio = float(limit) / 100 if isinstance(limit, int | float) else 0.9
        if level >= limit_ratio:
            return "alarm", f"fillingLevel = {round(level * 100)} %"
    if last_seen is not None:
        try:
            seen = dt.datetime.fromisoformat(last_seen.replace("Z", "+00:00"))
        except ValueError:
            seen = None
        if seen is not None and now - seen > offline_after:
            return "offline", f"last seen {last_seen}"
    return "ok", ""


def latest_observation(entity: Entity) -> str | None:
    """The newest ``observedAt`` among the entity's attributes (ISO strings sort as instants)."""
    best: str | None = None
    for key, insts in entity.items():
        if key in ENTITY_KEYS or not isinstance(insts, list):
            continue
        for inst in insts:
            at = inst.get("observedAt") if isinstance(inst, dict) else None
            if isinstance(at, str) and (best is None or at > best):
                best = at
    return best


def summarize(entity: Entity, compact: Any, now: dt.datetime,
              offline_after: dt.timedelta) -> Equipment:
    """``compact`` turns an IRI into its short name (a Terms' ``compact``)."""
    names: dict[str, str] = {}
    for key in entity:
        if key not in ENTITY_KEYS:
            names.setdefault(local_name(compact(key)), key)
    type_name = local_name(compact(entity["type"][0])) if entity.get("type") else "?"
    if type_name == "Device" and is_camera_device(entity):
        type_name = "Camera"
    last_seen = latest_observation(entity)
    status, reason = status_of(entity, names, last_seen, now, offline_after)
    lon = lat = None
    location = _first(entity, names, "location")
    if location is not None:
        geometry = location.get("value")
        if isinstance(geometry, dict) and geometry.get("type") == "Point":
            coords = geometry.get("coordinates")
            if isinstance(coords, list) and len(coords) >= 2 and all(
                    isinstance(c, int | float) for c in coords[:2]):
                lon, lat = float(coords[0]), float(coords[1])
    label = _first(entity, names, "name")
    name = str(_scalar(label)) if label is not None and _scalar(label) else entity["id"]
    ref = _first(entity, names, "refDevice")
    device = ref.get("object") if ref is not None else None
    values = []
    for short, iri in sorted(names.items()):
        if short in ("location", "name", "refDevice", "address"):
            continue
        inst = entity[iri][0]
        if not isinstance(inst, dict) or inst.get("type") in ("Relationship", "GeoProperty"):
            continue
        unit = inst.get("unitCode")
        values.append(Value(short, iri, _scalar(inst), UNIT_SYMBOLS.get(unit, unit or "")
                            if isinstance(unit, str) else "", inst.get("observedAt")))
    return Equipment(
        id=entity["id"], type=type_name, domain=domain_of(type_name), status=status,
        reason=reason, name=name, place=place_of(entity.get("scope", ())), lon=lon, lat=lat,
        last_seen=last_seen, values=tuple(values),
        device=device if isinstance(device, str) else None,
    )


@dataclass(frozen=True, slots=True)
class Tally:
    """Counts per status; the operating rate is the share of equipment that works."""

    total: int = 0
    ok: int = 0
    alarm: int = 0
    offline: int = 0
    maintenance: int = 0

    @property
    def operating_rate(self) -> float | None:
        return None if self.total == 0 else self.ok / self.total


def tally(items: Iterable[Equipment]) -> Tally:
    counts = dict.fromkeys(STATUSES, 0)
    total = 0
    for item in items:
        counts[item.status] += 1
        total += 1
    return Tally(total, counts["ok"], counts["alarm"], counts["offline"], counts["maintenance"])


def by_domain(items: Iterable[Equipment]) -> dict[str, Tally]:
    groups: dict[str, list[Equipment]] = {}
    for item in items:
        groups.setdefault(item.domain, []).append(item)
    order = {d: i for i, d in enumerate((*DOMAINS, "other"))}
    return {d: tally(groups[d]) for d in sorted(groups, key=lambda d: order.get(d, 99))}
