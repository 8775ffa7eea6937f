"""Network server webhooks: ``POST /ingest/chirpstack?event=..`` and ``POST /ingest/tts``.

Answered 202 only once the record is committed to the inbox (accepted means
durable); a duplicate is answered 202 too (the network server must stop
retrying) and counted. Each endpoint is authenticated by its own shared secret,
``Authorization: Bearer <secret>``, compared in constant time; with no secret
configured the endpoint does not exist (404), so a fresh install exposes no
unauthenticated way to write data.

These are the hottest routes of the server (one request per uplink), so the
handlers read the ASGI scope and the body themselves (one pass over the
headers, no query-string or header objects) and wait for the commit on the
event loop (the inbox answers a whole group commit with one loop wake-up).
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from fastapi import APIRouter
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from bocage.api.calls import run
from bocage.api.fastpath import FastRoutes
from bocage.api.negotiation import JSON, UnsupportedMediaType, parse_json_body
from bocage.api.services import Services
from bocage.connectors.chirpstack.envelope import parse_event
from bocage.connectors.chirpstack.protobuf import decode_event, is_protobuf
from bocage.connectors.tts.envelope import parse_message
from bocage.domain.errors import BadRequestData, InvalidRequest, ResourceNotFound, Unauthorized
from bocage.ingest.record import Uplink
from bocage.ingest.service import Ingestion

_JSON = JSON.encode()


def _check_secret(given: bytes | None, secret: str, setting: str) -> None:
    if not secret:
        raise ResourceNotFound(f"this connector is disabled; set {setting} to enable it")
    scheme, _, token = (given or b"").partition(b" ")
    if scheme.lower() != b"bearer" or not hmac.compare_digest(token.strip(), secret.encode()):
        raise Unauthorized("missing or wrong secret: send Authorization: Bearer <secret>")


def _event(request: Request) -> str | None:
    """The ``event`` query parameter (``event=up`` read without parsing the rest)."""
    query: bytes = request.scope.get("query_string", b"")
    if query.startswith(b"event=") and query[6:].isalpha():  # the common case, exactly
        return query[6:].decode("ascii")
    value = request.query_params.get("event")
    return value or None


async def _body(request: Request, limit: int) -> Any:
    """The JSON body, read straight from the ASGI channel (as ``read_json`` does)."""
    return parse_json_body(await _raw(request, limit), limit)


async def _raw(request: Request, limit: int) -> bytes:
    """The body's bytes, read straight from the ASGI channel, at most ``limit``."""
    receive = request.receive
    message = await receive()
    if message["type"] == "http.disconnect":
        raise ClientDisconnect()
    raw: bytes = message.get("body", b"")
    if message.get("more_body", False):
        parts = [raw]
        size = len(raw)
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnect()
            part = message.get("body", b"")
            size += len(part)
            if size > limit:
                raise BadRequestData(f"request body larger than {limit} bytes")
            parts.append(part)
            if not message.get("more_body", False):
                break
        raw = b"".join(parts)
    elif len(raw) > limit:
        raise BadRequestData(f"request body larger than {limit} bytes")
    return raw


def build_router(services: Services, ingestion: Ingestion,
                 fast: FastRoutes | None = None) -> APIRouter:
    router = APIRouter(tags=["Ingestion"])
    settings = services.settings
    limit = settings.max_body_bytes

    async def ingest(request: Request, auth: bytes | None, content_type: bytes | None,
                     secret: str, setting: str, parse: Callable[[object], Uplink],
                     binary: Callable[[bytes], object] | None = None) -> Response:
        _check_secret(auth, secret, setting)
        media = (content_type or b"").split(b";", 1)[0].strip().lower()
        if media == _JSON:
            body = await _body(request, limit)
        elif binary is not None and is_protobuf(media.decode("latin-1")):
            body = binary(await _raw(request, limit))
        else:
            raise UnsupportedMediaType(
                "send the event as application/json" + (
                    " or, in ChirpStack's Protobuf encoding, as application/octet-stream"
                    if binary is not None else ""))
        record = parse(body)
        if not ingestion.started:  # first use: opens the inbox (file I/O) off the loop
            await run(ingestion.start)
        accepted = await ingestion.accept_soon([record])
        return Response(orjson.dumps({"stored": accepted.stored,
                                      "duplicates": accepted.duplicates,
                                      "dedupKey": record.dedup_key}),
                        status_code=202, media_type=JSON)

    def headers(request: Request) -> tuple[bytes | None, bytes | None]:
        auth = content_type = None
        for key, value in request.scope["headers"]:
            if key == b"authorization":
                auth = value
            elif key == b"content-type":
                content_type = value
        return auth, content_type

    @router.post("/ingest/chirpstack", status_code=202,
                 summary="ChirpStack v4 HTTP integration (JSON or Protobuf events)")
    async def chirpstack(request: Request) -> Response:
        auth, content_type = headers(request)
        event = _event(request)
        if not event:
            _check_secret(auth, settings.chirpstack_secret, "BOCAGE_CHIRPSTACK_SECRET")
            raise InvalidRequest("the event query parameter is required (up, status, join, "
                                 "ack, txack, log, location, integration)")
        return await ingest(request, auth, content_type, settings.chirpstack_secret,
                            "BOCAGE_CHIRPSTACK_SECRET", lambda body: parse_event(event, body),
                            lambda raw: decode_event(event, raw))

    @router.post("/ingest/tts", status_code=202,
                 summary="The Things Stack v3 webhook (JSON messages)")
    async def tts(request: Request) -> Response:
        auth, content_type = headers(request)
        return await ingest(request, auth, content_type, settings.tts_secret,
                            "BOCAGE_TTS_SECRET", lambda body: parse_message(body, services.now()))

    if fast is not None:
        handlers: list[tuple[str, Callable[..., Awaitable[Response]]]] = [
            ("/ingest/chirpstack", chirpstack), ("/ingest/tts", tts)]
        for path, handler in handlers:
            fast.add("POST", path, handler)
    return router
