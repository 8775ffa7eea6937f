"""Devices and device models <-> NGSI-LD ``Device`` / ``DeviceModel`` entities. Pure.

Why entities and not tables of our own: the catalogue is then visible and
queryable through the NGSI-LD API like any equipment (Smart Data Models
``dataModel.Device``), it is exported and tenanted with everything else, and the
pipeline finds a device with one point read by id (the id is derived from the
DevEUI, so no index is needed). The decoding part of a model (codec, quantities,
units, mapping) travels whole in one JsonProperty, ``decoding``, so what the
pipeline reads is exactly what was validated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from bocage.codecs.model import ModelSpec, spec_from_json
from bocage.domain.entity import Entity, instance_value
from bocage.domain.errors import BadRequestData
from bocage.domain.terms import Terms
from bocage.ngsild.scopeq import validate_scope

DEVICE_PREFIX = "urn:ngsi-ld:Device:"
MODEL_PREFIX = "urn:ngsi-ld:DeviceModel:"
_EUI = re.compile(r"^[0-9A-Fa-f]{16}$")
_INSEE = re.compile(r"^(\d[0-9AB]\d{3})$")
#: network servers bocage can send orders through
NETWORK_SERVERS = ("chirpstack", "tts")
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:\S+$")


def device_id(eui: str) -> str:
    return DEVICE_PREFIX + eui.upper()


def model_id(ident: str) -> str:
    return MODEL_PREFIX + ident


@dataclass(frozen=True, slots=True)
class DeviceRecord:
    dev_eui: str
    model: str
    name: str = ""
    #: the equipment entity this device feeds
    asset_id: str = ""
    #: (longitude, latitude)
    location: tuple[float, float] | None = None
    #: INSEE code of the commune
    commune: str = ""
    #: seconds between two expected uplinks (0: unknown)
    reporting_interval: int = 0
    #: handed to the decoder, over the model's defaults
    configuration: dict[str, Any] = field(default_factory=dict)
    #: territorial scopes (``/FR/01/240100883/01004``) of the device and of the
    #: equipment entity created for it: who may see and manage them
    scope: tuple[str, ...] = ()
    #: where orders to it go: ``chirpstack`` or ``tts`` ("" = the only connector set up)
    network_server: str = ""
    #: its application on the network server (ChirpStack application id, or TTS
    #: ``application@tenant``)
    application_id: str = ""
    #: its id on the network server when that is not its DevEUI (TTS device id;
    #: "" = ``eui-<deveui>``, the console's default)
    network_device_id: str = ""

    @property
    def id(self) -> str:
        return device_id(self.dev_eui)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id, "devEui": self.dev_eui, "name": self.name, "model": self.model,
            "assetId": self.asset_id, "commune": self.commune,
            "reportingInterval": self.reporting_interval, "configuration": self.configuration,
            "scope": list(self.scope),
        }
        for key, value in (("networkServer", self.network_server),
                           ("applicationId", self.application_id),
                           ("networkDeviceId", self.network_device_id)):
            if value:
                out[key] = value
        if self.location is not None:
            out["location"] = {"longitude": self.location[0], "latitude": self.location[1]}
        return out


def device_from_json(data: object, target_type: str | None = None) -> DeviceRecord:
    """A device from the admin API / CSV; the asset id defaults from the model's type."""
    if not isinstance(data, dict):
        raise BadRequestData("a device must be a JSON object")
    eui = data.get("devEui")
    if not isinstance(eui, str) or not _EUI.match(eui):
        raise BadRequestData(f"devEui must be 16 hex digits, got {eui!r}")
    model = data.get("model")
    if not isinstance(model, str) or not model:
        raise BadRequestData("model must name a device model")
    asset = data.get("assetId") or ""
    if asset and (not isinstance(asset, str) or not _URI.match(asset)):
        raise BadRequestData(f"assetId must be a URI, got {asset!r}")
    if not asset and target_type:
        asset = f"urn:ngsi-ld:{target_type}:{eui.upper()}"
    commune = str(data.get("commune") or "")
    if commune and not _INSEE.match(commune):
        raise BadRequestData(f"commune must be an INSEE code (5 characters), got {commune!r}")
    interval = data.get("reportingInterval") or 0
    if isinstance(interval, bool) or not isinstance(interval, int) or interval < 0:
        raise BadRequestData("reportingInterval must be a number of seconds")
    config = data.get("configuration") or {}
    if not isinstance(config, dict):
        raise BadRequestData("configuration must be a JSON object")
    scope = data.get("scope") or []
    if isinstance(scope, str):
        scope = [scope]
    if not isinstance(scope, list):
        raise BadRequestData("scope must be a scope path or a list of them")
    for s in scope:
        validate_scope(s)
    route = {k: data.get(k) or "" for k in ("networkServer", "applicationId", "networkDeviceId")}
    for key, value in route.items():
        if not isinstance(value, str) or len(value) > 200 or "/" in value or "+" in value \
                or "#" in value:
            raise BadRequestData(f"{key} must be a name without / + # (at most 200 "
                                 f"characters), got {value!r}")
    if route["networkServer"] and route["networkServer"] not in NETWORK_SERVERS:
        raise BadRequestData(f"networkServer must be one of {', '.join(NETWORK_SERVERS)}, "
                             f"got {route['networkServer']!r}")
    return DeviceRecord(dev_eui=eui.upper(), model=model, name=str(data.get("name") or ""),
                        asset_id=asset, location=_location(data.get("location")),
                        commune=commune, reporting_interval=interval, configuration=config,
                        scope=tuple(dict.fromkeys(scope)),
                        network_server=route["networkServer"],
                        application_id=route["applicationId"],
                        network_device_id=route["networkDeviceId"])


