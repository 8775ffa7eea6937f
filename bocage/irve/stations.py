"""IRVE rows -> EVChargingStation entity bodies (Smart Data Models). Pure.

One entity per station (``id_station_itinerance``; ``id_station_local`` for a
station outside roaming), gathering its charging points (PDC, one row each):

===========================  =====================================================
EVChargingStation            IRVE
===========================  =====================================================
``name``                     ``nom_station``
``location``                 ``coordonneesXY`` ([lon,lat], WGS84)
``address.streetAddress``    ``adresse_station`` (one line, kept whole)
``operator``                 ``nom_operateur``
``network``                  ``nom_enseigne``
``contactPoint``             ``contact_operateur`` (email), ``telephone_operateur``
``capacity``                 number of charging points (rows) of the station
``socketNumber``             number of sockets over its points (``prise_type_*``)
``socketType``               Type2, CCS/SAE, CHAdeMO, Wall_Euro (type E/F), Other
``allowedVehicleType``       ``car``, or two-wheelers when ``station_deux_roues``
``openingHours``             ``horaires`` (already in the opening-hours syntax)
``chargeType``               ``free`` when ``gratuit``
``availableCapacity``        dynamic: points ``en_service`` and ``libre``
``status``                   dynamic: working, full, withIncidence, outOfService
===========================  =====================================================

The nominal power (``puissance_nominale``), the payment means (the model's
``acceptedPaymentMethod`` has no card) and the state of each connector have no
EVChargingStation attribute and are not stored.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final
from urllib.parse import quote

from bocage.domain.timefmt import format_utc
from bocage.irve.csvtable import Problem, Row

TYPE: Final = "EVChargingStation"
NOT_ROAMING: Final = "Non concerné"
STATIC: Final = "static"
DYNAMIC: Final = "dynamic"
#: IRVE socket column -> EVChargingStation socketType
SOCKETS: Final = (("prise_type_2", "Type2"), ("prise_type_combo_ccs", "CCS/SAE"),
                  ("prise_type_chademo", "CHAdeMO"), ("prise_type_ef", "Wall_Euro"),
                  ("prise_type_autre", "Other"))
TWO_WHEELERS: Final = ["bicycle", "motorcycle", "motorscooter"]


@dataclass(slots=True)
class Station:
    key: str
    #: the station-level cells, from its first row
    first: dict[str, Any]
    points: list[str] = field(default_factory=list)
    socket_types: set[str] = field(default_factory=set)
    sockets: int = 0

    @property
    def entity_id(self) -> str:
        return entity_id(self.key)


def entity_id(key: str) -> str:
    return f"urn:ngsi-ld:{TYPE}:{quote(key, safe='')}"


def stations(rows: Iterable[Row]) -> tuple[dict[str, Station], dict[str, str], list[Problem]]:
    """Static rows -> (stations by key, charging point id -> station key, problems)."""
    out: dict[str, Station] = {}
    points: dict[str, str] = {}
    seen: dict[str, int] = {}
    problems: list[Problem] = []
    for row in rows:
        v = row.values
        key = v["id_station_itinerance"]
        if key == NOT_ROAMING:
            if not v.get("id_station_local"):
                problems.append(Problem(STATIC, row.line, "a station outside roaming "
                                        "(id_station_itinerance 'Non concerné') needs an "
                                        "id_station_local"))
                continue
            key = "local:" + v["id_station_local"]
        pdc = v["id_pdc_itinerance"]
        if pdc != NOT_ROAMING:
            if pdc in seen:
                problems.append(Problem(STATIC, row.line, f"charging point {pdc} already "
                                        f"described on line {seen[pdc]}"))
                continue
            seen[pdc] = row.line
            points[pdc] = key
        station = out.setdefault(key, Station(key, v))
        station.points.append(pdc)
        for column, socket in SOCKETS:
            if v[column]:
                station.socket_types.add(socket)
                station.sockets += 1
    return out, points, problems


def station_scopes(insee: object, open_scope: str) -> list[str]:
    """Where a station belongs: its commune's territorial scope (``/FR/<département>/
    <EPCI>/<INSEE>``, from the bundled commune table) so the commune's agents and its
    EPCI's officials see it, and the open-data scope, since the IRVE file is open data."""
    from bocage.simulator.communes import by_insee
    from bocage.simulator.territory import scope_of

    out = []
    commune = by_insee().get(insee) if isinstance(insee, str) else None
    if commune is not None:
        out.append(scope_of(commune))
    if open_scope:
        out.append(open_scope)
    return out


