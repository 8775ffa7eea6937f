"""Network server webhooks: ``POST /ingest/chirpstack?event=..`` and ``POST /ingest/tts``.

Answered 202 only once the record is committed to the inbox (accepted means
durable); a duplicate is answered 202 too (the network server must stop
retrying) and counted. Each endpoint is authenticated by its own shared secret,
``Authorization: Bearer <secret>``, compared in constant time; with no secret
configured the endpoint does not exist (404), so a fresh install exposes no
unauthenticated way to write data.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Awaitable, Callable

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from bocage.api.calls import run
from bocage.api.fastpath import FastRoutes
from bocage.api.negotiation import JSON, UnsupportedMediaType, json_response, media_type, read_json
from bocage.api.services import Services
from bocage.connectors.chirpstack.envelope import parse_event
from bocage.connectors.tts.envelope import parse_message
from bocage.domain.errors import InvalidRequest, ResourceNotFound, Unauthorized
from bocage.ingest.record import Uplink
from bocage.ingest.service import Ingestion


def check_secret(request: Request, secret: str, setting: str) -> None:
    if not secret:
        raise ResourceNotFound(f"this connector is disabled; set {setting} to enable it")
    given = request.headers.get("authorization", "")
    scheme, _, token = given.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
            token.strip().encode(), secret.encode()):
        raise Unauthorized("missing or wrong secret: send Authorization: Bearer <secret>")


def build_router(services: Services, ingestion: Ingestion,
                 fast: FastRoutes | None = None) -> APIRouter:
    router = APIRouter(tags=["Ingestion"])
    settings = services.settings

    async def ingest(request: Request, secret: str, setting: str,
                     parse: Callable[[object], Uplink]) -> Response:
        check_secret(request, secret, setting)
        if media_type(request) != JSON:
            raise UnsupportedMediaType("send the event as application/json")
        record = parse(await read_json(request, settings.max_body_bytes))
        if not ingestion.started:  # first use: opens the inbox (file I/O) off the loop
            await run(ingestion.start)
        accepted = await asyncio.wrap_future(ingestion.accept([record]))
        return json_response({"stored": accepted.stored, "duplicates": accepted.duplicates,
                              "dedupKey": record.dedup_key}, status=202)

    @router.post("/ingest/chirpstack", status_code=202,
                 summary="ChirpStack v4 HTTP integration (JSON events)")
    async def chirpstack(request: Request) -> Response:
        event = request.query_params.get("event")
        if not event:
            check_secret(request, settings.chirpstack_secret, "BOCAGE_CHIRPSTACK_SECRET")
            raise InvalidRequest("the event query parameter is required (up, status, join, "
                                 "ack, txack, log, location, integration)")
        return await ingest(request, settings.chirpstack_secret, "BOCAGE_CHIRPSTACK_SECRET",
                            lambda body: parse_event(event, body))

    @router.post("/ingest/tts", status_code=202,
                 summary="The Things Stack v3 webhook (JSON messages)")
    async def tts(request: Request) -> Response:
        return await ingest(request, settings.tts_secret, "BOCAGE_TTS_SECRET",
                            lambda body: parse_message(body, services.now()))

    if fast is not None:
        handlers: list[tuple[str, Callable[..., Awaitable[Response]]]] = [
            ("/ingest/chirpstack", chirpstack), ("/ingest/tts", tts)]
        for path, handler in handlers:
            fast.add("POST", path, handler)
    return router
