"""Alarm notifications to people, assembled: recipients kept as entities, alarm
changes turned into queued messages.

Recipients are ``AlarmRecipient`` entities carrying their scope subtree as
their NGSI-LD ``scope``: managing them goes through the caller's scoped store
like any entity (a commune's agent manages its commune's recipients, and sees
no other). The :class:`AlarmNotifier` is a change listener of the observed
store: an ``Alert`` write (by the supervisor, an operator or the NGSI-LD API)
that raises, escalates or clears an alarm becomes one event per matching
recipient, queued in the notification outbox (``kind`` ``alarms``: retried
with backoff, kept across restarts, grouped into digests) before the write is
released. Matching and rendering happen on this listener's own thread.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable
from functools import cache
from typing import Any, Final, Protocol
from urllib.parse import urlsplit

import orjson

from bocage.alerting.events import Transition, commune_of, event_json, event_time, transition
from bocage.alerting.recipients import Recipient, compile_recipient, recipient_to_json
from bocage.domain.entity import Entity
from bocage.domain.errors import BocageError, ResourceNotFound
from bocage.domain.query import EntityQuery
from bocage.domain.terms import Terms
from bocage.ngsild import mutations as mut
from bocage.ngsild.parse import parse_entity
from bocage.ngsild.render import View, render_entity
from bocage.storage.base import Mutation, Store
from bocage.storage.observed import Changed
from bocage.subscriptions.notification import Outgoing
from bocage.subscriptions.outbox import Status
from bocage.supervision import records as rec
from bocage.web.equipment import local_name

log = logging.getLogger("bocage.alerting")

RECIPIENT_TYPE: Final = "AlarmRecipient"
RECIPIENT_PREFIX: Final = "urn:ngsi-ld:AlarmRecipient:"
#: the outbox's "subscription" of a recipient (its queue, counters and digest)
QUEUE_PREFIX: Final = "recipient:"
KIND: Final = "alarms"
_KEY_VALUES: Final = View(format="keyValues")


class Outlet(Protocol):
    """Where queued messages go: the notifier's outbox (see ``Notifier.enqueue``)."""

    def enqueue(self, items: list[Outgoing], release: Callable[[], None]) -> None: ...

    def status(self, tenant: str, sub_id: str) -> Status: ...

    def forget(self, tenant: str, sub_id: str) -> None: ...


@cache
def _commune_names() -> dict[str, str]:
    from bocage.simulator.communes import all_communes

    return {c.insee: c.name for c in all_communes()}


def commune_name(code: str | None) -> str | None:
    return _commune_names().get(code) if code else None


def endpoint_key(r: Recipient) -> str:
    """Messages to one key share a concurrency limit and a backoff (one SMTP server)."""
    if r.channel == "email":
        return "smtp:"
    parts = urlsplit(r.address)
    return f"{parts.scheme.lower()}://{parts.netloc}"


def outgoing(tenant: str, r: Recipient, event: dict[str, Any],
             default_digest_minutes: float) -> Outgoing:
    minutes = r.digest_minutes if r.digest_minutes is not None else default_digest_minutes
    payload = orjson.dumps({"recipient": r.id, "name": r.name, "channel": r.channel,
                            "scope": r.scope, "lang": r.language, "events": [event]})
    return Outgoing(tenant, QUEUE_PREFIX + r.id, r.uri, endpoint_key(r),
                    {"Content-Type": "application/json"}, payload,
                    (("MQTT-QoS", "1"),) if r.channel == "mqtt" else (), None, 1,
                    kind=KIND, digest_s=max(0.0, minutes * 60))


