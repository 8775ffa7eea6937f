"""Enforcement at the storage layer: a Store that only shows the caller's scopes.

:class:`ScopedStore` wraps any :class:`bocage.storage.base.Store` for one
:class:`Principal`, and is itself a Store, so every route, service and future
feature that reads or writes entities through it is filtered without knowing:

* a query gets the principal's read scopes ANDed into its ``scopeQ`` (the
  backends' own scopeQ machinery does the filtering, so pagination and
  ``count`` stay exact);
* ``get`` answers ``None`` for an entity outside them, exactly as for a
  missing one (the API then says 404, never 403: no hint that it exists);
* every mutation is wrapped: an entity the caller cannot read is handed to
  the mutation as absent; one it can read but not write is refused
  (:class:`Forbidden`); what the mutation produces must carry at least one
  scope inside the caller's write scopes and no scope outside them (the
  open-data scope excepted), so nobody can push data into another commune
  or take an entity out of its own;
* discovery (``types``, ``attributes``) is recomputed from the visible
  entities, so no count leaks from outside;
* history (the temporal API's HistoryStore) is read and written exactly as
  its entity may be; a deleted entity is judged by the scopes it had.

Open data: entities carrying the open-data scope (``BOCAGE_OPEN_DATA_SCOPE``,
``/open`` by default) or a scope under it are readable by everyone, anonymous
callers included; writing them still needs a write grant on another of their
scopes.

:class:`PrincipalStore` is what the HTTP app hands its routes as
``services.store``: it reads the principal of the current request from a
context variable (set by the authentication middleware) and delegates to a
``ScopedStore`` for it. Outside a request it acts for the anonymous principal:
code that must see everything (the ingestion pipeline, the CLI) is given the
raw store explicitly.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import cast

from bocage.domain.access import ANONYMOUS, Action, Principal, covers
from bocage.domain.entity import ENTITY_KEYS, Entity, Instance
from bocage.domain.errors import AlreadyExists, Forbidden, ResourceNotFound
from bocage.domain.query import EntityQuery, QueryPage
from bocage.domain.temporal import History, HistoryRange, Series
from bocage.history.frame import Frame
from bocage.history.retention import Policy
from bocage.history.rollup import DayTotals
from bocage.ngsild.scopeq import ScopeQ, and_scope_q
from bocage.storage.base import (
    AttributeInfo,
    Mutation,
    MutationResult,
    Store,
    TypeInfo,
    _Delete,
)
from bocage.storage.history_base import HistorySize, HistoryStore

_PAGE = 1000


@dataclass(frozen=True, slots=True)
class ScopedStore:
    """``store`` as ``principal`` may see it (see the module docstring)."""

    store: Store
    principal: Principal
    #: the open-data scope ("" = no open data)
    open_scope: str = "/open"
    #: the action whose scopes make an entity visible (a command endpoint looks its
    #: targets up with the command's action)
    read_action: Action = Action.ENTITIES_READ

    # ---------------------------------------------------------------- scopes

    def _read_scopes(self) -> tuple[str, ...] | None:
        mine = self.principal.scopes(self.read_action)
        if mine is None:
            return None
        return (*mine, self.open_scope) if self.open_scope else mine

    def _read_q(self) -> ScopeQ | None:
        """The principal's read scopes as a scopeQ; None when it sees everything."""
        scopes = self._read_scopes()
        if scopes is None:
            return None
        return tuple((s + "/#",) for s in scopes)

    def readable(self, entity: Entity) -> bool:
        scopes = self._read_scopes()
        if scopes is None:
            return True
        held = entity.get("scope") or ()
        return any(covers(g, s) for g in scopes for s in held if isinstance(s, str))

    def _writable(self, entity: Entity) -> bool:
        return self.principal.allows(Action.ENTITIES_WRITE, entity.get("scope") or ())

    def _check_result(self, entity: Entity) -> None:
        where = self.principal.scopes(Action.ENTITIES_WRITE)
        if where is None:
            return
        held = [s for s in entity.get("scope") or () if isinstance(s, str)]
        mine = [s for s in held if any(covers(g, s) for g in where)]
        stray = [s for s in held if s not in mine
                 and not (self.open_scope and covers(self.open_scope, s))]
        if not mine or stray:
            granted = ", ".join(where) or "none"
            raise Forbidden(
                f"entity {entity.get('id')}: an entity you write must carry at least one "
                f"scope within your write scopes ({granted}) and no scope outside them"
            )

    # ---------------------------------------------------------------- writes

    def _guard(self, mutation: Mutation) -> Mutation:
        if self.principal.scopes(Action.ENTITIES_WRITE) is None:
            return mutation  # writes everywhere: nothing to check
        inner = mutation.fn

        def fn(current: Entity | None) -> Entity | _Delete:
            hidden = current is not None and not self.readable(current)
            if current is not None and not hidden and not self._writable(current):
                raise Forbidden(f"entity {mutation.entity_id} is read-only for you")
            result = inner(None if hidden else current)
            if hidden and not isinstance(result, _Delete):
                # the id is taken by an entity the caller cannot see; say only that
                raise AlreadyExists(f"entity {mutation.entity_id} already exists",
                                    instance=mutation.entity_id)
            if not isinstance(result, _Delete):
                self._check_result(result)
            return result

        return Mutation(mutation.entity_id, fn)

    def apply(self, tenant: str, mutations: Sequence[Mutation]) -> list[MutationResult]:
        return self.store.apply(tenant, [self._guard(m) for m in mutations])

    def submit(self, tenant: str, mutations: Sequence[Mutation]) -> Future[list[MutationResult]]:
        return self.store.submit(tenant, [self._guard(m) for m in mutations])

    # ----------------------------------------------------------------- reads

    def get(self, tenant: str, entity_id: str) -> Entity | None:
        entity = self.store.get(tenant, entity_id)
        if entity is None or not self.readable(entity):
            return None
        return entity

    def query(self, tenant: str, query: EntityQuery) -> QueryPage:
        mine = self._read_q()
        if mine is None:
            return self.store.query(tenant, query)
        if not mine:  # reads nothing at all
            return QueryPage([], 0 if query.count else None)
        return self.store.query(tenant, replace(query, scope_q=and_scope_q(query.scope_q, mine)))

    def _visible(self, tenant: str) -> Iterator[Entity]:
        offset = 0
        while True:
            page = self.query(tenant, EntityQuery(limit=_PAGE, offset=offset))
            yield from page.entities
            if len(page.entities) < _PAGE:
                return
            offset += _PAGE

    def types(self, tenant: str) -> list[TypeInfo]:
        if self._read_q() is None:
            return self.store.types(tenant)
        counts: dict[str, int] = {}
        attrs: dict[str, dict[str, set[str]]] = {}
        for entity in self._visible(tenant):
            for t in entity.get("type") or ():
                counts[t] = counts.get(t, 0) + 1
                per_type = attrs.setdefault(t, {})
                for name, kinds in _attribute_kinds(entity):
                    per_type.setdefault(name, set()).update(kinds)
        return [TypeInfo(t, counts[t], attrs.get(t, {})) for t in sorted(counts)]

    def attributes(self, tenant: str) -> list[AttributeInfo]:
        if self._read_q() is None:
            return self.store.attributes(tenant)
        counts: dict[str, int] = {}
        kinds_of: dict[str, set[str]] = {}
        types_of: dict[str, set[str]] = {}
        for entity in self._visible(tenant):
            for name, kinds in _attribute_kinds(entity):
                counts[name] = counts.get(name, 0) + 1
                kinds_of.setdefault(name, set()).update(kinds)
                types_of.setdefault(name, set()).update(entity.get("type") or ())
        return [AttributeInfo(a, counts[a], kinds_of[a], types_of[a]) for a in sorted(counts)]

    def tenants(self) -> list[str]:
        if self._read_q() is None:
            return self.store.tenants()
        return []  # tenant names are platform configuration

    # ------------------------------------------------- history (temporal API)
    # An entity's history is visible and writable exactly as the entity is; a
    # deleted entity is judged by the scopes it had (``gone_entity``).

    def _history(self) -> HistoryStore:
        return cast(HistoryStore, self.store)

    def _head(self, tenant: str, entity_id: str) -> Entity | None:
        entity = self.store.get(tenant, entity_id)
        return entity if entity is not None else self._history().gone_entity(tenant, entity_id)

    def _history_access(self, tenant: str, entity_id: str, write: bool) -> bool:
        """Whether the caller may read (write) this entity's history; a write to a
        visible, read-only entity is Forbidden."""
        if self._read_q() is None and (
                not write or self.principal.scopes(Action.ENTITIES_WRITE) is None):
            return True
        head = self._head(tenant, entity_id)
        if head is None or not self.readable(head):
            return False
        if write and not self._writable(head):
            raise Forbidden(f"entity {entity_id} is read-only for you")
        return True

    def history(self, tenant: str, entity_id: str, window: HistoryRange) -> History:
        if not self._history_access(tenant, entity_id, write=False):
            return {}
        return self._history().history(tenant, entity_id, window)

    def history_frames(self, tenant: str, entity_id: str,
                       window: HistoryRange) -> list[Frame]:
        if not self._history_access(tenant, entity_id, write=False):
            return []
        return self._history().history_frames(tenant, entity_id, window)

    def history_columns(self, tenant: str, entity_id: str,
                        window: HistoryRange) -> list[Series]:
        if not self._history_access(tenant, entity_id, write=False):
            return []
        return self._history().history_columns(tenant, entity_id, window)

    def rollups(self, tenant: str, entity_type: str, attr: str,
                scopes: Sequence[str] | None, start_ms: int,
                end_ms: int) -> list[tuple[str, int, DayTotals]]:
        """Rollup rows under the asked scopes clipped to the caller's read scopes (an
        aggregate over a territory counts only what the caller could read there)."""
        return self._history().rollups(tenant, entity_type, attr,
                                       clip_scopes(scopes, self._read_scopes()),
                                       start_ms, end_ms)

    def rollup_series(self, tenant: str,
                      scopes: Sequence[str] | None) -> list[tuple[str, str]]:
        return self._history().rollup_series(tenant, clip_scopes(scopes, self._read_scopes()))

    def gone_entity(self, tenant: str, entity_id: str) -> Entity | None:
        head = self._history().gone_entity(tenant, entity_id)
        return head if head is not None and self.readable(head) else None

    def add_history(self, tenant: str, entity_id: str,
                    instances: Sequence[tuple[str, Instance]]) -> None:
        if not self._history_access(tenant, entity_id, write=True):
            raise ResourceNotFound(f"entity {entity_id} not found", instance=entity_id)
        self._history().add_history(tenant, entity_id, instances)

    def replace_instance(self, tenant: str, entity_id: str, attr: str, instance_id: str,
                         new: Instance | None) -> bool:
        if not self._history_access(tenant, entity_id, write=True):
            return False
        return self._history().replace_instance(tenant, entity_id, attr, instance_id, new)

    def delete_history(self, tenant: str, entity_id: str, attr: str | None = None) -> int:
        if not self._history_access(tenant, entity_id, write=True):
            return 0
        return self._history().delete_history(tenant, entity_id, attr)

    def compact(self, older_than_ms: int, max_records: int = 5000) -> int:
        self._platform_only()
        return self._history().compact(older_than_ms, max_records)

    def history_size(self) -> HistorySize:
        self._platform_only()
        return self._history().history_size()

    # retention policies: platform configuration, changed by a platform administrator
    def retention_policies(self) -> list[Policy]:
        return self._history().retention_policies()

    def put_retention_policy(self, policy: Policy) -> None:
        self._platform_only()
        self._history().put_retention_policy(policy)

    def delete_retention_policy(self, entity_type: str | None, attribute: str | None,
                                scope: str | None) -> bool:
        self._platform_only()
        return self._history().delete_retention_policy(entity_type, attribute, scope)

    def apply_retention(self, now_ms: int, policies: Sequence[Policy],
                        step: int = 500) -> tuple[int, int]:
        self._platform_only()
        return self._history().apply_retention(now_ms, policies, step)

    def _platform_only(self) -> None:
        if self.principal.scopes(Action.PLATFORM) is not None:
            raise Forbidden("history maintenance is instance-wide: it needs admin on /")

    # ---------------------------------------------- @contexts: vocabulary, not data

    def put_context(self, url: str, body: bytes, kind: str) -> None:
        self.store.put_context(url, body, kind)

    def get_context(self, url: str) -> tuple[bytes, str] | None:
        return self.store.get_context(url)

    def list_contexts(self) -> list[tuple[str, str]]:
        return self.store.list_contexts()

    def delete_context(self, url: str) -> bool:
        return self.store.delete_context(url)

    def ping(self) -> None:
        self.store.ping()

    def close(self) -> None:
        self.store.close()


