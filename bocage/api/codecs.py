"""JavaScript codecs: ``/api/codecs`` (list, get, delete), and trying one on a payload:
``.../{id}/decode`` (uplink), ``.../{id}/encode`` and ``.../{id}/decode-downlink``.
Nothing is stored; a codec that fails answers 200 with its errors and ``failure``."""

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
    port = body.get("fPort", 0)
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

    def attempt(codec_id: str, call: str, *args: Any) -> dict[str, Any]:
        src = _get(codec_id)
        try:
            return library.run(src, call, *args).to_json()
        except JsTimeout as exc:
            return {"errors": [str(exc)], "warnings": [], "failure": "codec-timeout"}
        except JsError as exc:
            return {"errors": [" ".join(str(exc).split())], "warnings": [],
                    "failure": "codec-error"}

    @router.post("/{codec_id}/decode",
                 summary="Decode an uplink payload with a codec (nothing is stored)")
    async def decode(codec_id: str, request: Request) -> Response:
        payload, port, recv, variables = _decode_args(await read_json(request, 100_000))
        return json_response(await run(lambda: attempt(
            codec_id, "decode_uplink", payload, port, recv, variables)))

    @router.post("/{codec_id}/decode-downlink",
                 summary="Decode a downlink payload with a codec's decodeDownlink")
    async def decode_downlink(codec_id: str, request: Request) -> Response:
        payload, port, _recv, _variables = _decode_args(await read_json(request, 100_000))
        return json_response(await run(lambda: attempt(
            codec_id, "decode_downlink", payload, port)))

    @router.post("/{codec_id}/encode",
                 summary="Encode a downlink with a codec's encodeDownlink (or Encode/Encoder)")
    async def encode(codec_id: str, request: Request) -> Response:
        body = await read_json(request, 100_000)
        if not isinstance(body, dict) or "data" not in body:
            raise BadRequestData('the body must be {"data": {...}} (and "fPort" for a '
                                 "legacy Encode / Encoder)")
        _payload, port, _recv, variables = _decode_args({**body, "bytes": ""})
        return json_response(await run(lambda: attempt(
            codec_id, "encode_downlink", body["data"], port, variables)))

    return router
