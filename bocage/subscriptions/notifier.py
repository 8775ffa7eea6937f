"""Subscriptions, assembled: the registry, the matcher thread, periodic
notifications, the outbox and the delivery worker. One per app.

Path of a change: the store commits a write group -> ``ObservedStore`` hands
the (before, after) pairs to :meth:`Notifier.changed`, on the store's writer
thread, which matches them against the tenant's subscriptions and renders the
notifications (pure functions; a write nothing matches is released at once)
-> the outbox thread takes every group waiting, enqueues their notifications
in the outbox (one transaction, one fsync) and only then releases the writes'
callers -> the delivery worker sends them.

So the window between "entity committed" and "notification queued" is only a
crash of the process in between (the notifications are in memory); a
caller that got its answer, and an ingestion batch marked processed, never
lose their notifications. Subscriptions are cached in memory, per tenant,
compiled; writes to a tenant without any change-driven subscription bypass
all of this (``wants``).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from bocage.alerting.sender import AlarmSender
from bocage.alerting.smtp import smtp_config
from bocage.domain.entity import Entity
from bocage.domain.errors import BocageError, ResourceNotFound
from bocage.domain.query import EntityQuery
from bocage.domain.terms import Terms
from bocage.settings import Settings
from bocage.storage.base import Store
from bocage.storage.observed import Changed
from bocage.subscriptions.access import EVERYTHING, GrantsOf, Reader, reader_for
from bocage.subscriptions.delivery import Delivery, Policy
from bocage.subscriptions.matching import Change, Diff, diff_of, triggered
from bocage.subscriptions.model import Subscription, compile_subscription
from bocage.subscriptions.notification import Outgoing, outgoing, render_change, render_entities
from bocage.subscriptions.outbox import Outbox, Status, outbox_path
from bocage.subscriptions.repository import Owner, StoredSubscription, SubscriptionRepository

log = logging.getLogger("bocage.notifications")
_GROUP = 256  # write groups matched per outbox transaction at most
#: entities one periodic notification holds at most
PERIODIC_MAX = 10_000

Resolve = Callable[[Any], Terms]
_Work = tuple[list[Outgoing], Callable[[], None]]


class Notifier:
    def __init__(self, settings: Settings, store: Store, repository: SubscriptionRepository,
                 resolve: Resolve, now: Callable[[], str]) -> None:
        self._settings = settings
        self._store = store
        self.repository = repository
        self._resolve = resolve
        self._now = now
        self._lock = threading.Lock()
        self._subs: dict[str, dict[str, Subscription]] = {}
        #: (tenant, subscription id) -> its creator (None: a platform administrator's)
        self._owners: dict[tuple[str, str], Owner | None] = {}
        #: the grants a subscriber holds now (set by the app: Security.current_grants)
        self.grants_of: GrantsOf | None = None
        self._event_tenants: frozenset[str] = frozenset()
        self._throttled: dict[tuple[str, str], float] = {}
        self._periodic_due: dict[tuple[str, str], float] = {}
        self._queue: queue.SimpleQueue[_Work | None] = queue.SimpleQueue()
        self.outbox: Outbox | None = None
        self.delivery: Delivery | None = None
        self._thread: threading.Thread | None = None
        self._throttle_lock = threading.Lock()

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self.outbox = Outbox(outbox_path(self._settings.database_url,
                                             self._settings.notification_outbox_path))
            s = self._settings
            self.delivery = Delivery(self.outbox, Policy(
                timeout=s.notification_timeout, concurrency=s.notification_concurrency,
                retry_base=s.notification_retry_base, retry_max=s.notification_retry_max,
                max_attempts=s.notification_max_attempts), self._now,
                senders={"alarms": AlarmSender(smtp_config(s)).send})
            for stored in self.repository.all():
                try:
                    self._install(stored.tenant, self._compile(stored), stored.owner)
                except BocageError as exc:  # e.g. its @context can no longer be resolved
                    log.error("subscription %s not loaded: %s", stored.id, exc.detail)
            self.delivery.start()
            self._thread = threading.Thread(target=self._run, name="bocage-outbox",
                                            daemon=True)
            self._thread.start()

    def close(self) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(15)
        if self.delivery is not None:
            self.delivery.stop()
        if self.outbox is not None:
            self.outbox.close()
        self.outbox = self.delivery = None

    def enqueue(self, items: list[Outgoing], release: Callable[[], None]) -> None:
        """Queue notifications made elsewhere (alarms for people) with the next
        outbox transaction; ``release`` is called once they are on disk."""
        if self._thread is None:
            release()
            return
        self._queue.put((items, release))

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Everything queued delivered or waiting for a retry (tests, benchmarks)."""
        return self.delivery is not None and self.delivery.wait_idle(timeout)

    # ----------------------------------------------------- the change listener

    def wants(self, tenant: str) -> bool:
        return tenant in self._event_tenants

    def changed(self, tenant: str, changes: list[Changed], release: Callable[[], None]) -> None:
        """On the store's writer thread: match and render right here (pure, cheap),
        so a write no subscription wants is released at once; what must be
        queued goes to the outbox thread, which releases it once committed."""
        try:
            out = self.match(tenant, changes, self._now()) if self._thread is not None else []
        except Exception:  # a bug here must not fail a committed write
            log.exception("matching notifications failed")
            out = []
        if not out:
            release()
            return
        self._queue.put((out, release))

    # ------------------------------------------------------------- registry

    def _compile(self, stored: StoredSubscription) -> Subscription:
        return compile_subscription(stored.doc, stored.context, self._resolve(stored.context))

    def _install(self, tenant: str, sub: Subscription, owner: Owner | None) -> None:
        self._owners[(tenant, sub.id)] = owner
        subs = dict(self._subs.get(tenant, {}))
        subs[sub.id] = sub
        self._subs[tenant] = subs
        if sub.time_interval is not None:
            self._periodic_due[(tenant, sub.id)] = time.monotonic() + sub.time_interval
        else:
            self._periodic_due.pop((tenant, sub.id), None)
        self._refresh()

    def _refresh(self) -> None:
        self._event_tenants = frozenset(
            t for t, subs in self._subs.items()
            if any(s.time_interval is None for s in subs.values()))

    def compile(self, stored: StoredSubscription) -> Subscription:
        """Validate a subscription before it is stored (raises BadRequestData)."""
        return self._compile(stored)

    def create(self, stored: StoredSubscription) -> Subscription:
        sub = self._compile(stored)
        self.repository.create(stored)
        with self._lock:
            self._install(stored.tenant, sub, stored.owner)
        return sub

    def replace(self, stored: StoredSubscription) -> Subscription:
        sub = self._compile(stored)
        if not self.repository.replace(stored):
            raise ResourceNotFound(f"subscription {stored.id} not found", instance=stored.id)
        with self._lock:
            self._install(stored.tenant, sub, stored.owner)
        return sub

    def delete(self, tenant: str, sub_id: str) -> None:
        if not self.repository.delete(tenant, sub_id):
            raise ResourceNotFound(f"subscription {sub_id} not found", instance=sub_id)
        with self._lock:
            subs = dict(self._subs.get(tenant, {}))
            subs.pop(sub_id, None)
            self._subs[tenant] = subs
            self._periodic_due.pop((tenant, sub_id), None)
            self._throttled.pop((tenant, sub_id), None)
            self._owners.pop((tenant, sub_id), None)
            self._refresh()
        if self.outbox is not None:
            self.outbox.forget(tenant, sub_id)

    def forget(self, tenant: str, sub_id: str) -> None:
        if self.outbox is not None:
            self.outbox.forget(tenant, sub_id)

    def status(self, tenant: str, sub_id: str) -> Status:
        return self.outbox.status(tenant, sub_id) if self.outbox is not None else Status()

    # ------------------------------------------------------- matcher thread

    def _run(self) -> None:
        while True:
            try:
                item = self._queue.get(timeout=self._periodic_wait())
            except queue.Empty:
                item = ()  # type: ignore[assignment]  # a periodic tick
            if item is None:
                return
            group: list[_Work] = [item] if item else []
            while len(group) < _GROUP:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._queue.put(None)
                    break
                group.append(more)
            try:
                self._handle(group)
            except Exception:
                log.exception("matching notifications failed")
            finally:
                for _, release in group:
                    release()

    def _handle(self, group: list[_Work]) -> None:
        out = [o for items, _ in group for o in items]
        out.extend(self._periodic(self._now()))
        if out and self.outbox is not None and self.delivery is not None:
            self.outbox.enqueue(out, time.time())
            self.delivery.wake()

    def match(self, tenant: str, changed: list[Changed], now: str) -> list[Outgoing]:
        """Notifications for one committed write group of ``tenant``."""
        subs = list(self._subs.get(tenant, {}).values())
        if not subs:
            return []
        hits: dict[str, list[tuple[Change, Diff]]] = {}
        for entity_id, before, after in changed:
            change = Change(entity_id, before, after)
            d = diff_of(change)
            for sub in subs:
                if triggered(sub, change, d, now):
                    hits.setdefault(sub.id, []).append((change, d))
        out: list[Outgoing] = []
        clock = time.monotonic()
        for sub_id, found in list(hits.items()):
            current = self._subs[tenant].get(sub_id)
            if current is None:
                continue
            sub = current
            found = self._visible(tenant, sub_id, found)
            if not found:
                continue  # nothing its creator may read
            if sub.throttling is not None:
                with self._throttle_lock:  # writer threads may match concurrently
                    last = self._throttled.get((tenant, sub_id))
                    if last is not None and clock - last < sub.throttling:
                        continue
                    self._throttled[(tenant, sub_id)] = clock
            terms = sub.terms or self._resolve(sub.context)
            data = [render_change(sub, c, d, terms, now) for c, d in found]
            out.append(outgoing(sub, tenant, data, now))
        return out

    def reader(self, tenant: str, sub_id: str) -> Reader:
        """Whose eyes a subscription sees through (its creator's)."""
        return reader_for(self._owners.get((tenant, sub_id)), self.grants_of,
                          self._settings.open_data_scope)

    def _visible(self, tenant: str, sub_id: str,
                 found: list[tuple[Change, Diff]]) -> list[tuple[Change, Diff]]:
        reader = self.reader(tenant, sub_id)
        if reader is EVERYTHING:
            return found
        return [(c, d) for c, d in found if reader.sees(c.after if c.after is not None
                                                        else c.entity)]

    # ------------------------------------------------------------- periodic

    def _periodic_wait(self) -> float:
        due = self._periodic_due
        if not due:
            return 1.0
        return max(0.0, min(1.0, min(due.values()) - time.monotonic()))

    def _periodic(self, now: str) -> list[Outgoing]:
        clock = time.monotonic()
        out: list[Outgoing] = []
        for (tenant, sub_id), at in list(self._periodic_due.items()):
            if at > clock:
                continue
            sub = self._subs.get(tenant, {}).get(sub_id)
            if sub is None or sub.time_interval is None:
                continue
            self._periodic_due[(tenant, sub_id)] = clock + sub.time_interval
            if sub.status_at(now) != "active":
                continue
            try:
                entities = self._current(tenant, sub)
            except BocageError as exc:
                log.warning("periodic notification of %s skipped: %s", sub_id, exc.detail)
                continue
            reader = self.reader(tenant, sub_id)
            entities = [e for e in entities if reader.sees(e)]
            if entities:
                terms = sub.terms or self._resolve(sub.context)
                out.append(outgoing(sub, tenant, render_entities(sub, entities, terms, now),
                                    now))
        return out

    def _current(self, tenant: str, sub: Subscription) -> list[Entity]:
        """The entities a periodic subscription selects, now."""
        found: dict[str, Entity] = {}
        limit = self._settings.max_limit
        for sel in sub.selectors:
            query = EntityQuery(
                ids=(sel.id,) if sel.id else (), id_pattern=sel.id_pattern, types=sel.types,
                q=sub.q, geo=sub.geo, scope_q=sub.scope_q, limit=limit)
            while len(found) < PERIODIC_MAX:
                try:
                    page = self._store.query(tenant, query)
                except BocageError as exc:
                    if exc.type_name == "NonexistentTenant":
                        return []
                    raise
                for e in page.entities:
                    found.setdefault(str(e["id"]), e)
                if len(page.entities) < limit:
                    break
                query = replace(query, offset=query.offset + limit)
        return list(found.values())[:PERIODIC_MAX]
