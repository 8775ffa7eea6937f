"""NGSI-LD entity routes: /entities and /entities/{id}/attrs (clause 6.4-6.7)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import orjson
from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from bocage.api.calls import run, terms_for, write_one
from bocage.api.errors import method_not_allowed
from bocage.api.fastpath import FastRoutes
from bocage.api.negotiation import (
    GEO_JSON,
    JSON,
    JSON_LD,
    LdRequest,
    accepted,
    json_response,
    read_json,
    request_context,
    tenant_of,
)
from bocage.api.openapi_docs import QUERY_PARAMS, VIEW_PARAMS, doc
from bocage.api.query_params import parse_list_request, parse_options, parse_view
from bocage.api.services import Services
from bocage.domain.entity import Entity
from bocage.domain.errors import BadRequestData, ResourceNotFound
from bocage.ngsild import mutations as mut
from bocage.ngsild.context import CORE_CONTEXT_URL, link_header
from bocage.ngsild.parse import check_uri, parse_attribute, parse_entity, parse_instance
from bocage.ngsild.render import render_entity, render_feature


def partial_response(outcome: mut.Outcome, compact: Callable[[str], str]) -> Response:
    if not outcome.not_updated:
        return Response(status_code=204)
    body = {
        "updated": [compact(a) for a in outcome.updated],
        "notUpdated": [
            {"attributeName": compact(a), "reason": reason} for a, reason in outcome.not_updated
        ],
    }
    return json_response(body, status=207)


def build_router(
    services: Services, prefix: str = "", fast: FastRoutes | None = None
) -> APIRouter:
    router = APIRouter(prefix=prefix, tags=["NGSI-LD entities"])
    max_body = services.settings.max_body_bytes

    async def ld_request(request: Request, *, with_body: bool) -> LdRequest:
        tenant = tenant_of(request)
        body = await read_json(request, max_body) if with_body else None
        ctx = request_context(request, body, has_body=with_body)
        terms = await terms_for(services, ctx)
        return LdRequest(tenant=tenant, context=ctx, terms=terms, body=body)

    def get_or_404(tenant: str, entity_id: str) -> Entity:
        entity = services.store.get(tenant, entity_id)
        if entity is None:
            raise ResourceNotFound(f"entity {entity_id} not found", instance=entity_id)
        return entity

    @router.post("/entities", status_code=201, summary="Create an entity",
                 openapi_extra=doc(body="object"))
    async def create_entity(request: Request) -> Response:
        ld = await ld_request(request, with_body=True)
        entity = parse_entity(ld.body, ld.terms)
        await write_one(services, ld.tenant, entity["id"], mut.create(entity, services.now()))
        location = f"/ngsi-ld/v1/entities/{quote(entity['id'], safe=':')}"
        return Response(status_code=201, headers={"Location": location})

    @router.get("/entities", summary="Query entities", openapi_extra=doc(*QUERY_PARAMS))
    async def query_entities(request: Request) -> Response:
        ld = await ld_request(request, with_body=False)
        media = accepted(request, (JSON, JSON_LD, GEO_JSON))
        req = parse_list_request(
            request.query_params, ld.terms, services.settings.max_limit
        )
        page = await run(lambda: services.store.query(ld.tenant, req.query))
        headers = {}
        if page.count is not None:
            headers["NGSILD-Results-Count"] = str(page.count)
        if media == GEO_JSON:
            features = [
                render_feature(e, ld.terms, req.view, req.geometry_property)
                for e in page.entities
            ]
            return geojson_response(features, ld.context, headers, collection=True)
        body = [render_entity(e, ld.terms, req.view) for e in page.entities]
        return json_response(body, media=media, context=ld.context, headers=headers)

    @router.get("/entities/{entity_id:path}/attrs/{attr}", include_in_schema=False)
    async def _no_get_attr(entity_id: str, attr: str, request: Request) -> Response:
        return method_not_allowed(["PATCH", "PUT", "DELETE"])

    @router.get("/entities/{entity_id:path}", summary="Retrieve an entity",
                openapi_extra=doc(*VIEW_PARAMS))
    async def retrieve_entity(entity_id: str, request: Request) -> Response:
        check_uri(entity_id, "entity id")
        ld = await ld_request(request, with_body=False)
        media = accepted(request, (JSON, JSON_LD, GEO_JSON))
        view = parse_view(request.query_params, ld.terms)
        entity = get_or_404(ld.tenant, entity_id)  # a point read: microseconds, inline
        if view.attrs is not None and not any(a in entity for a in view.attrs):
            raise ResourceNotFound(f"entity {entity_id} has none of the requested attributes")
        if media == GEO_JSON:
            prop = ld.terms.expand(request.query_params.get("geometryProperty") or "location")
            feature = render_feature(entity, ld.terms, view, prop)
            return geojson_response(feature, ld.context, {}, collection=False)
        return json_response(render_entity(entity, ld.terms, view), media=media,
                             context=ld.context)

    @router.put("/entities/{entity_id:path}/attrs/{attr}", status_code=204,
                summary="Replace an attribute", openapi_extra=doc(body="object"))
    async def replace_attribute(entity_id: str, attr: str, request: Request) -> Response:
        check_uri(entity_id, "entity id")
        ld = await ld_request(request, with_body=True)
        insts = parse_attribute(attr, _strip_ctx(ld.body), ld.terms)
        fn = mut.replace_attr(entity_id, ld.terms.expand(attr), insts, services.now())
        await write_one(services, ld.tenant, entity_id, fn)
        return Response(status_code=204)

    @router.patch("/entities/{entity_id:path}/attrs/{attr}", status_code=204,
                  summary="Partial attribute update", openapi_extra=doc(body="object"))
    async def partial_update(entity_id: str, attr: str, request: Request) -> Response:
        check_uri(entity_id, "entity id")
        ld = await ld_request(request, with_body=True)
        body = _strip_ctx(ld.body)
        if not isinstance(body, dict | list) or not body:
            raise BadRequestData("the attribute fragment must be a non-empty JSON object")
        frags = body if isinstance(body, list) else [body]
        parsed = [_fragment(attr, f, ld) for f in frags]
        fn = mut.partial_update_attr(entity_id, ld.terms.expand(attr), parsed, services.now())
        await write_one(services, ld.tenant, entity_id, fn)
        return Response(status_code=204)

    @router.delete("/entities/{entity_id:path}/attrs/{attr}", status_code=204,
                   summary="Delete an attribute")
    async def delete_attribute(entity_id: str, attr: str, request: Request) -> Response:
        check_uri(entity_id, "entity id")
        ld = await ld_request(request, with_body=False)
        params = request.query_params
        dataset_id = params.get("datasetId")
        if dataset_id is not None:
            check_uri(dataset_id, "datasetId")
        delete_all = params.get("deleteAll", "false").lower() == "true"
        fn = mut.delete_attr(entity_id, ld.terms.expand(attr), services.now(),
                             dataset_id=dataset_id, delete_all=delete_all)
        await write_one(services, ld.tenant, entity_id, fn)
        return Response(status_code=204)

    @router.post("/entities/{entity_id:path}/attrs", summary="Append attributes",
        openapi_extra=doc(body="object"),
    )
    async def append_attributes(entity_id: str, request: Request) -> Response:
        check_uri(entity_id, "entity id")
        ld = await ld_request(request, with_body=True)
        options, _ = parse_options(request.query_params)
        attrs = _attrs_body(ld)
        outcome = mut.Outcome()
        fn = mut.append_attrs(entity_id, attrs, services.now(), outcome,
                              overwrite="noOverwrite" not in options)
        await write_one(services, ld.tenant, entity_id, fn)
        return partial_response(outcome, ld.terms.compact)

    @router.patch("/entities/{entity_id:path}/attrs", summary="Update attributes",
        openapi_extra=doc(body="object"),
    )
    async def update_attributes(entity_id: str, request: Request) -> Response:
        check_uri(entity_id, "entity id")
        ld = await ld_request(request, with_body=True)
        attrs = _attrs_body(ld)
        outcome = mut.Outcome()
        fn = mut.update_attrs(entity_id, attrs, services.now(), outcome)
        await write_one(services, ld.tenant, entity_id, fn)
        return partial_response(outcome, ld.terms.compact)

    @router.put("/entities/{entity_id:path}", status_code=204, summary="Replace an entity",
        openapi_extra=doc(body="object"),
    )
    async def replace_entity(entity_id: str, request: Request) -> Response:
        check_uri(entity_id, "entity id")
        ld = await ld_request(request, with_body=True)
        body = _with_id(ld.body, entity_id)
        entity = parse_entity(body, ld.terms)
        fn = mut.replace(entity, services.now())
        await write_one(services, ld.tenant, entity_id, fn)
        return Response(status_code=204)

    @router.patch("/entities/{entity_id:path}", status_code=204, summary="Merge an entity",
        openapi_extra=doc(body="object"),
    )
    async def merge_entity(entity_id: str, request: Request) -> Response:
        check_uri(entity_id, "entity id")
        ld = await ld_request(request, with_body=True)
        body = _with_id(ld.body, entity_id)
        patch = parse_entity(body, ld.terms, require_type=False, nulls=True)
        fn = mut.merge(patch, services.now())
        await write_one(services, ld.tenant, entity_id, fn)
        return Response(status_code=204)

    @router.delete("/entities/{entity_id:path}", status_code=204, summary="Delete an entity")
    async def delete_entity(entity_id: str, request: Request) -> Response:
        check_uri(entity_id, "entity id")
        tenant = tenant_of(request)
        fn = mut.delete_entity(entity_id)
        await write_one(services, tenant, entity_id, fn)
        return Response(status_code=204)

    if fast is not None:  # same handlers, reached without FastAPI's machinery
        fast.add("POST", prefix + "/entities", create_entity)
        fast.add("GET", prefix + "/entities", query_entities)
        fast.add("PATCH", prefix + "/entities/{entity_id:path}/attrs/{attr}", partial_update)
        fast.add("GET", prefix + "/entities/{entity_id:path}/attrs/{attr}", _no_get_attr)
        fast.add("PATCH", prefix + "/entities/{entity_id:path}/attrs", update_attributes)
        fast.add("GET", prefix + "/entities/{entity_id:path}", retrieve_entity)
    return router


def _strip_ctx(body: Any) -> Any:
    if isinstance(body, dict) and "@context" in body:
        return {k: v for k, v in body.items() if k != "@context"}
    return body


def _with_id(body: Any, entity_id: str) -> Any:
    if not isinstance(body, dict):
        raise BadRequestData("the body must be a JSON object")
    if "id" in body and body["id"] != entity_id:
        raise BadRequestData("the id in the body differs from the id in the URL")
    return {**body, "id": entity_id}


def _attrs_body(ld: LdRequest) -> Entity:
    body = _strip_ctx(ld.body)
    if not isinstance(body, dict):
        raise BadRequestData("the body must be a JSON object of attributes")
    body = {k: v for k, v in body.items() if k != "id"}
    return parse_entity(body, ld.terms, require_id=False, require_type=False)


def _fragment(attr: str, frag: Any, ld: LdRequest) -> dict[str, Any]:
    """A partial attribute update fragment: any subset of an instance's members."""
    if not isinstance(frag, dict):
        raise BadRequestData("the attribute fragment must be a JSON object")
    if "type" in frag or any(
        k in frag for k in ("value", "object", "languageMap", "json", "vocab", "valueList",
                            "objectList")
    ):
        return parse_instance(attr, frag, ld.terms, 0, True)
    # only sub-attributes / metadata: merge them without touching the value
    probe = parse_instance(attr, {"type": "Property", "value": 0, **frag}, ld.terms, 0, True)
    return {k: v for k, v in probe.items() if k not in ("type", "value")}


def geojson_response(
    content: Any, context: Any, headers: dict[str, str], *, collection: bool
) -> Response:
    ctx = context if context is not None else CORE_CONTEXT_URL
    if collection:
        content = {"type": "FeatureCollection", "features": content}
    hdrs = dict(headers)
    if isinstance(ctx, str):
        hdrs["Link"] = link_header(ctx)
    return Response(orjson.dumps(content), media_type=GEO_JSON, headers=hdrs)

