"""The equipment of the territory, read through the store for the web UI.

Every page reads through the same :class:`Store` as the NGSI-LD API (so the
same tenant and, with authentication, the same scoping apply), pages through
the whole result, and reduces entities to :class:`Equipment` summaries.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from bocage.domain.entity import Entity
from bocage.domain.query import EntityQuery
from bocage.domain.terms import Terms
from bocage.storage.base import Store
from bocage.web.equipment import Equipment, is_equipment, summarize

PAGE = 1000


def entities(store: Store, tenant: str, query: EntityQuery) -> Iterator[Entity]:
    """Every entity ``query`` selects, page by page (its limit/offset are ignored)."""
    offset = 0
    while True:
        page = store.query(tenant, EntityQuery(
            ids=query.ids, id_pattern=query.id_pattern, types=query.types, attrs=query.attrs,
            q=query.q, geo=query.geo, scope_q=query.scope_q, limit=PAGE, offset=offset))
        yield from page.entities
        if len(page.entities) < PAGE:
            return
        offset += PAGE


def in_area(items: list[Equipment], epci: str | None = None,
            commune: str | None = None) -> list[Equipment]:
    """The equipment of one commune (by INSEE code) or one EPCI (by SIREN)."""
    if commune is not None:
        return [i for i in items if i.place.commune == commune]
    if epci is not None:
        return [i for i in items if i.place.epci == epci]
    return items


@dataclass(frozen=True, slots=True)
class View:
    store: Store
    tenant: str
    terms: Terms
    offline_after: dt.timedelta

    def equipment(self, query: EntityQuery | None = None,
                  now: dt.datetime | None = None) -> list[Equipment]:
        moment = now or dt.datetime.now(dt.UTC)
        short: dict[str, str] = {}  # IRI -> compact name: a few dozen IRIs for a territory

        def compact(iri: str) -> str:
            name = short.get(iri)
            if name is None:
                name = short[iri] = self.terms.compact(iri)
            return name

        return [summarize(e, compact, moment, self.offline_after)
                for e in entities(self.store, self.tenant, query or EntityQuery())
                if is_equipment(e)]

    def one(self, entity_id: str) -> tuple[Entity, Equipment] | None:
        entity = self.store.get(self.tenant, entity_id)
        if entity is None:
            return None
        summary = summarize(entity, self.terms.compact, dt.datetime.now(dt.UTC),
                            self.offline_after)
        return entity, summary