def _location(raw: object) -> tuple[float, float] | None:
    if raw is None or raw == "":
        return None
    if not isinstance(raw, dict):
        raise BadRequestData("location must be {\"longitude\": .., \"latitude\": ..}")
    lon, lat = raw.get("longitude"), raw.get("latitude")
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (lon, lat)):
        raise BadRequestData("location longitude and latitude must be numbers")
    assert isinstance(lon, int | float) and isinstance(lat, int | float)
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise BadRequestData("location is not a WGS84 coordinate")
    return (float(lon), float(lat))


def device_entity(dev: DeviceRecord) -> dict[str, Any]:
    """The Device entity body (concise terms; the caller expands them)."""
    body: dict[str, Any] = {
        "id": dev.id, "type": "Device",
        "name": {"type": "Property", "value": dev.name or dev.dev_eui},
        "devEUI": {"type": "Property", "value": dev.dev_eui},
        "refDeviceModel": {"type": "Relationship", "object": model_id(dev.model)},
        "controlledAsset": {"type": "Relationship", "object": dev.asset_id},
        "configuration": {"type": "JsonProperty", "json": dev.configuration},
    }
    if dev.location is not None:
        body["location"] = {"type": "GeoProperty",
                            "value": {"type": "Point", "coordinates": list(dev.location)}}
    if dev.scope:
        body["scope"] = list(dev.scope)
    if dev.commune:
        body["communeCode"] = {"type": "Property", "value": dev.commune}
    if dev.reporting_interval:
        body["reportingInterval"] = {"type": "Property", "value": dev.reporting_interval,
                                     "unitCode": "SEC"}
    for name, value in (("networkServer", dev.network_server),
                        ("applicationId", dev.application_id),
                        ("networkDeviceId", dev.network_device_id)):
        if value:
            body[name] = {"type": "Property", "value": value}
    return body


def device_from_entity(entity: Entity, terms: Terms) -> DeviceRecord:
    def value(name: str) -> Any:
        insts = entity.get(terms.expand(name))
        return instance_value(insts[0]) if insts else None

    loc = value("location")
    coords = loc.get("coordinates") if isinstance(loc, dict) else None
    model_ref = value("refDeviceModel") or ""
    return DeviceRecord(
        dev_eui=value("devEUI") or entity["id"].removeprefix(DEVICE_PREFIX),
        model=str(model_ref).removeprefix(MODEL_PREFIX), name=value("name") or "",
        asset_id=value("controlledAsset") or "",
        location=(coords[0], coords[1]) if isinstance(coords, list) else None,
        commune=value("communeCode") or "", reporting_interval=value("reportingInterval") or 0,
        configuration=value("configuration") or {},
        scope=tuple(entity.get("scope") or ()),
        network_server=value("networkServer") or "",
        application_id=value("applicationId") or "",
        network_device_id=value("networkDeviceId") or "",
    )


def device_status(entity: Entity, terms: Terms) -> dict[str, Any]:
    """What the pipeline wrote on the device: battery, signal, last seen."""
    out: dict[str, Any] = {}
    for name in ("batteryLevel", "rssi", "snr", "dateLastValueReported"):
        insts = entity.get(terms.expand(name))
        if insts:
            out[name] = instance_value(insts[0])
    return out


def model_entity(spec: ModelSpec) -> dict[str, Any]:
    return {
        "id": model_id(spec.id), "type": "DeviceModel",
        "brandName": {"type": "Property", "value": spec.vendor},
        "manufacturerName": {"type": "Property", "value": spec.vendor},
        "modelName": {"type": "Property", "value": spec.model},
        "controlledProperty": {"type": "Property",
                               "value": [q.attribute for q in spec.quantities]},
        "supportedUnits": {"type": "Property",
                           "value": sorted({q.unit for q in spec.quantities if q.unit})},
        "codec": {"type": "Property", "value": spec.codec},
        "decoding": {"type": "JsonProperty", "json": spec.to_json()},
    }


def model_from_entity(entity: Entity, terms: Terms) -> ModelSpec:
    insts = entity.get(terms.expand("decoding"))
    if not insts:
        raise BadRequestData(f"device model {entity['id']} has no decoding attribute")
    return spec_from_json(instance_value(insts[0]))
