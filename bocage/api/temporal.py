"""NGSI-LD temporal routes: /temporal/entities (clause 6.18-6.22).

Entities are selected as /entities selects them (type, id, idPattern, geoQ,
scopeQ on their current state), except ``q``, which is evaluated over their
history within the time window (``bocage.history.temporal_q``: the queried
attributes must satisfy it together at some instant); then each one's history
is read with the request's time filter. An entity deleted through /entities keeps its
history: retrieving it by id still answers (its type as it was when deleted).

Aggregation (options=aggregatedValues, aggrMethods, aggrPeriodDuration) reads
each series whole over the requested range (``bocage.history.aggregate``).

Temporal pagination (clause 6.3.10): at most ``history_max_instances``
instances of an attribute per response; beyond, the answer is 206 Partial
Content with ``Content-Range: date-time <from>-<to>/<size>`` naming the time
span every attribute is complete for (``size`` is lastN, or ``*``). Without
lastN pages go forward (oldest first): ask again with ``timeAt`` after the
range; with lastN they go backward.
"""

from __future__ import annotations

import dataclasses
from typing import Any, cast
from urllib.parse import quote

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from bocage.api.calls import run, terms_for, write_one
from bocage.api.negotiation import (
    JSON,
    JSON_LD,
    LdRequest,
    accepted,
    json_response,
    read_json,
    request_context,
    tenant_of,
)
from bocage.api.openapi_docs import QUERY_PARAMS, doc
from bocage.api.services import Services
from bocage.api.temporal_frames import paginate, render_frames
from bocage.api.temporal_params import (
    TemporalRequest,
    TimeFilter,
    parse_temporal_query,
    parse_time_filter,
)
from bocage.domain.entity import ENTITY_KEYS, Entity, Instance
from bocage.domain.errors import AlreadyExists, BadRequestData, ResourceNotFound
from bocage.domain.query import QueryPage
from bocage.domain.temporal import HistoryRange, Record, parse_instance_id
from bocage.domain.timefmt import from_ms, to_ms
from bocage.history.aggregate import period_bounds
from bocage.history.frame import Frame
from bocage.history.temporal_q import history_matches, q_attributes
from bocage.ngsild import mutations as mut
from bocage.ngsild.parse import check_name, check_uri, parse_entity, parse_instance
from bocage.ngsild.render import View
from bocage.ngsild.temporal_render import full_instance, render_aggregated
from bocage.storage.history_base import HistoryStore

TEMPORAL_PARAMS = [
    *QUERY_PARAMS,
    *(
        {"name": n, "in": "query", "required": False, "description": d,
         "schema": {"type": "string"}}
        for n, d in (
            ("timerel", "before, after or between (needs timeAt)."),
            ("timeAt", "ISO 8601 instant."),
            ("endTimeAt", "ISO 8601 instant, for timerel=between (exclusive)."),
            ("timeproperty", "observedAt (default), createdAt or modifiedAt."),
            ("lastN", "The N most recent instances of each attribute."),
            ("aggrMethods", "With options=aggregatedValues: totalCount, distinctCount, sum, "
                            "avg, min, max, stddev, sumsq."),
            ("aggrPeriodDuration", "ISO 8601 duration of each aggregation period (P1D, PT1H)."),
        )
    ),
]


#: entities read at a time when q is evaluated over their history
_CANDIDATES = 500


