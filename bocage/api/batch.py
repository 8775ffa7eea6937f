"""NGSI-LD batch operations: /entityOperations/{create,upsert,update,delete,merge,query}."""

from __future__ import annotations

import asyncio
import dataclasses
from concurrent.futures import Future
from typing import Any, Final

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from bocage.api.calls import run, terms_for, write
from bocage.api.negotiation import (
    JSON,
    JSON_LD,
    accepted,
    json_response,
    read_json,
    request_context,
    tenant_of,
)
from bocage.api.openapi_docs import doc
from bocage.api.query_params import parse_list_request, parse_options, parse_view
from bocage.api.services import Services
from bocage.domain.entity import Entity
from bocage.domain.errors import BadRequestData, BocageError
from bocage.domain.query import EntityQuery
from bocage.domain.terms import Terms
from bocage.ngsild import mutations as mut
from bocage.ngsild.geo import parse_geoq
from bocage.ngsild.parse import check_uri, parse_entity
from bocage.ngsild.render import render_entity
from bocage.storage.base import Mutation, MutationFn, MutationResult

#: Entities parsed before the store gets them: it writes one chunk (its SQL
#: releases the GIL) while the next is parsed.
PIPELINE_CHUNK: Final = 200


class _Pipeline:
    """The chunks of one batch handed to the store as soon as they are parsed.

    Each chunk is a store write of its own (batch operations are not atomic,
    clause 5.6.7: each entity has its result); chunks are submitted in order and
    the caller is answered once all are committed. A chunk the store refuses
    (503, back-pressure) after earlier ones were accepted has its entities
    reported as errors, so that the earlier chunks' results are not lost.
    """

    def __init__(self, services: Services) -> None:
        self.services = services
        self.chunks: list[tuple[list[Mutation], Future[list[MutationResult]] | BocageError]] = []

    def send(self, tenant: str, mutations: list[Mutation], start: int) -> int:
        chunk = mutations[start:]
        if chunk:
            try:
                sent: Future[list[MutationResult]] | BocageError = \
                    self.services.store.submit(tenant, chunk)
            except BocageError as err:
                if not self.chunks:
                    raise  # nothing written: the whole request is refused (503), as before
                sent = err
            self.chunks.append((chunk, sent))
        return len(mutations)

    async def results(self) -> list[MutationResult]:
        out: list[MutationResult] = []
        for chunk, sent in self.chunks:
            if isinstance(sent, BocageError):
                out += [sent] * len(chunk)
            else:
                done: list[MutationResult] = await asyncio.wrap_future(sent)
                out += done
        return out


def _error_item(entity_id: Any, err: BocageError) -> dict[str, Any]:
    return {"entityId": entity_id, "error": err.problem()}


def _batch_response(
    ok: list[str], errors: list[dict[str, Any]], *, created: bool, return_ids: bool
) -> Response:
    if errors:
        return json_response({"success": ok, "errors": errors}, status=207)
    if return_ids and ok:
        return json_response(ok, status=201 if created else 200)
    return Response(status_code=204)


