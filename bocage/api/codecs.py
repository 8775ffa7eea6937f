"""JavaScript codecs: ``/api/codecs`` (list, get, delete) and ``.../{id}/decode`` to try one."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from bocage.api.calls import run
from bocage.api.negotiation import json_response, read_json
from bocage.domain.errors import BadRequestData, ResourceNotFound
from bocage.ingest.service import Ingestion
from bocage.jscodec.repo import example_bytes
from bocage.jscodec.sandbox import JsError, JsTimeout
from bocage.jscodec.source import CodecSource


def _decode_args(body: object) -> tuple[bytes, int, str, dict[str, Any]]:
    if not isinstance(body, dict):
        raise BadRequestData('the body must be {"bytes": "<hex>" | [..], "fPort": n}')
    try:
        payload = example_bytes(body.get("bytes", ""))
    except ValueError as exc:
        raise BadRequestData(f"bytes: {exc}") from None
    port = body.get("fPort", 1)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 255:
        raise BadRequestData("fPort must be an integer in [0, 255]")
    recv = body.get("recvTime", "")
    variables = body.get("variables", {})
    if not isinstance(recv, str) or not isinstance(variables, dict):
        raise BadRequestData("recvTime must be an ISO time string, variables an object")
    return payload, port, recv, variables


def build_router(ingestion: Ingestion) -> APIRouter:
    router = APIRouter(prefix="/api/codecs", tags=["Device catalogue"])
    library = ingestion.js_codecs

    def _get(codec_id: str) -> CodecSource:
        src = library.source(codec_id)
        if src is None:
            raise ResourceNotFound(f"no JavaScript codec {codec_id}")
        return src

    @router.get("", summary="List the JavaScript codecs")
    async def list_codecs() -> Response:
        return json_response([s.summary() for s in await run(library.all)])

    @router.get("/{codec_id}", summary="Get a JavaScript codec (with its source and examples)")
    async def get_codec(codec_id: str) -> Response:
        src = await run(lambda: _get(codec_id))
        return json_response({**src.summary(), "files": src.files, "examples": src.examples})

    @router.delete("/{codec_id}", status_code=204, summary="Delete a JavaScript codec")
    async def delete_codec(codec_id: str) -> Response:
        await run(lambda: _get(codec_id))
        await run(lambda: library.delete(codec_id))
        return Response(status_code=204)

    @router.post("/{codec_id}/decode",
                 summary="Decode a payload with a codec's uplink decoder (nothing is stored)")
    async def decode(codec_id: str, request: Request) -> Response:
        payload, port, recv, variables = _decode_args(await read_json(request, 100_000))

        def call() -> dict[str, Any]:
            src = _get(codec_id)
            try:
                return library.run(src, "decode_uplink", payload, port, recv,
                                   variables).to_json()
            except JsTimeout as exc:
                return {"errors": [str(exc)], "warnings": [], "failure": "codec-timeout"}
            except JsError as exc:
                return {"errors": [" ".join(str(exc).split())], "warnings": [],
                        "failure": "codec-error"}

        return json_response(await run(call))

    return router