def build_router(services: Services, prefix: str = "") -> APIRouter:
    router = APIRouter(prefix=prefix + "/temporal", tags=["NGSI-LD temporal"])
    settings = services.settings
    max_body = settings.max_body_bytes
    history = cast(HistoryStore, services.store)

    async def ld_request(request: Request, *, with_body: bool) -> LdRequest:
        tenant = tenant_of(request)
        body = await read_json(request, max_body) if with_body else None
        ctx = request_context(request, body, has_body=with_body)
        terms = await terms_for(services, ctx)
        return LdRequest(tenant=tenant, context=ctx, terms=terms, body=body)

    def read(tenant: str, entity_id: str, time: TimeFilter) -> list[Frame]:
        return history.history_frames(tenant, entity_id, time.window)

    def aggregated(tenant: str, entity: Entity, time: TimeFilter) -> dict[str, Any]:
        """Not rendered here (terms needed): the entity's series, read whole — compacted
        chunks lying inside one aggregation period as their stored summaries."""
        return {"series": history.history_columns(tenant, entity["id"],
                                                  aggregation_window(time, services.now()))}

    def past_q_page(tenant: str, req: TemporalRequest) -> QueryPage:
        """The page of entities whose history satisfies ``q`` within the time window
        (``bocage.history.temporal_q``); the other filters select candidates on the
        current state, as /entities does, read a page at a time."""
        query, window = req.entities.query, req.time.window
        assert query.q is not None
        reads = HistoryRange(attrs=q_attributes(query.q), timeproperty=window.timeproperty,
                             start=window.start, end=window.end)
        candidates = dataclasses.replace(query, q=None, limit=_CANDIDATES, offset=0,
                                         count=False)
        wanted, total = query.offset + query.limit, 0
        chosen: list[dict[str, object]] = []
        while True:
            page = services.store.query(tenant, candidates)
            for entity in page.entities:
                if history_matches(query.q, history.history(tenant, str(entity["id"]), reads)):
                    total += 1
                    if query.offset < total <= wanted:
                        chosen.append(entity)
            if len(page.entities) < _CANDIDATES or (total >= wanted and not query.count):
                break
            candidates = dataclasses.replace(candidates,
                                             offset=candidates.offset + _CANDIDATES)
        return QueryPage(chosen, total if query.count else None)

    def respond(
        ld: LdRequest, media: str, time: TimeFilter, items: list[tuple[Entity, Any]],
        single: bool, headers: dict[str, str],
    ) -> Response:
        if time.format == "aggregatedValues":
            w = time.window
            bodies_: list[Any] = [
                render_aggregated(head, found["series"], ld.terms, time.aggr_methods,
                                  w.start, w.end, time.aggr_period)
                for head, found in items
            ]
            return json_response(bodies_[0] if single else bodies_, media=media,
                                 context=ld.context, headers=headers)
        status = 200
        window = time.window
        pages, span = paginate([frames for _, frames in items], time.page,
                               window.last_n is not None, window.timeproperty)
        if span is not None:
            status = 206
            size = str(window.last_n) if window.last_n is not None else "*"
            headers["Content-Range"] = f"date-time {from_ms(span[0])}-{from_ms(span[1])}/{size}"
        view = View(sys_attrs=time.sys_attrs)
        bodies = [render_frames(head, frames, ld.terms, view, window.timeproperty,
                                time.format == "temporalValues")
                  for (head, _), frames in zip(items, pages, strict=True)]
        content: Any = bodies[0] if single else bodies
        return json_response(content, status=status, media=media, context=ld.context,
                             headers=headers)

    @router.get("/entities", summary="Query the temporal evolution of entities",
                openapi_extra=doc(*TEMPORAL_PARAMS))
    async def query_temporal(request: Request) -> Response:
        ld = await ld_request(request, with_body=False)
        media = accepted(request, (JSON, JSON_LD))
        req = parse_temporal_query(request.query_params, ld.terms, settings.max_limit,
                                   settings.history_max_instances)
        time = req.time

        def answer() -> tuple[list[tuple[Entity, Any]], int | None]:
            page = (services.store.query(ld.tenant, req.entities.query)
                    if req.entities.query.q is None else past_q_page(ld.tenant, req))
            found: list[tuple[Entity, Any]] = []
            for entity in page.entities:
                if time.format == "aggregatedValues":
                    found.append((entity, aggregated(ld.tenant, entity, time)))
                    continue
                frames = read(ld.tenant, str(entity["id"]), time)
                if frames or time.window.attrs is None:
                    found.append((entity, frames))
            return found, page.count

        items, count = await run(answer)
        headers = {} if count is None else {"NGSILD-Results-Count": str(count)}
        return respond(ld, media, time, items, single=False, headers=headers)

    @router.get("/entities/{entity_id:path}", summary="Retrieve the temporal evolution of an "
                "entity", openapi_extra=doc(*TEMPORAL_PARAMS))
    async def retrieve_temporal(entity_id: str, request: Request) -> Response:
        check_uri(entity_id, "entity id")
        ld = await ld_request(request, with_body=False)
        media = accepted(request, (JSON, JSON_LD))
        time = parse_time_filter(request.query_params, ld.terms,
                                 settings.history_max_instances)

        def answer() -> tuple[Entity, Any]:
            entity = services.store.get(ld.tenant, entity_id)
            hist: Any
            if time.format == "aggregatedValues":
                hist = aggregated(ld.tenant, {"id": entity_id}, time)
            else:
                hist = read(ld.tenant, entity_id, time)
            if entity is None:
                head = history.gone_entity(ld.tenant, entity_id)
                if head is None:
                    raise ResourceNotFound(f"entity {entity_id} not found", instance=entity_id)
                entity = head
            return entity, hist

        item = await run(answer)
        return respond(ld, media, time, [item], single=True, headers={})

    @router.post("/entities", status_code=201, summary="Create or update a temporal entity",
                 openapi_extra=doc(body="object"))
    async def create_temporal(request: Request) -> Response:
        ld = await ld_request(request, with_body=True)
        head, instances = _temporal_body(ld.body, ld)
        entity_id = head["id"]
        now = services.now()
        latest = _latest(instances)
        created = True
        try:
            fresh = {**head, **{a: [i] for (a, _), i in latest.items()}}
            await write_one(services, ld.tenant, entity_id, mut.create(fresh, now))
            rest = [(a, i) for a, i in instances if all(i is not j for j in latest.values())]
        except AlreadyExists:
            created = False
            rest = instances
        stamped = [(a, _stamp(i, now)) for a, i in rest]
        await run(lambda: history.add_history(ld.tenant, entity_id, stamped))
        if not created:
            return Response(status_code=204)
        location = f"/ngsi-ld/v1/temporal/entities/{quote(entity_id, safe=':')}"
        return Response(status_code=201, headers={"Location": location})

    async def known(tenant: str, entity_id: str) -> None:
        def check() -> None:
            if services.store.get(tenant, entity_id) is not None:
                return
            if history.gone_entity(tenant, entity_id) is None:
                raise ResourceNotFound(f"entity {entity_id} not found", instance=entity_id)

        await run(check)

    @router.post("/entities/{entity_id:path}/attrs", status_code=204,
                 summary="Add attribute instances", openapi_extra=doc(body="object"))
    async def append_temporal(entity_id: str, request: Request) -> Response:
        check_uri(entity_id, "entity id")
        ld = await ld_request(request, with_body=True)
        body = ld.body if isinstance(ld.body, dict) else None
        if body is None:
            raise BadRequestData("the body must be a JSON object of attributes")
        _, instances = _temporal_body({**body, "id": entity_id, "type": "_"}, ld)
        if not instances:
            raise BadRequestData("the body holds no attribute instance")
        await known(ld.tenant, entity_id)
        now = services.now()
        stamped = [(a, _stamp(i, now)) for a, i in instances]
        await run(lambda: history.add_history(ld.tenant, entity_id, stamped))
        return Response(status_code=204)

    @router.patch("/entities/{entity_id:path}/attrs/{attr}/{instance_id:path}",
                  status_code=204, summary="Modify an attribute instance",
                  openapi_extra=doc(body="object"))
    async def patch_instance(entity_id: str, attr: str, instance_id: str,
                             request: Request) -> Response:
        check_uri(entity_id, "entity id")
        check_uri(instance_id, "instanceId")
        ld = await ld_request(request, with_body=True)
        body = ld.body if isinstance(ld.body, dict) else None
        if body is None:
            raise BadRequestData("the body must be a JSON object (an attribute instance)")
        body = {k: v for k, v in body.items() if k != "@context"}
        if len(body) == 1 and isinstance(next(iter(body.values())), dict | list):
            body = next(iter(body.values()))  # {"attr": {...}} as the spec shows it
            if isinstance(body, list) and len(body) == 1:
                body = body[0]
        iri = ld.terms.expand(check_name(attr))
        now = services.now()

        def patch() -> bool:
            found = _find(history, ld.tenant, entity_id, iri, instance_id)
            if found is None:
                return False
            old = full_instance(found)
            probe = body if "type" in body or "value" in body else {
                "type": old.get("type", "Property"), "value": old.get("value"), **body}
            change = parse_instance(attr, probe, ld.terms)
            new = {**old, **change, "createdAt": old["createdAt"], "modifiedAt": now}
            return history.replace_instance(ld.tenant, entity_id, iri, instance_id, new)

        if not await run(patch):
            raise ResourceNotFound(f"no instance {instance_id} of {attr} in {entity_id}")
        return Response(status_code=204)

    @router.delete("/entities/{entity_id:path}/attrs/{attr}/{instance_id:path}",
                   status_code=204, summary="Delete an attribute instance")
    async def delete_instance(entity_id: str, attr: str, instance_id: str,
                              request: Request) -> Response:
        check_uri(entity_id, "entity id")
        ld = await ld_request(request, with_body=False)
        iri = ld.terms.expand(check_name(attr))
        if not await run(lambda: history.replace_instance(ld.tenant, entity_id, iri,
                                                          instance_id, None)):
            raise ResourceNotFound(f"no instance {instance_id} of {attr} in {entity_id}")
        return Response(status_code=204)

    @router.delete("/entities/{entity_id:path}/attrs/{attr}", status_code=204,
                   summary="Delete an attribute's history")
    async def delete_attribute_history(entity_id: str, attr: str, request: Request) -> Response:
        check_uri(entity_id, "entity id")
        ld = await ld_request(request, with_body=False)
        iri = ld.terms.expand(check_name(attr))
        if not await run(lambda: history.delete_history(ld.tenant, entity_id, iri)):
            raise ResourceNotFound(f"entity {entity_id} has no history of {attr}")
        return Response(status_code=204)

    @router.delete("/entities/{entity_id:path}", status_code=204,
                   summary="Delete a temporal entity (its history and the entity)")
    async def delete_temporal(entity_id: str, request: Request) -> Response:
        check_uri(entity_id, "entity id")
        tenant = tenant_of(request)

        def gone_before() -> bool:
            return history.gone_entity(tenant, entity_id) is not None

        existed = await run(lambda: services.store.get(tenant, entity_id) is not None)
        had_history = await run(gone_before)
        if existed:
            await write_one(services, tenant, entity_id, mut.delete_entity(entity_id))
        removed = await run(lambda: history.delete_history(tenant, entity_id))
        if not (existed or had_history or removed):
            raise ResourceNotFound(f"entity {entity_id} not found", instance=entity_id)
        return Response(status_code=204)

    return router


