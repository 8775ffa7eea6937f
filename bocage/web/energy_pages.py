"""The history dashboards' pages (questions 11, 12, 13, 15): reading, caching, routes.

Everything is read through the visitor's scoped store: the entities of each kind
(``Store.query``), then each one's history of the year (``history_columns``),
aggregated per period as the temporal API's ``aggregatedValues`` does
(``bocage.history.aggregate``). The figures of a view (tenant × read scopes) are
kept in a :class:`SummaryCache` (``ui_cache_seconds``, refreshed in the background),
so a page view costs the building of its table, not a year of history.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, cast

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from bocage.api.calls import run
from bocage.api.services import Services
from bocage.domain.access import ANONYMOUS, Action, Principal
from bocage.domain.entity import Entity
from bocage.domain.errors import NonexistentTenant
from bocage.domain.query import EntityQuery
from bocage.domain.temporal import HistoryRange, Series
from bocage.domain.terms import Terms
from bocage.domain.timefmt import format_utc
from bocage.history.aggregate import Result, aggregate_series, period_bounds
from bocage.history.duration import Duration, parse_duration
from bocage.security.scoped_store import acting_as, current_principal
from bocage.storage.base import Store
from bocage.storage.history_base import HistoryStore
from bocage.web.cache import SummaryCache
from bocage.web.dashboards import Table, to_csv
from bocage.web.energy_dashboards import HISTORY_BOARDS, Gym, HistoryBoard, Meter
from bocage.web.energy_figures import (
    Tariffs,
    energy_from_power,
    index_deltas,
    per_day,
    year_start_ms,
)
from bocage.web.equipment import Equipment, place_of
from bocage.web.i18n import Translator
from bocage.web.territory import entities

HOUR: Duration = parse_duration("PT1H")
DAY: Duration = parse_duration("P1D")
Page = Callable[..., Response]


def tariffs_of(services: Services) -> Tariffs:
    s = services.settings
    return Tariffs(s.tariff_electricity_eur_kwh, s.tariff_gas_eur_kwh,
                   s.tariff_electricity_subscription_eur_year,
                   s.tariff_gas_subscription_eur_year, s.tariff_gas_kwh_per_m3)


# ------------------------------------------------------------------ reading history


def _value(entity: Entity, iri: str) -> Any:
    instances = entity.get(iri)
    if not isinstance(instances, list) or not instances:
        return None
    first = instances[0]
    for key in ("value", "object", "vocab"):
        if key in first:
            return first[key]
    return None


def _aggregate(series: Sequence[Series], methods: tuple[str, ...], start: int, end: int,
               period: Duration) -> Result:
    """The default-dataset series of one attribute, aggregated (raw points and the
    summaries of downsampled tiers alike, as the temporal API does)."""
    chosen = [s for s in series if not s.dataset] or list(series[:1])
    if not chosen:
        return {m: [] for m in methods}
    s = chosen[0]
    return aggregate_series(s.times, s.values, s.buckets, methods, start, end, period)


class Reader:
    """One view's reading of the year: the store is the visitor's scoped store."""

    def __init__(self, store: Store, tenant: str, terms: Terms, now_ms: int) -> None:
        self.store, self.tenant, self.terms = store, tenant, terms
        self.end = now_ms
        self.start = year_start_ms(now_ms)

    def iri(self, term: str) -> str:
        return self.terms.expand(term)

    def of_type(self, name: str) -> list[Entity]:
        return list(entities(self.store, self.tenant,
                             EntityQuery(types=((self.iri(name),),))))

    def aggregated(self, entity_id: str, attr: str, methods: tuple[str, ...],
                   period: Duration) -> Result:
        window = HistoryRange(attrs=frozenset({self.iri(attr)}), start=self.start,
                              end=self.end,
                              periods=period_bounds(self.start, self.end, period))
        series = cast(HistoryStore, self.store).history_columns(self.tenant, entity_id, window)
        return _aggregate(series, methods, self.start, self.end, period)

    def place(self, entity: Entity) -> tuple[str, str]:
        p = place_of(entity.get("scope") or ())
        return p.epci or "", p.commune or ""

    def name(self, entity: Entity) -> str:
        return str(_value(entity, self.iri("name")) or entity["id"])

    def index_meter(self, entity: Entity, kind: str, attr: str) -> Meter:
        found = self.aggregated(entity["id"], attr, ("min", "max"), DAY)
        periods = [(start, low, high) for (low, start, _), (high, _, _)
                   in zip(found["min"], found["max"], strict=True)
                   if isinstance(low, int | float) and isinstance(high, int | float)]
        epci, commune = self.place(entity)
        return Meter(entity["id"], self.name(entity), epci, commune, kind,
                     tuple(per_day(index_deltas(periods)).items()))

    def pv(self) -> list[Meter]:
        out = []
        for e in self.of_type("PhotovoltaicMeasurement"):
            found = self.aggregated(e["id"], "activePower", ("avg",), HOUR)  # kW
            kwh = energy_from_power(
                (v if isinstance(v, int | float) else None, a, b) for v, a, b in found["avg"])
            peak = _value(e, self.iri("peakPower"))
            epci, commune = self.place(e)
            out.append(Meter(e["id"], self.name(e), epci, commune, "pv",
                             tuple(per_day(kwh).items()),
                             float(peak) if isinstance(peak, int | float) else None))
        return out

    def measurements(self, controlled: str, kind: str) -> list[Meter]:
        """DeviceMeasurement meters of one ``controlledProperty`` (their ``numValue``)."""
        wanted = [e for e in self.of_type("DeviceMeasurement")
                  if _value(e, self.iri("controlledProperty")) in (controlled, [controlled])]
        return [self.index_meter(e, kind, "numValue") for e in wanted]

    def electricity(self) -> list[Meter]:
        return [self.index_meter(e, "electricity", "totalActiveEnergyImport")
                for e in self.of_type("ACMeasurement")]

    def gyms(self) -> list[Gym]:
        halls = [e for e in self.of_type("Building")
                 if "sportsCentre" in (_value(e, self.iri("category")) or ())]
        if not halls:
            return []
        ref = self.iri("refBuilding")
        meters = {_value(e, ref): e for e in self.of_type("ACMeasurement")}
        counters = {_value(e, ref): e for e in self.of_type("IndoorEnvironmentObserved")
                    if self.iri("peopleCount") in e}
        out = []
        for hall in halls:
            meter = meters.get(hall["id"])
            if meter is None:
                continue
            power = self.aggregated(meter["id"], "totalActivePower", ("avg",), HOUR)["avg"]
            people: dict[int, int] = {}
            counter = counters.get(hall["id"])
            if counter is not None:
                for v, a, _ in self.aggregated(counter["id"], "peopleCount", ("max",),
                                               HOUR)["max"]:
                    if isinstance(v, int | float):
                        people[a] = int(v)
            hours = tuple((a, float(v), people.get(a) if counter is not None else None)
                          for v, a, _ in power if isinstance(v, int | float))
            epci, commune = self.place(hall)
            out.append(Gym(hall["id"], self.name(hall), epci, commune, hours))
        return out

    def read(self, board: HistoryBoard) -> list[Any]:
        if board.kinds == ("gym",):
            return self.gyms()
        out: list[Any] = []
        for kind in board.kinds:
            if kind == "pv":
                out += self.pv()
            elif kind == "heat":
                out += self.measurements("energy", "heat")
            elif kind == "gas":
                out += self.measurements("gasConsumption", "gas")
            elif kind == "electricity":
                out += self.electricity()
        return out


def _now_ms(services: Services) -> int:
    return int(dt.datetime.fromisoformat(services.now().replace("Z", "+00:00"))
               .timestamp() * 1000)


def in_area(items: Sequence[Any], epci: str | None, commune: str | None) -> list[Any]:
    if commune:
        return [i for i in items if i.commune == commune]
    if epci:
        return [i for i in items if i.epci == epci]
    return list(items)


# ------------------------------------------------------------------ routes


def build_router(services: Services, page: Page, translator: Callable[[Request], Translator],
                 cell: Callable[[Translator, str, Any, bool], str],
                 equipment: Callable[[Request], Awaitable[list[Equipment]]]) -> APIRouter:
    router = APIRouter(prefix="/ui", include_in_schema=False)
    tariffs = tariffs_of(services)
    boards = {b.slug: b for b in HISTORY_BOARDS}
    viewers: dict[str, Principal] = {}

    def load(key: str) -> list[Any]:
        tenant, slug, _ = key.split("\x00", 2)
        with acting_as(viewers.get(key, ANONYMOUS)):
            reader = Reader(services.store, tenant, services.contexts.core_term_map,
                            _now_ms(services))
            try:
                return reader.read(boards[slug])
            except NonexistentTenant:
                return []

    figures: SummaryCache[list[Any]] = SummaryCache(load,
                                                   services.settings.ui_history_cache_seconds)

    def cache_key(request: Request, slug: str) -> str:
        scopes = current_principal().scopes(Action.ENTITIES_READ)
        seen = "*" if scopes is None else "|".join(sorted(scopes))
        return f"{request.headers.get('NGSILD-Tenant', '')}\x00{slug}\x00{seen}"

    shown: dict[tuple[str, str | None, str | None, str], tuple[list[Any], dict[str, Any]]] = {}

    def view_of(board: HistoryBoard, readings: list[Any], epci: str | None,
                commune: str | None, t: Translator) -> dict[str, Any]:
        chosen = in_area(readings, epci, commune)
        table, chart = board.build(chosen, tariffs)
        extra = board.extra(chosen) if board.extra else None
        return {"figures": [(t(k), cell(t, k, v, False)) for k, v in table.figures],
                "table": formatted(table, t), "extra": formatted(extra, t) if extra else None,
                "chart": chart.as_json(t)}

    def formatted(table: Table, t: Translator) -> dict[str, Any]:
        """Headers translated, cells formatted; the link column becomes each row's link."""
        link = table.link_column
        return {"headers": [t(h) for i, h in enumerate(table.headers) if i != link],
                "rows": [(row[link] if link is not None else None,
                          [cell(t, table.headers[i], v, False) for i, v in enumerate(row)
                           if i != link]) for row in table.rows]}

    def handler(board: HistoryBoard) -> Callable[[Request], Awaitable[Response]]:
        async def dashboard(request: Request) -> Response:
            params = request.query_params
            epci, commune = params.get("epci") or None, params.get("commune") or None
            if not all(code.isalnum() for code in (epci, commune) if code):
                return page(request, "error.html", status=404, message_key="error.not_found",
                            subject=commune or epci)
            key = cache_key(request, board.slug)
            viewers[key] = current_principal()
            readings = await run(lambda: figures.get(key))
            t = translator(request)
            if params.get("format") == "csv":
                table, _ = board.build(in_area(readings, epci, commune), tariffs)
                text = to_csv(table, t, lambda v: cell(t, "", v, True))
                actor = current_principal().name
                await run(lambda: services.security.audit(
                    actor, "export", f"dashboard:{board.slug}",
                    {"epci": epci, "commune": commune, "rows": len(table.rows)}))
                name = f"bocage-{board.slug}-{commune or epci or 'territoire'}.csv"
                return Response("\ufeff" + text, media_type="text/csv; charset=utf-8",
                                headers={"Content-Disposition": f'attachment; filename="{name}"'})
            # what the page shows, formatted once per set of figures (they change at a refresh)
            memo_key = (key, epci, commune, t.lang)
            made = shown.get(memo_key)
            if made is None or made[0] is not readings:
                if len(shown) > 512:  # areas come from the query string: keep it bounded
                    shown.clear()
                made = shown[memo_key] = (readings, view_of(board, readings, epci, commune, t))
            items = await equipment(request)
            epcis = sorted({i.place.epci for i in items if i.place.epci})
            communes = sorted({(i.place.epci or "", i.place.commune) for i in items
                               if i.place.commune})
            csv_query = "&".join(f"{k}={v}" for k, v in (("epci", epci), ("commune", commune))
                                 if v)
            return page(request, "history_dashboard.html", board=board, **made[1],
                        epci=epci or "", commune=commune or "", epcis=epcis,
                        communes=communes, tariffs=tariffs, csv_query=csv_query,
                        since=format_utc(dt.datetime.fromtimestamp(
                            year_start_ms(_now_ms(services)) / 1000, dt.UTC)))
        return dashboard

    for board in HISTORY_BOARDS:
        router.add_api_route(f"/tableaux/{board.slug}", handler(board), methods=["GET"],
                             summary=f"Dashboard of question {board.question}")
    return router