def clip_scopes(asked: Sequence[str] | None,
                held: Sequence[str] | None) -> tuple[str, ...] | None:
    """The scopes (each with its subtree) inside both ``asked`` and ``held`` (None: no
    limit on that side): the deeper of two nested scopes, nothing of disjoint ones."""
    if held is None:
        return None if asked is None else tuple(asked)
    if asked is None:
        return tuple(held)
    out = []
    for a in asked:
        for h in held:
            if covers(h, a):
                out.append(a)
            elif covers(a, h):
                out.append(h)
    return tuple(dict.fromkeys(out))


def _attribute_kinds(entity: Entity) -> Iterator[tuple[str, set[str]]]:
    for name, instances in entity.items():
        if name in ENTITY_KEYS or not isinstance(instances, list):
            continue
        yield name, {str(i.get("type", "Property")) for i in instances if isinstance(i, dict)}


# ------------------------------------------------------- the per-request store

_current: ContextVar[Principal] = ContextVar("bocage_principal", default=ANONYMOUS)


def current_principal() -> Principal:
    return _current.get()


@contextmanager
def acting_as(principal: Principal) -> Iterator[None]:
    """Run a block (a request) as ``principal``."""
    token = _current.set(principal)
    try:
        yield
    finally:
        _current.reset(token)


