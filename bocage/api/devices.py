"""Admin API of the device catalogue: ``/api/devices`` and ``/api/device-models``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from bocage.api.calls import run
from bocage.api.deadletters import int_param
from bocage.api.negotiation import json_response, read_json
from bocage.api.services import Services
from bocage.codecs.model import spec_from_json
from bocage.connectors.fields import dev_eui as parse_dev_eui
from bocage.devices.records import device_from_entity, device_from_json, device_status
from bocage.domain.errors import BadRequestData, ResourceNotFound
from bocage.ingest.record import Uplink
from bocage.ingest.service import Ingestion
from bocage.security.scoped_store import current_principal


def build_router(services: Services, ingestion: Ingestion) -> APIRouter:
    router = APIRouter(prefix="/api", tags=["Device catalogue"])
    cat = ingestion.catalogue  # device models: platform-wide
    devices = cat.over(services.store)  # devices: through the caller's scopes
    security = services.security
    terms = services.contexts.core_term_map
    max_body = services.settings.max_body_bytes

    @router.get("/device-models", summary="List device models")
    async def list_models() -> Response:
        await run(ingestion.start)  # installs the built-in models on first use
        models = await run(cat.models)
        return json_response([m.to_json() for m in models])

    @router.post("/device-models", status_code=201, summary="Create a device model")
    async def create_model(request: Request) -> Response:
        spec = spec_from_json(await read_json(request, max_body))
        await run(ingestion.start)
        await run(lambda: cat.add_model(spec))
        await run(lambda: security.audit(current_principal().name, "device-model.create",
                                         spec.id))
        return Response(status_code=201, headers={"Location": f"/api/device-models/{spec.id}"})

    @router.get("/device-models/{model_id}", summary="Get a device model")
    async def get_model(model_id: str) -> Response:
        await run(ingestion.start)
        spec = cat.model(model_id)
        if spec is None:
            raise ResourceNotFound(f"no device model {model_id}")
        return json_response(spec.to_json())

    @router.delete("/device-models/{model_id}", status_code=204,
                   summary="Delete a device model")
    async def delete_model(model_id: str) -> Response:
        await run(lambda: cat.delete_model(model_id))
        await run(lambda: security.audit(current_principal().name, "device-model.delete",
                                         model_id))
        return Response(status_code=204)

    @router.get("/devices", summary="List devices")
    async def list_devices() -> Response:
        entities = await run(devices.devices)
        return json_response([{**device_from_entity(e, terms).to_json(),
                               **device_status(e, terms)} for e in entities])

    @router.post("/devices", status_code=201, summary="Register a device")
    async def create_device(request: Request) -> Response:
        body = await read_json(request, max_body)
        await run(ingestion.start)
        model = body.get("model") if isinstance(body, dict) else None
        spec = cat.model(model) if isinstance(model, str) and model else None
        if isinstance(model, str) and model and spec is None:
            raise BadRequestData(f"unknown device model {model!r}")
        dev = device_from_json(body, spec.target_type if spec else None)
        await run(lambda: devices.add_device(dev))
        return Response(status_code=201, headers={"Location": f"/api/devices/{dev.dev_eui}"})

    @router.get("/devices/{dev_eui}", summary="Get a device")
    async def get_device(dev_eui: str) -> Response:
        entity = await run(lambda: devices.device_entity(dev_eui))
        if entity is None:
            raise ResourceNotFound(f"no device {dev_eui}")
        return json_response({**device_from_entity(entity, terms).to_json(),
                              **device_status(entity, terms)})

    @router.get("/devices/{dev_eui}/events",
                summary="A device's recent messages (uplinks, joins, status...), newest first")
    async def device_events(dev_eui: str, request: Request) -> Response:
        eui = parse_dev_eui(dev_eui, "devEUI")
        p = request.query_params
        limit = int_param(p.get("limit"), "limit", 100, services.settings.max_limit)
        before = int_param(p.get("before"), "before", 2**62, 2**62)
        await run(ingestion.start)
        records = await run(lambda: ingestion.inbox.device_records(eui, limit, before))
        return json_response([event_json(seq, record, done) for seq, record, done in records])

    @router.delete("/devices/{dev_eui}", status_code=204, summary="Delete a device")
    async def delete_device(dev_eui: str) -> Response:
        await run(lambda: devices.delete_device(dev_eui))
        return Response(status_code=204)

    return router


def event_json(seq: int, record: Uplink, processed: bool) -> dict[str, Any]:
    """One inbox record as the device events API shows it."""
    return {
        "seq": seq, **record.summary(), "processed": processed,
        "radio": {"rssi": record.radio.rssi, "snr": record.radio.snr,
                  "gateways": record.radio.gateways},
        "battery": record.battery, "note": record.note, "decoded": record.decoded,
    }
