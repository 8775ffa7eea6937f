"""A Store that reports what every committed write changed.

Every write in bocage is a list of mutations handed to :meth:`Store.submit`
(the NGSI-LD routes, batch operations, the fast path and the ingestion worker
alike), so wrapping the store is the one place that sees them all. For each
mutation the wrapper records the entity its function was given (``before``);
the backend's result is the entity written (``after``, None for a deletion).
Once the backend has committed, the (before, after) pairs go to the
:class:`ChangeListener`, which calls ``release`` when it is done with them
(for subscriptions: when the notifications are durably queued). Only then
does the caller's future complete, so a client that got its answer, or an
ingestion batch marked processed, has its notifications on disk.

When the listener wants nothing of a tenant (no subscription there), the
write goes straight to the backend: no wrapping, no extra hop.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, InvalidStateError
from typing import Any, Protocol

from bocage.domain.entity import Entity
from bocage.domain.errors import BocageError
from bocage.domain.query import EntityQuery, QueryPage
from bocage.storage.base import (
    AttributeInfo,
    Mutation,
    MutationFn,
    MutationResult,
    Store,
    TypeInfo,
    _Delete,
)

log = logging.getLogger(__name__)

#: (entity id, before, after) of one committed mutation
Changed = tuple[str, Entity | None, Entity | None]


class ChangeListener(Protocol):
    def wants(self, tenant: str) -> bool:
        """Cheap: whether changes of ``tenant`` matter at all."""
        ...

    def changed(self, tenant: str, changes: list[Changed], release: Callable[[], None]) -> None:
        """Committed changes; call ``release`` (from any thread) once handled."""
        ...


_UNSEEN: Any = object()


def _capture(seen: list[Any], index: int, fn: MutationFn) -> MutationFn:
    def observed(current: Entity | None) -> Entity | _Delete:
        # the store hands each mutation a fresh decode it never modifies, so
        # keeping the reference is enough (no copy on the writer's hot path)
        seen[index] = current
        return fn(current)

    return observed


def _settle(future: Future[list[MutationResult]], results: list[MutationResult] | None = None,
            exc: BaseException | None = None) -> None:
    """Complete ``future`` unless its caller cancelled it meanwhile."""
    try:
        if exc is not None:
            future.set_exception(exc)
        else:
            future.set_result(results or [])
    except InvalidStateError:  # cancelled (or already settled) since
        pass


class ObservedStore:
    """A :class:`Store` around another, reporting committed changes to ``listeners``
    (subscriptions, supervision...); a write completes once every listener that
    wanted it released it."""

    def __init__(self, inner: Store, *listeners: ChangeListener) -> None:
        self.inner = inner
        self.listeners = listeners

    def submit(self, tenant: str, mutations: Sequence[Mutation]) -> Future[list[MutationResult]]:
        wanted = [lst for lst in self.listeners if lst.wants(tenant)] if mutations else []
        if not wanted:
            return self.inner.submit(tenant, mutations)
        seen: list[Any] = [_UNSEEN] * len(mutations)
        wrapped = [Mutation(m.entity_id, _capture(seen, i, m.fn))
                   for i, m in enumerate(mutations)]
        inner = self.inner.submit(tenant, wrapped)
        outer: Future[list[MutationResult]] = Future()

        def committed(done: Future[list[MutationResult]]) -> None:
            if outer.cancelled():  # the caller gave up waiting (nothing to tell it)
                return
            exc = done.exception()
            if exc is not None:
                _settle(outer, exc=exc)
                return
            results = done.result()
            changes: list[Changed] = [
                (m.entity_id, seen[i], result)
                for i, (m, result) in enumerate(zip(mutations, results, strict=True))
                if not isinstance(result, BocageError) and seen[i] is not _UNSEEN
                and not (seen[i] is None and result is None)
            ]
            if not changes:
                _settle(outer, results)
                return
            waiting = [len(wanted)]
            lock = threading.Lock()

            def release() -> None:
                with lock:
                    waiting[0] -= 1
                    last = waiting[0] == 0
                if last:
                    _settle(outer, results)

            for listener in wanted:
                try:
                    listener.changed(tenant, changes, release)
                except Exception:  # the write is committed: never fail it for a listener
                    log.exception("change listener failed")
                    release()

        inner.add_done_callback(committed)
        return outer

    def apply(self, tenant: str, mutations: Sequence[Mutation]) -> list[MutationResult]:
        return self.submit(tenant, mutations).result()

    def __getattr__(self, name: str) -> Any:
        """The backend's other seams (history, ...) are reached through this
        wrapper unchanged: they record no entity change."""
        return getattr(self.inner, name)

    # everything else is the inner store's
    def get(self, tenant: str, entity_id: str) -> Entity | None:
        return self.inner.get(tenant, entity_id)

    def query(self, tenant: str, query: EntityQuery) -> QueryPage:
        return self.inner.query(tenant, query)

    def types(self, tenant: str) -> list[TypeInfo]:
        return self.inner.types(tenant)

    def attributes(self, tenant: str) -> list[AttributeInfo]:
        return self.inner.attributes(tenant)

    def tenants(self) -> list[str]:
        return self.inner.tenants()

    def put_context(self, url: str, body: bytes, kind: str) -> None:
        self.inner.put_context(url, body, kind)

    def get_context(self, url: str) -> tuple[bytes, str] | None:
        return self.inner.get_context(url)

    def list_contexts(self) -> list[tuple[str, str]]:
        return self.inner.list_contexts()

    def delete_context(self, url: str) -> bool:
        return self.inner.delete_context(url)

    def ping(self) -> None:
        self.inner.ping()

    def close(self) -> None:
        self.inner.close()
