"""The hypervisor's web pages (server-rendered, Jinja2; htmx and Leaflet vendored).

Routes live under ``/ui``; ``/`` redirects there. Pages never run inline
script (a strict Content-Security-Policy can forbid it): data reaches the
scripts in ``static/js`` through ``data-`` attributes and JSON endpoints.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
from fastapi import APIRouter
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from bocage import __version__
from bocage.api.calls import run
from bocage.api.services import Services
from bocage.domain.access import ANONYMOUS, Action, Principal
from bocage.domain.errors import NonexistentTenant
from bocage.security.scoped_store import acting_as, current_principal
from bocage.supervision.records import ALARM_OPEN, Alarm, Intervention
from bocage.supervision.rules import SEVERITIES
from bocage.supervision.service import Supervisor
from bocage.web import (
    access_pages,
    energy_pages,
    lighting_pages,
    live_pages,
    login_pages,
    quality_pages,
    sobriety_pages,
    supervision_pages,
)
from bocage.web.cache import SummaryCache
from bocage.web.dashboards import BY_SLUG, DASHBOARDS, to_csv
from bocage.web.energy_dashboards import HISTORY_BOARDS
from bocage.web.equipment import (
    DOMAINS,
    STATUSES,
    Equipment,
    by_domain,
    tally,
)
from bocage.web.i18n import LANGUAGES, Translator, catalogue, pick_language
from bocage.web.supervision_pages import csrf_token, with_csrf
from bocage.web.territory import View, in_area

STATIC = Path(__file__).parent / "static"
LANG_COOKIE = "bocage_lang"


def _environment() -> Environment:
    env = Environment(loader=PackageLoader("bocage.web"), autoescape=select_autoescape(),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["q"] = lambda text: quote(str(text), safe="")
    env.globals["grant_summary"] = login_pages.grant_summary
    return env


def build_router(services: Services, supervisor: Supervisor | None = None) -> APIRouter:
    # alarms and interventions through the visitor's scopes
    supervisor = supervisor.over(services.store) if supervisor is not None else None
    router = APIRouter(prefix="/ui", include_in_schema=False)
    env = _environment()
    offline_after = dt.timedelta(hours=services.settings.offline_after_hours)

    def view(request: Request) -> View:
        return View(services.store, tenant_of(request), services.contexts.core_term_map,
                    offline_after)

    def tenant_of(request: Request) -> str:
        return request.headers.get("NGSILD-Tenant", "")

    # Visitors see what their grants let them read (the store is scoped), so summaries
    # are kept per tenant *and* per set of read scopes: visitors with the same read
    # scopes see the same entities and share them. The refresh thread acts as such a
    # visitor (a new thread does not inherit the request's principal).
    viewers: dict[str, Principal] = {}

    def view_key(request: Request) -> str:
        scopes = current_principal().scopes(Action.ENTITIES_READ)
        seen = "*" if scopes is None else "|".join(sorted(scopes))
        return f"{tenant_of(request)}\x00{seen}"

    def load(key: str) -> list[Equipment]:
        tenant = key.split("\x00", 1)[0]
        with acting_as(viewers.get(key, ANONYMOUS)):
            try:
                items = View(services.store, tenant, services.contexts.core_term_map,
                             offline_after).equipment()
            except NonexistentTenant:
                return []
            if supervisor is None:
                return items
            # open alarms and interventions in progress say more than the entity's own state
            alarms = {a.source: a for a in supervisor.alarms(tenant, status=ALARM_OPEN)}
            working = {i.equipment for i in supervisor.interventions(tenant,
                                                                     status=("inProgress",))}
        return [with_supervision(i, alarms, working) for i in items]

    summaries: SummaryCache[list[Equipment]] = SummaryCache(load,
                                                            services.settings.ui_cache_seconds)

    def translator(request: Request) -> Translator:
        return Translator(pick_language(request.query_params.get("lang"),
                                        request.cookies.get(LANG_COOKIE)))

    def page(request: Request, template: str, status: int = 200, **values: Any) -> Response:
        t = translator(request)
        html = env.get_template(template).render(
            t=t, lang=t.lang, languages=LANGUAGES, path=request.url.path,
            query=str(request.url.query), version=__version__, domains=DOMAINS,
            statuses=STATUSES, settings=services.settings, viewer=current_principal(),
            **login_pages.session_values(request), **values)
        return with_csrf(request, HTMLResponse(html, status_code=status))

    async def equipment(request: Request) -> list[Equipment]:
        key = view_key(request)
        viewers[key] = current_principal()
        return await run(lambda: summaries.get(key))

    @router.get("/", summary="Overview")
    async def overview(request: Request) -> Response:
        items = await equipment(request)
        areas: dict[tuple[str, str], list[Equipment]] = {}
        for item in items:
            if item.place.epci and item.place.commune:
                areas.setdefault((item.place.epci, item.place.commune), []).append(item)
        return page(request, "overview.html", total=tally(items), domains_tally=by_domain(items),
                    communes=sorted((key, tally(group)) for key, group in areas.items()),
                    alarms=[i for i in items if i.status == "alarm"][:20])

    @router.get("/carte", summary="Territory map")
    async def map_page(request: Request) -> Response:
        items = await equipment(request)
        epcis = sorted({i.place.epci for i in items if i.place.epci})
        communes = sorted({(i.place.epci or "", i.place.commune) for i in items
                           if i.place.commune})
        return page(request, "map.html", epcis=epcis, communes=communes,
                    tiles=services.settings.map_tiles_url,
                    attribution=services.settings.map_tiles_attribution)

    #: (tenant, language) -> (the summaries it was made from, its JSON): one per view kept
    map_json: dict[tuple[str, str], tuple[list[Equipment], bytes]] = {}

    def markers_json(items: list[Equipment], t: Translator) -> bytes:
        type_label: dict[str, str] = {}
        for i in items:
            if i.type not in type_label:
                label = t(f"type.{i.type}")
                type_label[i.type] = i.type if label == f"type.{i.type}" else label
        # compact rows: [id, lat, lon, domain, status, name, epci, commune, type label]
        rows = [[i.id, i.lat, i.lon, i.domain, i.status, i.name, i.place.epci or "",
                 i.place.commune or "", type_label[i.type]]
                for i in items if i.lat is not None and i.lon is not None]
        labels = {"status": {s: t(f"status.{s}") for s in STATUSES},
                  "domain": {d: t(f"domain.{d}") for d in (*DOMAINS, "other")},
                  "open": t("map.open")}
        return orjson.dumps({"markers": rows, "labels": labels})

    @router.get("/carte/equipements.json", summary="Map markers")
    async def map_data(request: Request) -> Response:
        items = await equipment(request)
        t = translator(request)
        key = (view_key(request), t.lang)
        made = map_json.get(key)
        if made is None or made[0] is not items:  # the summaries were refreshed
            made = map_json[key] = (items, markers_json(items, t))
        return Response(made[1], media_type="application/json")

    @router.get("/equipements/{entity_id:path}", summary="One piece of equipment")
    async def equipment_page(request: Request, entity_id: str) -> Response:
        v = view(request)
        try:
            found = await run(lambda: v.one(entity_id))
        except NonexistentTenant:
            found = None
        if found is None:
            return page(request, "error.html", status=404, message_key="error.not_found",
                        subject=entity_id)
        _, item = found
        device = None
        if item.device is not None:
            dev = await run(lambda: v.one(item.device or ""))
            device = dev[1] if dev else None
        alarms: list[Alarm] = []
        works: list[Intervention] = []
        if supervisor is not None:
            ids = [item.id] + ([item.device] if item.device else [])
            tenant = tenant_of(request)
            for ident in ids:
                alarms += await run(functools.partial(supervisor.alarms, tenant,
                                                      status=ALARM_OPEN, source=ident))
            works = await run(lambda: supervisor.interventions(tenant_of(request),
                                                               equipment=item.id))
        problem = request.query_params.get("erreur")
        request_error = {"description": "form.description_missing",
                         "severity": "form.severity_invalid"}.get(problem or "")
        chartable = [(val.name, val.iri) for val in item.values
                     if isinstance(val.value, int | float) and not isinstance(val.value, bool)]
        t = translator(request)
        return with_csrf(request, page(
            request, "equipment.html", status=400 if request_error else 200, item=item,
            device=device, chartable=chartable, alarms=alarms, works=works,
            csrf=csrf_token(request), severities=SEVERITIES, now=services.now(),
            request_error=t(request_error) if request_error else "",
            request_field=problem or ""))

    @router.get("/communes/{insee}", summary="A commune")
    async def commune_page(request: Request, insee: str) -> Response:
        return await area_page(request, commune=insee)

    @router.get("/epci/{siren}", summary="An EPCI")
    async def epci_page(request: Request, siren: str) -> Response:
        return await area_page(request, epci=siren)

    async def area_page(request: Request, epci: str | None = None,
                        commune: str | None = None) -> Response:
        if not (epci or commune or "").isalnum():
            return page(request, "error.html", status=404, message_key="error.not_found",
                        subject=epci or commune)
        items = in_area(await equipment(request), epci=epci, commune=commune)
        if not items:
            return page(request, "error.html", status=404, message_key="error.no_equipment",
                        subject=epci or commune)
        communes: dict[str, list[Equipment]] = {}
        for item in items:
            communes.setdefault(item.place.commune or "", []).append(item)
        return page(request, "area.html", kind="commune" if commune else "epci",
                    code=commune or epci, epci=epci or items[0].place.epci, total=tally(items),
                    domains_tally=by_domain(items),
                    communes=sorted((c, tally(g)) for c, g in communes.items() if c),
                    problems=[i for i in items if i.status != "ok"][:50])

    def cell(t: Translator, header: str, value: Any, for_csv: bool = False) -> str:
        if value is None:
            return "" if for_csv else "–"
        if isinstance(value, bool):
            return t(f"value.{str(value).lower()}")
        if header == "tally.rate" and isinstance(value, float):
            return t.percent(value)
        if isinstance(value, int | float):
            if for_csv:
                text = repr(value)
                return text.replace(".", ",") if t.lang == "fr" else text
            return t.number(value, 2)
        text = str(value)
        if text in catalogue(t.lang):
            return t(text)
        if len(text) >= 20 and text[10:11] == "T" and text.endswith("Z"):
            return t.when(text)
        return text

    # the dashboards over history (questions 11, 12, 13, 15), before /tableaux/{slug}
    router.routes.extend(energy_pages.build_router(services, page, translator, cell,
                                                   equipment).routes)

    @router.get("/tableaux", summary="Dashboards")
    async def dashboards_page(request: Request) -> Response:
        return page(request, "dashboards.html", dashboards=sorted(
            (*DASHBOARDS, *HISTORY_BOARDS), key=lambda d: d.question))

    @router.get("/tableaux/{slug}", summary="One dashboard")
    async def dashboard_page(request: Request, slug: str) -> Response:
        board = BY_SLUG.get(slug)
        if board is None:
            return page(request, "error.html", status=404, message_key="error.not_found",
                        subject=slug)
        params = request.query_params
        epci, commune = params.get("epci") or None, params.get("commune") or None
        all_items = await equipment(request)
        items = in_area(all_items, epci=epci, commune=commune)
        table = board.build(items)
        t = translator(request)
        if params.get("format") == "csv":
            text = to_csv(table, t, lambda v: cell(t, "", v, for_csv=True))
            actor = current_principal().name
            await run(lambda: services.security.audit(actor, "export", f"dashboard:{slug}", {
                "epci": epci, "commune": commune, "rows": len(table.rows)}))
            name = f"bocage-{slug}-{commune or epci or 'territoire'}.csv"
            return Response("\ufeff" + text, media_type="text/csv; charset=utf-8", headers={
                "Content-Disposition": f'attachment; filename="{name}"'})
        epcis = sorted({i.place.epci for i in all_items if i.place.epci})
        communes = sorted({(i.place.epci or "", i.place.commune) for i in all_items
                           if i.place.commune})
        csv_query = "&".join(f"{k}={v}" for k, v in (("epci", epci), ("commune", commune)) if v)
        return page(request, "dashboard.html", board=board, table=table, epci=epci or "",
                    commune=commune or "", epcis=epcis, communes=communes,
                    cell=lambda h, v: cell(t, h, v), csv_query=csv_query)

    @router.get("/langue", summary="Switch language")
    async def switch_language(request: Request) -> Response:
        lang = pick_language(request.query_params.get("lang"), None)
        target = request.query_params.get("next", "/ui/")
        if not target.startswith("/") or target.startswith("//"):
            target = "/ui/"  # never an open redirect
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, httponly=True,
                            samesite="lax")
        return response

    router.routes.extend(login_pages.build_router(services, page).routes)
    router.routes.extend(access_pages.build_router(services, page).routes)
    router.routes.extend(quality_pages.build_router(
        services, page, translator, equipment, summaries.invalidate).routes)
    router.routes.extend(sobriety_pages.build_router(page, translator).routes)

    def one_item(request: Request, entity_id: str) -> Equipment | None:
        found = view(request).one(entity_id)
        return found[1] if found else None

    router.routes.extend(live_pages.build_router(page, translator, equipment, view_key,
                                                 one_item).routes)
    router.routes.extend(lighting_pages.build_router(services, page, translator).routes)
    if supervisor is not None:
        router.routes.extend(supervision_pages.build_router(
            services, supervisor, page, translator, summaries.invalidate).routes)
    return router


def with_supervision(item: Equipment, alarms: dict[str, Alarm],
                     working: set[str]) -> Equipment:
    """An equipment's state once its open alarms and interventions are known."""
    alarm = alarms.get(item.id) or (alarms.get(item.device) if item.device else None)
    if alarm is not None and item.status != "alarm":
        return dataclasses.replace(item, status="alarm", reason=alarm.rule_name)
    if item.id in working and item.status == "ok":
        return dataclasses.replace(item, status="maintenance", reason="intervention")
    return item


def mount_static() -> Mount:
    return Mount("/ui/static", app=StaticFiles(directory=STATIC), name="ui-static")


def root_redirect() -> Callable[[Request], Any]:
    async def root(request: Request) -> Response:
        return RedirectResponse("/ui/", status_code=307)

    return root
