"""@context management: /jsonldContexts (clause 6.30 of GS CIM 009 v1.8)."""

from __future__ import annotations

from urllib.parse import unquote

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from bocage.api.calls import run
from bocage.api.negotiation import JSON_LD, json_response, read_json
from bocage.api.services import Services
from bocage.domain.errors import BadRequestData, ResourceNotFound
from bocage.security.scoped_store import current_principal


def build_router(services: Services, prefix: str = "") -> APIRouter:
    router = APIRouter(prefix=prefix + "/jsonldContexts", tags=["NGSI-LD @contexts"])
    resolver = services.contexts

    @router.post("", status_code=201, summary="Host a new @context")
    async def add_context(request: Request) -> Response:
        body = await read_json(request, services.settings.context_max_bytes)
        base = str(request.base_url).rstrip("/") + "/ngsi-ld/v1/jsonldContexts"
        _, url = await run(lambda: resolver.add_hosted(body, base))
        await run(lambda: services.security.audit(current_principal().name, "context.create",
                                                  url))
        return Response(status_code=201, headers={"Location": url})

    @router.get("", summary="List @contexts")
    async def list_contexts(request: Request) -> Response:
        params = request.query_params
        details = params.get("details", "false").lower() == "true"
        kind = params.get("kind")
        if kind is not None and kind not in ("hosted", "cached", "implicitlycreated"):
            raise BadRequestData(f"unknown kind {kind!r}")
        listed = await run(lambda: resolver.list(details))
        if kind is not None:
            listed = [c for c in listed if not isinstance(c, dict) or
                      str(c.get("kind", "")).lower() == kind.lower()]
        return json_response(listed, context=None, headers={})

    @router.get("/{context_id:path}", summary="Serve a @context")
    async def serve_context(context_id: str, request: Request) -> Response:
        key = unquote(context_id)
        body = await run(lambda: resolver.get(key))
        if body is None:
            raise ResourceNotFound(f"no @context {key}")
        return Response(body, media_type=JSON_LD)

    @router.delete("/{context_id:path}", status_code=204, summary="Delete or reload a @context")
    async def delete_context(context_id: str, request: Request) -> Response:
        key = unquote(context_id)
        actor = current_principal().name
        if request.query_params.get("reload", "false").lower() == "true":
            await run(lambda: resolver.reload(key))
            await run(lambda: services.security.audit(actor, "context.reload", key))
            return Response(status_code=204)
        if not await run(lambda: resolver.delete(key)):
            raise ResourceNotFound(f"no @context {key}")
        await run(lambda: services.security.audit(actor, "context.delete", key))
        return Response(status_code=204)

    return router
