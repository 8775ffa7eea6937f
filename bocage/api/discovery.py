"""NGSI-LD discovery: /types, /types/{type}, /attributes, /attributes/{attr} (clause 6.25-6.28)."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from bocage.api.calls import run, terms_for
from bocage.api.negotiation import JSON, JSON_LD, accepted, json_response, tenant_of
from bocage.api.services import Services
from bocage.domain.errors import ResourceNotFound
from bocage.domain.terms import Terms
from bocage.ngsild.context import parse_link_header
from bocage.storage.base import AttributeInfo


def build_router(services: Services, prefix: str = "") -> APIRouter:
    router = APIRouter(prefix=prefix, tags=["NGSI-LD discovery"])

    async def prelude(request: Request) -> tuple[str, str | None, Terms, bool, str]:
        tenant = tenant_of(request)
        link = request.headers.get("link")
        ctx = parse_link_header(link) if link else None
        terms = await terms_for(services, ctx)
        details = request.query_params.get("details", "false").lower() == "true"
        return tenant, ctx, terms, details, accepted(request, (JSON, JSON_LD))

    @router.get("/types", summary="Available entity types")
    async def list_types(request: Request) -> Response:
        tenant, ctx, terms, details, media = await prelude(request)
        infos = await run(lambda: services.store.types(tenant))
        if details:
            body: object = [
                {
                    "id": t.type,
                    "type": "EntityType",
                    "typeName": terms.compact(t.type),
                    "attributeNames": sorted(terms.compact(a) for a in t.attributes),
                }
                for t in infos
            ]
        else:
            body = {
                "id": "urn:ngsi-ld:EntityTypeList:" + quote(tenant or "default"),
                "type": "EntityTypeList",
                "typeList": [terms.compact(t.type) for t in infos],
            }
        return json_response(body, media=media, context=ctx)

    @router.get("/types/{type_name:path}", summary="Details of an entity type")
    async def type_info(type_name: str, request: Request) -> Response:
        tenant, ctx, terms, _, media = await prelude(request)
        iri = terms.expand(type_name)
        infos = await run(lambda: services.store.types(tenant))
        info = next((t for t in infos if t.type == iri), None)
        if info is None:
            raise ResourceNotFound(f"no entity of type {type_name}")
        body = {
            "id": iri,
            "type": "EntityTypeInfo",
            "typeName": terms.compact(iri),
            "entityCount": info.entity_count,
            "attributeDetails": [
                {
                    "id": a,
                    "type": "Attribute",
                    "attributeName": terms.compact(a),
                    "attributeTypes": sorted(kinds),
                }
                for a, kinds in sorted(info.attributes.items())
            ],
        }
        return json_response(body, media=media, context=ctx)

    @router.get("/attributes", summary="Available attributes")
    async def list_attributes(request: Request) -> Response:
        tenant, ctx, terms, details, media = await prelude(request)
        infos = await run(lambda: services.store.attributes(tenant))
        if details:
            body: object = [_attribute(a, terms) for a in infos]
        else:
            body = {
                "id": "urn:ngsi-ld:AttributeList:" + quote(tenant or "default"),
                "type": "AttributeList",
                "attributeList": [terms.compact(a.name) for a in infos],
            }
        return json_response(body, media=media, context=ctx)

    @router.get("/attributes/{attr:path}", summary="Details of an attribute")
    async def attribute_info(attr: str, request: Request) -> Response:
        tenant, ctx, terms, _, media = await prelude(request)
        iri = terms.expand(attr)
        infos = await run(lambda: services.store.attributes(tenant))
        info = next((a for a in infos if a.name == iri), None)
        if info is None:
            raise ResourceNotFound(f"no entity holds the attribute {attr}")
        return json_response(_attribute(info, terms), media=media, context=ctx)

    return router


def _attribute(info: AttributeInfo, terms: Terms) -> dict[str, object]:
    return {
        "id": info.name,
        "type": "Attribute",
        "attributeName": terms.compact(info.name),
        "attributeCount": info.entity_count,
        "attributeTypes": sorted(info.attribute_types),
        "typeNames": sorted(terms.compact(t) for t in info.type_names),
    }