def build_router(services: Services, prefix: str = "") -> APIRouter:
    router = APIRouter(prefix=prefix + "/entityOperations", tags=["NGSI-LD batch operations"])
    settings = services.settings

    async def decode(request: Request) -> tuple[str, list[Any], Any]:
        tenant = tenant_of(request)
        body = await read_json(request, settings.max_body_bytes)
        if not isinstance(body, list):
            raise BadRequestData("a batch operation takes a JSON array")
        if len(body) > settings.max_batch:
            raise BadRequestData(f"a batch holds at most {settings.max_batch} entities")
        return tenant, body, request_context(request, body, has_body=True)

    async def entity_batch(
        request: Request, build: Any, *, require_type: bool, nulls: bool = False
    ) -> tuple[list[str], list[dict[str, Any]], list[Entity | None]]:
        tenant, body, shared_ctx = await decode(request)
        now = services.now()
        errors: list[dict[str, Any]] = []
        mutations: list[Mutation] = []

        shared_terms: Terms | None = None  # resolved once, for the items without their own
        pipeline = _Pipeline(services)
        queued = 0  # mutations handed to the store so far
        for item in body:
            own = isinstance(item, dict) and "@context" in item
            try:
                if own:
                    terms = await terms_for(services, item["@context"])
                else:
                    if shared_terms is None:
                        shared_terms = await terms_for(services, shared_ctx)
                    terms = shared_terms
                # parse_entity skips "@context": no need to copy the item without it
                entity = parse_entity(item, terms, require_type=require_type, nulls=nulls)
            except BocageError as err:
                errors.append(_error_item(
                    item.get("id") if isinstance(item, dict) else None, err
                ))
                continue
            mutations.append(Mutation(entity["id"], build(entity, now)))
            if len(mutations) - queued >= PIPELINE_CHUNK:
                queued = pipeline.send(tenant, mutations, queued)
        pipeline.send(tenant, mutations, queued)
        results = await pipeline.results()
        ok: list[str] = []
        for m, result in zip(mutations, results, strict=True):
            if isinstance(result, BocageError):
                errors.append(_error_item(m.entity_id, result))
            else:
                ok.append(m.entity_id)
        return ok, errors, [r for r in results if not isinstance(r, BocageError)]

    @router.post("/create", summary="Batch create", openapi_extra=doc(body="array"))
    async def batch_create(request: Request) -> Response:
        ok, errors, _ = await entity_batch(request, mut.create, require_type=True)
        return _batch_response(ok, errors, created=True, return_ids=True)

    @router.post("/upsert", summary="Batch upsert", openapi_extra=doc(body="array"))
    async def batch_upsert(request: Request) -> Response:
        options, _ = parse_options(request.query_params)
        created: set[str] = set()

        def build(entity: Entity, now: str) -> MutationFn:
            inner = (
                mut.merge(entity, now, upsert=True) if "update" in options
                else mut.replace(entity, now, upsert=True)
            )

            def fn(current: Entity | None) -> Any:
                if current is None:
                    created.add(entity["id"])
                return inner(current)

            return fn

        ok, errors, _ = await entity_batch(request, build, require_type=True)
        if errors:
            return _batch_response(ok, errors, created=False, return_ids=False)
        new_ids = [i for i in ok if i in created]
        if new_ids:
            return json_response(new_ids, status=201)
        return Response(status_code=204)

    @router.post("/update", summary="Batch update", openapi_extra=doc(body="array"))
    async def batch_update(request: Request) -> Response:
        options, _ = parse_options(request.query_params)

        def build(entity: Entity, now: str) -> MutationFn:
            # batch update appends attributes to existing entities (clause 5.6.10)
            return mut.append_attrs(entity["id"], entity, now, mut.Outcome(),
                                    overwrite="noOverwrite" not in options)

        ok, errors, _ = await entity_batch(request, build, require_type=False)
        return _batch_response(ok, errors, created=False, return_ids=False)

    @router.post("/merge", summary="Batch merge", openapi_extra=doc(body="array"))
    async def batch_merge(request: Request) -> Response:
        ok, errors, _ = await entity_batch(request, mut.merge, require_type=False, nulls=True)
        return _batch_response(ok, errors, created=False, return_ids=False)

    @router.post("/delete", summary="Batch delete", openapi_extra=doc(body="array"))
    async def batch_delete(request: Request) -> Response:
        tenant, body, _ = await decode(request)
        errors: list[dict[str, Any]] = []
        mutations: list[Mutation] = []
        for item in body:
            try:
                entity_id = check_uri(item, "entity id")
            except BocageError as err:
                errors.append(_error_item(item if isinstance(item, str) else None, err))
                continue
            mutations.append(Mutation(entity_id, mut.delete_entity(entity_id)))
        results = await write(services, tenant, mutations)
        ok = []
        for m, result in zip(mutations, results, strict=True):
            if isinstance(result, BocageError):
                errors.append(_error_item(m.entity_id, result))
            else:
                ok.append(m.entity_id)
        return _batch_response(ok, errors, created=False, return_ids=False)

    @router.post("/query", summary="Query entities with a Query body",
                 openapi_extra=doc(body="object"))
    async def batch_query(request: Request) -> Response:
        tenant = tenant_of(request)
        body = await read_json(request, settings.max_body_bytes)
        if not isinstance(body, dict) or body.get("type") != "Query":
            raise BadRequestData('the body must be a Query object ({"type": "Query", ...})')
        ctx = request_context(request, body, has_body=True)
        media = accepted(request, (JSON, JSON_LD))
        terms = await terms_for(services, ctx)
        query, params = _query_from_body(body, request.query_params, terms, settings.max_limit)
        view = parse_view(params, terms)
        page = await run(lambda: services.store.query(tenant, query))
        headers = {"NGSILD-Results-Count": str(page.count)} if page.count is not None else {}
        return json_response(
            [render_entity(e, terms, view) for e in page.entities],
            media=media, context=ctx if media == JSON_LD or isinstance(ctx, str) else None,
            headers=headers,
        )

    return router


def _query_from_body(
    body: dict[str, Any], url_params: Any, terms: Terms, max_limit: int
) -> tuple[EntityQuery, dict[str, str]]:
    """Map a Query data type (clause 5.2.23) onto the GET /entities parameters."""
    params: dict[str, str] = dict(url_params)
    entities = body.get("entities") or []
    if not isinstance(entities, list):
        raise BadRequestData("Query.entities must be an array")
    type_parts, ids, patterns = [], [], []
    for sel in entities:
        if not isinstance(sel, dict):
            raise BadRequestData("each Query.entities item must be an object")
        if "type" in sel:
            type_parts.append(str(sel["type"]))
        if "id" in sel:
            ids.append(str(sel["id"]))
        if "idPattern" in sel:
            patterns.append(str(sel["idPattern"]))
    if type_parts:
        params["type"] = ",".join(type_parts)
    if ids:
        params["id"] = ",".join(ids)
    if patterns:
        params["idPattern"] = "|".join(f"(?:{p})" for p in patterns)
    attrs = body.get("attrs")
    if attrs is not None:
        if not isinstance(attrs, list):
            raise BadRequestData("Query.attrs must be an array")
        params["attrs"] = ",".join(map(str, attrs))
    if "q" in body:
        params["q"] = str(body["q"])
    if "scopeQ" in body:
        params["scopeQ"] = str(body["scopeQ"])
    geo = body.get("geoQ")
    req = parse_list_request(params, terms, max_limit)
    query = req.query
    if geo is not None:
        if not isinstance(geo, dict):
            raise BadRequestData("Query.geoQ must be an object")
        coords = geo.get("coordinates")
        gq = parse_geoq(
            geo.get("georel"), geo.get("geometry"),
            coords if isinstance(coords, list | str) else None,
            terms.expand(str(geo.get("geoproperty") or "location")),
        )
        query = dataclasses.replace(query, geo=gq)
    return query, params