def _temporal_body(body: Any, ld: LdRequest) -> tuple[Entity, list[tuple[str, Instance]]]:
    """A temporal entity: its head (id, type, scope) and every attribute
    instance, each attribute an array of instances (datasetIds may repeat)."""
    if not isinstance(body, dict):
        raise BadRequestData("a temporal entity must be a JSON object")
    raw_head = {k: v for k, v in body.items() if k in ("id", "@id", "type", "@type", "scope")}
    head = parse_entity(raw_head, ld.terms)
    instances: list[tuple[str, Instance]] = []
    for key, value in body.items():
        if key in raw_head or key == "@context" or key in ENTITY_KEYS:
            continue
        iri = ld.terms.expand(check_name(key))
        for item in value if isinstance(value, list) else [value]:
            instances.append((iri, parse_instance(key, item, ld.terms)))
    return head, instances


def _latest(instances: list[tuple[str, Instance]]) -> dict[tuple[str, Any], Instance]:
    """The most recent instance of each attribute series (by observedAt): the
    entity's current state when a temporal create makes it."""
    latest: dict[tuple[str, Any], Instance] = {}
    for attr, inst in instances:
        key = (attr, inst.get("datasetId"))
        best = latest.get(key)
        if best is None or str(inst.get("observedAt", "")) >= str(best.get("observedAt", "")):
            latest[key] = inst
    return latest


def _stamp(inst: Instance, now: str) -> Instance:
    return {**inst, "createdAt": now, "modifiedAt": now}


def _find(
    history: HistoryStore, tenant: str, entity_id: str, attr: str, instance_id: str
) -> Record | None:
    where = parse_instance_id(instance_id)
    if where is None:
        return None
    t = where[0]
    window = HistoryRange(attrs=frozenset({attr}), timeproperty="observedAt")
    for record in history.history(tenant, entity_id, window).get(attr, []):
        if record.t == t and record.instance_id == instance_id:
            return record
    return None


def aggregation_window(time: TimeFilter, now: str) -> HistoryRange:
    """The read window of an aggregated query, with its period boundaries when chunk
    summaries can answer exactly: a start is given (periods are aligned on it) and
    distinctCount, which summaries keep only approximately, is not asked."""
    window = time.window
    if window.start is None or "distinctCount" in time.aggr_methods:
        return window
    end = window.end if window.end is not None else to_ms(now) + 86_400_000
    bounds = period_bounds(window.start, end, time.aggr_period)
    return window if bounds is None else dataclasses.replace(window, periods=bounds)
