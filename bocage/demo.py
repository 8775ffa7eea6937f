"""A few example equipment entities of a rural territory (until the simulator lands).

Positions are illustrative, near real communes of the Ain (INSEE codes are real).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from bocage.domain.terms import Terms
from bocage.domain.timefmt import format_utc
from bocage.ngsild import mutations as mut
from bocage.ngsild.parse import parse_entity
from bocage.storage.base import Mutation, Store


def _prop(value: Any, unit: str | None = None, observed: str | None = None) -> list[dict[str, Any]]:
    inst: dict[str, Any] = {"type": "Property", "value": value}
    if unit:
        inst["unitCode"] = unit
    if observed:
        inst["observedAt"] = observed
    return [inst]


def _geo(lon: float, lat: float) -> list[dict[str, Any]]:
    return [{"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}}]


def example_entities(now: str) -> list[dict[str, Any]]:
    scope_ambe = "/FR/01/240100883/01004"  # Ambérieu-en-Bugey, CC de la Plaine de l'Ain
    scope_lagn = "/FR/01/240100883/01202"  # Lagnieu
    return [
        {
            "id": "urn:ngsi-ld:Streetlight:01004-0001",
            "type": "Streetlight",
            "scope": [scope_ambe],
            "location": _geo(5.3601, 45.9581),
            "status": _prop("ok"),
            "powerState": _prop("on", observed=now),
            "illuminanceLevel": _prop(0.7, "C62", now),
        },
        {
            "id": "urn:ngsi-ld:WasteContainer:01202-0001",
            "type": "WasteContainer",
            "scope": [scope_lagn],
            "location": _geo(5.3445, 45.8996),
            "fillingLevel": _prop(0.62, "C62", now),
            "binFullnessThreshold": _prop(80),
        },
        {
            "id": "urn:ngsi-ld:ParkingSite:01004-covoiturage",
            "type": "ParkingSite",
            "scope": [scope_ambe],
            "name": _prop("Aire de covoiturage de la gare"),
            "location": _geo(5.3632, 45.9555),
            "totalSpotNumber": _prop(40),
            "availableSpotNumber": _prop(12, observed=now),
        },
        {
            "id": "urn:ngsi-ld:EVChargingStation:01004-0001",
            "type": "EVChargingStation",
            "scope": [scope_ambe],
            "location": _geo(5.3634, 45.9557),
            "status": _prop("available", observed=now),
            "capacity": _prop(2),
        },
        {
            "id": "urn:ngsi-ld:AirQualityObserved:01004-ecole",
            "type": "AirQualityObserved",
            "scope": [scope_ambe],
            "location": _geo(5.3588, 45.9602),
            "co2": _prop(870, "59", now),
            "temperature": _prop(20.5, "CEL", now),
        },
    ]


def seed(store: Store, terms: Terms) -> int:
    """Create the example entities that are missing; returns how many were created."""
    now = format_utc(dt.datetime.now(dt.UTC))
    entities = [parse_entity(body, terms) for body in example_entities(now)]
    missing = [e for e in entities if store.get("", e["id"]) is None]
    results = store.apply("", [Mutation(e["id"], mut.create(e, now)) for e in missing])
    return sum(1 for r in results if isinstance(r, dict))
