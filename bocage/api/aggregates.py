"""``GET /api/aggregates``: an attribute aggregated over every entity of a territory level.

    /api/aggregates?type=PhotovoltaicMeasurement&attrs=activePower&level=epci
        &aggrMethods=sum,avg,max&aggrPeriodDuration=P1M
        &timeAt=2026-01-01T00:00:00Z&endTimeAt=2027-01-01T00:00:00Z[&scopeQ=/FR/01]

answers, per commune, EPCI, département or for the whole asked territory, the NGSI-LD
aggregation methods per period, from the territory rollups compaction keeps
(``bocage.history.rollup``): one row per scope and day, never the sensors' histories.
Readings still in the uncompacted tail (the last ``history_compact_after_minutes``) are
not counted yet. The caller sees the aggregate of what it may read there (its scopes,
open data for anonymous visitors). Without ``type`` and ``attrs``, the (type, attribute)
pairs that have rollups there.
"""

from __future__ import annotations

from typing import Any, cast

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from bocage.api.calls import run
from bocage.api.negotiation import json_response, tenant_of
from bocage.api.openapi_docs import doc, query_param
from bocage.api.services import Services
from bocage.domain.errors import BadRequestData
from bocage.domain.timefmt import from_ms, to_ms
from bocage.history.duration import parse_duration
from bocage.history.rollup import ROLLUP_METHODS, aggregate_rollups, check_query
from bocage.storage.history_base import HistoryStore

PARAMS = (
    ("type", "Entity type (a term of the core context or an IRI)."),
    ("attrs", "The attribute to aggregate (one)."),
    ("level", "commune, epci, departement or territory (default territory)."),
    ("scopeQ", "The territory: a scope and its subtree (default: everything you may read)."),
    ("aggrMethods", f"Among {', '.join(ROLLUP_METHODS)}."),
    ("aggrPeriodDuration", "Whole days, weeks, months or years (P1D, P1W, P1M, P1Y)."),
    ("timeAt", "Start: a UTC midnight."),
    ("endTimeAt", "End (exclusive)."),
)


def _instant(params: Any, name: str) -> int:
    text = params.get(name)
    if not text:
        raise BadRequestData(f"{name} is required (ISO 8601 date-time)")
    try:
        return to_ms(text)
    except (ValueError, TypeError):
        raise BadRequestData(f"{name} is not an ISO 8601 date-time: {text!r}") from None


def _names() -> dict[str, str]:
    """Human names of EPCI and communes, by the last level of their scope."""
    from bocage.simulator.communes import all_communes, all_epci

    names = {e.siren: e.name for e in all_epci().values()}
    names.update((c.insee, c.name) for c in all_communes())
    return names


def build_router(services: Services) -> APIRouter:
    router = APIRouter(prefix="/api", tags=["Territory aggregates"])
    store = cast(HistoryStore, services.store)
    terms = services.contexts.core_term_map

    @router.get("/aggregates", summary="Aggregate an attribute per commune / EPCI / territory",
                openapi_extra=doc(*(query_param(name, text) for name, text in PARAMS)))
    async def aggregates(request: Request) -> Response:
        q = request.query_params
        etype, attr = q.get("type") or "", q.get("attrs") or ""
        tenant = tenant_of(request)
        if not etype and not attr:  # what can be asked, under the caller's scopes
            pairs = await run(lambda: store.rollup_series(tenant, None))
            return json_response({"available": [
                {"type": terms.compact(t), "attribute": terms.compact(a)} for t, a in pairs]})
        if not etype or not attr or "," in etype or "," in attr:
            raise BadRequestData("give one entity type (type) and one attribute (attrs)")
        methods = [m for m in (q.get("aggrMethods") or "").split(",") if m]
        if not methods:
            raise BadRequestData("aggrMethods is required")
        level = q.get("level") or "territory"
        start, end = _instant(q, "timeAt"), _instant(q, "endTimeAt")
        if end <= start:
            raise BadRequestData("endTimeAt must be after timeAt")
        if end - start > 20 * 366 * 86_400_000:
            raise BadRequestData("at most twenty years at once")
        period = parse_duration(q["aggrPeriodDuration"]) if q.get("aggrPeriodDuration") \
            else None
        check_query(methods, start, period, level)
        scope = q.get("scopeQ") or None
        if scope is not None and (not scope.startswith("/") or any(
                c in scope for c in "+#;|,()")):
            raise BadRequestData("scopeQ here is one scope, e.g. /FR/01/240100883")
        rows = await run(lambda: store.rollups(
            tenant, terms.expand(etype), terms.expand(attr),
            None if scope is None else (scope,), start, end))
        groups = aggregate_rollups(rows, methods, start, end, period, level, scope or "/")
        names = _names() if level in ("commune", "epci") else {}
        body = {
            "type": etype, "attribute": attr, "level": level, "scope": scope or "/",
            "groups": [
                {"scope": group, **({"name": names[group.rsplit("/", 1)[-1]]}
                                    if group.rsplit("/", 1)[-1] in names else {}),
                 **{m: [[v, from_ms(a), from_ms(b)] for v, a, b in result[m]]
                    for m in methods}}
                for group, result in sorted(groups.items())],
        }
        return json_response(body)

    return router