class PrincipalStore:
    """A Store acting for whoever the current request's principal is."""

    def __init__(self, store: Store, open_scope: str = "/open") -> None:
        self.raw = store
        self.open_scope = open_scope

    def scoped(self) -> ScopedStore:
        return ScopedStore(self.raw, _current.get(), self.open_scope)

    def scoped_for(self, action: Action) -> ScopedStore:
        """What the current principal may see for ``action`` (no open data)."""
        return ScopedStore(self.raw, _current.get(), "", read_action=action)

    def apply(self, tenant: str, mutations: Sequence[Mutation]) -> list[MutationResult]:
        return self.scoped().apply(tenant, mutations)

    def submit(self, tenant: str, mutations: Sequence[Mutation]) -> Future[list[MutationResult]]:
        return self.scoped().submit(tenant, mutations)

    def get(self, tenant: str, entity_id: str) -> Entity | None:
        return self.scoped().get(tenant, entity_id)

    def query(self, tenant: str, query: EntityQuery) -> QueryPage:
        return self.scoped().query(tenant, query)

    def types(self, tenant: str) -> list[TypeInfo]:
        return self.scoped().types(tenant)

    def attributes(self, tenant: str) -> list[AttributeInfo]:
        return self.scoped().attributes(tenant)

    def tenants(self) -> list[str]:
        return self.scoped().tenants()

    def history(self, tenant: str, entity_id: str, window: HistoryRange) -> History:
        return self.scoped().history(tenant, entity_id, window)

    def history_frames(self, tenant: str, entity_id: str,
                       window: HistoryRange) -> list[Frame]:
        return self.scoped().history_frames(tenant, entity_id, window)

    def history_columns(self, tenant: str, entity_id: str,
                        window: HistoryRange) -> list[Series]:
        return self.scoped().history_columns(tenant, entity_id, window)

    def rollups(self, tenant: str, entity_type: str, attr: str,
                scopes: Sequence[str] | None, start_ms: int,
                end_ms: int) -> list[tuple[str, int, DayTotals]]:
        return self.scoped().rollups(tenant, entity_type, attr, scopes, start_ms, end_ms)

    def rollup_series(self, tenant: str,
                      scopes: Sequence[str] | None) -> list[tuple[str, str]]:
        return self.scoped().rollup_series(tenant, scopes)

    def gone_entity(self, tenant: str, entity_id: str) -> Entity | None:
        return self.scoped().gone_entity(tenant, entity_id)

    def add_history(self, tenant: str, entity_id: str,
                    instances: Sequence[tuple[str, Instance]]) -> None:
        self.scoped().add_history(tenant, entity_id, instances)

    def replace_instance(self, tenant: str, entity_id: str, attr: str, instance_id: str,
                         new: Instance | None) -> bool:
        return self.scoped().replace_instance(tenant, entity_id, attr, instance_id, new)

    def delete_history(self, tenant: str, entity_id: str, attr: str | None = None) -> int:
        return self.scoped().delete_history(tenant, entity_id, attr)

    def compact(self, older_than_ms: int, max_records: int = 5000) -> int:
        return self.scoped().compact(older_than_ms, max_records)

    def history_size(self) -> HistorySize:
        return self.scoped().history_size()

    def retention_policies(self) -> list[Policy]:
        return self.scoped().retention_policies()

    def put_retention_policy(self, policy: Policy) -> None:
        self.scoped().put_retention_policy(policy)

    def delete_retention_policy(self, entity_type: str | None, attribute: str | None,
                                scope: str | None) -> bool:
        return self.scoped().delete_retention_policy(entity_type, attribute, scope)

    def apply_retention(self, now_ms: int, policies: Sequence[Policy],
                        step: int = 500) -> tuple[int, int]:
        return self.scoped().apply_retention(now_ms, policies, step)

    def put_context(self, url: str, body: bytes, kind: str) -> None:
        self.raw.put_context(url, body, kind)

    def get_context(self, url: str) -> tuple[bytes, str] | None:
        return self.raw.get_context(url)

    def list_contexts(self) -> list[tuple[str, str]]:
        return self.raw.list_contexts()

    def delete_context(self, url: str) -> bool:
        return self.raw.delete_context(url)

    def ping(self) -> None:
        self.raw.ping()

    def close(self) -> None:
        self.raw.close()


__all__ = ["PrincipalStore", "ScopedStore", "acting_as", "current_principal"]