def station_body(station: Station, scopes: list[str] | None = None) -> dict[str, Any]:
    """The static attributes, as a concise normalized NGSI-LD entity."""
    v = station.first
    lon, lat = v["coordonneesXY"]
    body: dict[str, Any] = {
        "id": station.entity_id, "type": TYPE,
        "name": _prop(v["nom_station"]),
        "location": {"type": "GeoProperty", "value": {"type": "Point",
                                                      "coordinates": [lon, lat]}},
        "address": _prop({"streetAddress": v["adresse_station"], "addressCountry": "FR"}),
        "network": _prop(v["nom_enseigne"]),
        "contactPoint": _prop({k: val for k, val in (
            ("email", v["contact_operateur"]), ("telephone", v.get("telephone_operateur")))
            if val}),
        "capacity": _prop(len(station.points)),
        "socketType": _prop(sorted(station.socket_types) or ["Other"]),
        "allowedVehicleType": _prop(TWO_WHEELERS if v["station_deux_roues"] else ["car"]),
        "openingHours": _prop(v["horaires"]),
    }
    if scopes:
        body["scope"] = scopes if len(scopes) > 1 else scopes[0]
    if station.sockets:
        body["socketNumber"] = _prop(station.sockets)
    if v.get("nom_operateur"):
        body["operator"] = _prop(v["nom_operateur"])
    if v.get("gratuit"):
        body["chargeType"] = _prop(["free"])
    return body


def availability(rows: Iterable[Row], points: dict[str, str], known: dict[str, Station],
                 ) -> tuple[list[dict[str, Any]], list[int], list[Problem]]:
    """Dynamic rows -> (one ``availableCapacity`` + ``status`` patch per station reported,
    lines skipped, problems).

    A row about a charging point the static file does not describe is skipped, not an
    error: the national dynamic feed covers every network, the static file only ours.
    """
    problems: list[Problem] = []
    skipped: list[int] = []
    by_station: dict[str, list[dict[str, Any]]] = {}
    seen: dict[str, int] = {}
    for row in rows:
        v = row.values
        pdc = v["id_pdc_itinerance"]
        if pdc in seen:
            problems.append(Problem(DYNAMIC, row.line, f"charging point {pdc} already "
                                    f"reported on line {seen[pdc]}"))
            continue
        seen[pdc] = row.line
        key = points.get(pdc)
        if key is None:
            skipped.append(row.line)
            continue
        by_station.setdefault(key, []).append(v)
    patches = []
    for key, states in by_station.items():
        at = format_utc(max(_when(s) for s in states))
        free = sum(1 for s in states
                   if s["etat_pdc"] == "en_service" and s["occupation_pdc"] == "libre")
        out_of_order = sum(1 for s in states if s["etat_pdc"] == "hors_service")
        in_service = sum(1 for s in states if s["etat_pdc"] == "en_service")
        status = ("outOfService" if out_of_order and not in_service
                  else "withIncidence" if out_of_order
                  else "full" if not free else "working")
        station = known[key]
        patches.append({
            "id": station.entity_id, "type": TYPE,
            "availableCapacity": _prop(min(free, len(station.points)), at),
            "status": _prop(status, at),
        })
    return patches, skipped, problems


def _when(state: dict[str, Any]) -> datetime:
    moment = state["horodatage"]
    assert isinstance(moment, datetime)
    return moment


def _prop(value: Any, observed_at: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "Property", "value": value}
    if observed_at is not None:
        out["observedAt"] = observed_at
    return out
