"""Write a territory into the store: equipment entities, device models, devices.

Idempotent: what exists is left alone (a second ``bocage demo`` start creates
nothing), so readings already merged into equipment entities are kept.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from bocage.codecs.model import ModelSpec, spec_from_json
from bocage.devices.catalogue import TENANT, Catalogue
from bocage.devices.records import DeviceRecord, device_entity
from bocage.domain.errors import AlreadyExists, BocageError
from bocage.domain.terms import Terms
from bocage.ngsild import mutations as mut
from bocage.ngsild.parse import parse_entity
from bocage.simulator.envelope import APPLICATION_ID
from bocage.simulator.territory import Equipment, SimDevice, Territory
from bocage.storage.base import Mutation, Store

CHUNK = 1000
#: the EV charging point: its network server decodes, bocage maps the object's keys
EV_MODEL: ModelSpec = spec_from_json({
    "id": "bocage-sim-ev", "vendor": "bocage", "model": "Simulated EV charging point",
    "codec": "network-server", "targetType": "EVChargingStation",
    "description": "Charging point reporting through its network server's decoder: "
                   "status and number of free sockets.",
    "quantities": [{"key": "status", "attribute": "status"},
                   {"key": "availableCapacity", "attribute": "availableCapacity",
                    "min": 0, "max": 16}],
})


def _point(at: tuple[float, float]) -> dict[str, Any]:
    return {"type": "GeoProperty", "value": {"type": "Point", "coordinates": list(at)}}


def equipment_body(e: Equipment, commune_name: str, departement: str,
                   ref_device: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": e.id, "type": e.type, "scope": e.scope,
        "name": {"type": "Property", "value": e.name},
        "location": _point(e.at),
        "address": {"type": "Property", "value": {
            "addressLocality": commune_name, "addressRegion": departement,
            "addressCountry": "FR"}},
        "communeCode": {"type": "Property", "value": e.insee},
        "dataProvider": {"type": "Property", "value": "bocage simulator"},
    }
    for k, v in e.attrs.items():
        body[k] = {"type": "Property", "value": v}
    for k, v in e.refs.items():
        body[k] = {"type": "Relationship", "object": v}
    if ref_device:
        body["refDevice"] = {"type": "Relationship", "object": ref_device}
    return body


def device_record(d: SimDevice) -> DeviceRecord:
    return DeviceRecord(dev_eui=d.dev_eui, model=d.model, name=d.name, asset_id=d.asset_id,
                        location=d.at, commune=d.insee, reporting_interval=d.interval,
                        configuration=dict(d.configuration),
                        # the simulator speaks as ChirpStack: orders go back the same way
                        network_server="chirpstack", application_id=APPLICATION_ID)


def bodies(territory: Territory, devices: Sequence[SimDevice] | None = None,
           ) -> Iterator[dict[str, Any]]:
    """Every entity body of the territory (concise terms): equipment, then devices;
    with ``devices``, only those devices and the equipment they feed."""
    chosen = territory.devices if devices is None else devices
    device_of = {d.asset_id: d.id for d in (device_record(x) for x in chosen)}
    places = {p.commune.insee: p for p in territory.places}
    known = set()
    for e in territory.equipment:
        if devices is not None and e.id not in device_of:
            continue
        c = places[e.insee].commune
        known.add(e.id)
        yield equipment_body(e, c.name, c.departement, device_of.get(e.id))
    for d in chosen:
        rec = device_record(d)
        body = device_entity(rec)
        if d.asset_id == rec.id:  # the device is its own equipment (a camera)
            p = places[d.insee]
            body.update({k: v for k, v in equipment_body(
                Equipment(rec.id, "Device", d.name, d.insee, p.scope, d.at),
                p.commune.name, p.commune.departement).items()
                if k in ("scope", "address", "communeCode", "dataProvider")})
            # a video-protection camera: the UI counts it as equipment of that network
            body["category"] = {"type": "Property", "value": ["multimedia"]}
        elif d.asset_id not in known:  # an asset only a device names (the misconfigured one)
            c = places[d.insee].commune
            spec_type = d.asset_id.split(":")[2]
            yield equipment_body(Equipment(d.asset_id, spec_type, d.name, d.insee,
                                           places[d.insee].scope, d.at), c.name,
                                 c.departement, rec.id)
        yield body


def seed(store: Store, terms: Terms, catalogue: Catalogue, territory: Territory,
         now: Callable[[], str], progress: Callable[[int], None] | None = None) -> int:
    """Create what is missing; returns how many entities were created."""
    catalogue.ensure_builtin_models()
    with contextlib.suppress(AlreadyExists):
        catalogue.add_model(EV_MODEL)
    created = 0
    for chunk in _chunks(list(bodies(territory)), CHUNK):
        stamp = now()
        results = store.apply(TENANT, [
            Mutation(b["id"], mut.create(parse_entity(b, terms), stamp)) for b in chunk])
        for r in results:
            if isinstance(r, dict):
                created += 1
            elif isinstance(r, BocageError) and not isinstance(r, AlreadyExists):
                raise r
        if progress is not None:
            progress(len(chunk))
    return created


def _chunks(items: Sequence[dict[str, Any]], n: int) -> Iterator[Sequence[dict[str, Any]]]:
    for i in range(0, len(items), n):
        yield items[i:i + n]