class AlarmNotifier:
    def __init__(self, store: Store, terms: Terms, outlet: Outlet, now: Callable[[], str], *,
                 digest_minutes: float = 10.0, public_url: str = "",
                 cache_seconds: float = 30.0) -> None:
        self.store = store  # the raw (observed) store: reads equipment and recipients
        self.terms = terms
        self.outlet = outlet
        self.now = now
        self.digest_minutes = digest_minutes
        self.public_url = public_url
        self._alert = terms.expand("Alert")
        self._recipient = terms.expand(RECIPIENT_TYPE)
        #: tenant -> (recipients, when loaded): emptied by a recipient write seen here,
        #: and reloaded after ``cache_seconds`` (another process, the CLI, wrote them)
        self._cache: dict[str, tuple[list[Recipient], float]] = {}
        self.cache_seconds = cache_seconds
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[tuple[str, list[Changed], Callable[[], None]] | None] = (
            queue.SimpleQueue())
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="bocage-alerting",
                                                daemon=True)
                self._thread.start()

    def close(self) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(15)

    # ------------------------------------------------------ change listener

    def wants(self, tenant: str) -> bool:
        return True

    def changed(self, tenant: str, changes: list[Changed], release: Callable[[], None]) -> None:
        relevant = [c for c in changes if self._relevant(c)]
        if not relevant or self._thread is None:
            release()
            return
        self._queue.put((tenant, relevant, release))

    def _relevant(self, change: Changed) -> bool:
        for entity in (change[2], change[1]):
            if entity is not None:
                types = entity.get("type", ())
                return self._alert in types or self._recipient in types
        return False

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            tenant, changes, release = item
            try:
                out = self.handle(tenant, changes)
            except Exception:  # the alarm is written: never fail it for a notification
                log.exception("alarm notifications of %d changes failed", len(changes))
                out = []
            if out:
                self.outlet.enqueue(out, release)
            else:
                release()

    def handle(self, tenant: str, changes: Iterable[Changed]) -> list[Outgoing]:
        """The messages a group of committed changes calls for."""
        out: list[Outgoing] = []
        for _, before, after in changes:
            if self._recipient in ((after or before or {}).get("type") or ()):
                with self._lock:
                    self._cache.pop(tenant, None)
                continue
            found = transition(self._alarm(before), self._alarm(after))
            if found is not None:
                out.extend(self._messages(tenant, found))
        return out

    def _alarm(self, entity: Entity | None) -> rec.Alarm | None:
        if entity is None:
            return None
        return rec.alarm_from_values(entity["id"], render_entity(entity, self.terms,
                                                                 _KEY_VALUES),
                                     tuple(entity.get("scope", ())))

    def _messages(self, tenant: str, t: Transition) -> list[Outgoing]:
        equipment = self._equipment(tenant, t.alarm.source)
        matching = [r for r in self.recipients_of(tenant)
                    if r.wants(t.event, t.alarm.scope, t.alarm.severity, t.alarm.domain,
                               str(equipment["type"]))]
        if not matching:
            return []
        event = event_json(t, event_time(t, self.now()), equipment,
                           commune_name(commune_of(t.alarm.scope)), self.public_url)
        log.info("alarm %s %s: %d recipient(s)", t.alarm.id, t.event, len(matching))
        return [outgoing(tenant, r, event, self.digest_minutes) for r in matching]

    def _equipment(self, tenant: str, entity_id: str) -> dict[str, Any]:
        found: dict[str, Any] = {"id": entity_id, "name": None, "type": None}
        try:
            entity = self.store.get(tenant, entity_id)
        except BocageError:
            entity = None
        if entity is not None:
            values = render_entity(entity, self.terms, _KEY_VALUES)
            name = values.get("name")
            found["name"] = name if isinstance(name, str) and name else None
            types = entity.get("type") or []
            found["type"] = local_name(self.terms.compact(types[0])) if types else None
        return found

    # ----------------------------------------------------------- recipients

    def recipients_of(self, tenant: str) -> list[Recipient]:
        """Every recipient of ``tenant`` (cached; a recipient write empties the cache)."""
        with self._lock:
            cached = self._cache.get(tenant)
        if cached is not None and time.monotonic() - cached[1] < self.cache_seconds:
            return cached[0]
        found = recipients(self.store, self.terms, tenant)
        with self._lock:
            self._cache[tenant] = (found, time.monotonic())
        return found

    def status(self, tenant: str, recipient_id: str) -> Status:
        return self.outlet.status(tenant, QUEUE_PREFIX + recipient_id)


def _query(store: Store, terms: Terms, tenant: str) -> list[Entity]:
    out: list[Entity] = []
    offset = 0
    try:
        while True:
            page = store.query(tenant, EntityQuery(types=((terms.expand(RECIPIENT_TYPE),),),
                                                   limit=1000, offset=offset))
            out.extend(page.entities)
            if len(page.entities) < 1000:
                return out
            offset += 1000
    except BocageError as exc:
        if exc.status == 404:  # a tenant that holds nothing yet
            return out
        raise


def _from_entity(entity: Entity, terms: Terms) -> Recipient | None:
    values = render_entity(entity, terms, _KEY_VALUES)
    try:
        return compile_recipient(values.get("definition"))
    except BocageError as exc:
        log.error("stored recipient %s is not valid: %s", entity["id"], exc.detail)
        return None


def recipients(store: Store, terms: Terms, tenant: str) -> list[Recipient]:
    """The recipients ``store`` shows (a scoped store: those the caller may see)."""
    found = [_from_entity(e, terms) for e in _query(store, terms, tenant)]
    return sorted((r for r in found if r is not None), key=lambda r: r.id)


def recipient(store: Store, terms: Terms, tenant: str, ident: str) -> Recipient:
    try:
        entity = store.get(tenant, RECIPIENT_PREFIX + ident)
    except BocageError:
        entity = None
    found = _from_entity(entity, terms) if entity is not None else None
    if found is None:
        raise ResourceNotFound(f"no recipient {ident}")
    return found


def put_recipient(store: Store, terms: Terms, tenant: str, data: object, now: str) -> Recipient:
    """Create or replace a recipient (through ``store``: the caller's scopes)."""
    r = compile_recipient(data)
    body = {"id": RECIPIENT_PREFIX + r.id, "type": RECIPIENT_TYPE, "scope": r.scope,
            "definition": {"type": "JsonProperty", "json": recipient_to_json(r)}}
    entity = parse_entity(body, terms)
    [result] = store.apply(tenant, [Mutation(entity["id"], mut.replace(entity, now,
                                                                       upsert=True))])
    if isinstance(result, BocageError):
        raise result
    return r


def delete_recipient(store: Store, tenant: str, ident: str, outlet: Outlet | None) -> None:
    [result] = store.apply(tenant, [Mutation(RECIPIENT_PREFIX + ident,
                                             mut.delete_entity(RECIPIENT_PREFIX + ident))])
    if isinstance(result, BocageError):
        if result.status == 404:
            raise ResourceNotFound(f"no recipient {ident}")
        raise result
    if outlet is not None:
        outlet.forget(tenant, QUEUE_PREFIX + ident)
