"""Supervision, assembled: rules evaluated on every change, alarms and interventions stored.

The :class:`Supervisor` is a change listener (see ``bocage.storage.observed``):
the store hands it the (before, after) of every committed write; it releases
the write at once and evaluates on its own thread, so a rule never slows
ingestion down. Alarms and interventions are entities of the same store
(``Alert``, ``Intervention``) written through the same mutations as the NGSI-LD
API. A timer evaluates what no write triggers: silence (offline devices, silent
cameras) and escalation of alarms nobody acknowledged.

Rule states live in memory: after a restart, a condition that still holds is
seen again at the entity's next reading (the open alarm is found in the store,
so no duplicate is raised).
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import logging
import queue
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from bocage.devices.records import MODEL_PREFIX, device_id
from bocage.domain.entity import ENTITY_KEYS, Entity
from bocage.domain.errors import BocageError, ResourceNotFound
from bocage.domain.query import And, AttrPath, Comparison, EntityQuery
from bocage.domain.terms import Terms
from bocage.ingest.outcomes import Outcome
from bocage.ngsild import mutations as mut
from bocage.ngsild.parse import parse_entity
from bocage.ngsild.render import View, render_entity
from bocage.storage.base import Mutation, MutationFn, Store
from bocage.supervision import records as rec
from bocage.supervision.defaults import DEFAULT_RULES
from bocage.supervision.rules import (
    IDLE,
    Rule,
    Snapshot,
    State,
    compile_rule,
    evaluate,
    rule_to_json,
)
from bocage.web.equipment import domain_of, local_name

log = logging.getLogger("bocage.supervision")

#: entity types supervision writes or keeps its configuration in: never evaluated
OWN_TYPES: Final = frozenset({"Alert", "Intervention", "SupervisionRule", "AlarmRecipient"})
RULE_PREFIX: Final = "urn:ngsi-ld:SupervisionRule:"
KEY_VALUES: Final = View(format="keyValues")
Changed = tuple[str, Entity | None, Entity | None]


_NONE: Final = object()
#: device snapshots kept for the message outcomes that follow their changes
_RECENT_MAX: Final = 4096
#: instants already converted (the attributes of an uplink share one)
_MS: dict[str, int] = {}


def _ms(iso: str) -> int:
    found = _MS.get(iso)
    if found is None:
        if len(_MS) >= 4096:
            _MS.clear()
        found = _MS[iso] = int(
            dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)
    return found


class Supervisor:
    def __init__(self, store: Store, terms: Terms, now: Callable[[], str], *,
                 escalate_after_minutes: float = 30.0, tick_seconds: float = 60.0) -> None:
        self.store = store
        self.terms = terms
        self.now = now
        self.escalate_after = escalate_after_minutes
        self.tick_seconds = tick_seconds
        #: (tenant, rule) -> entity -> the rule's state for it (idle states are not kept)
        self._states: dict[tuple[str, str], dict[str, State]] = {}
        #: (tenant, entity) -> the snapshot of its last evaluation, for the message
        #: outcomes of the same devices that follow their changes (no store read)
        self._recent: dict[tuple[str, str], Snapshot] = {}
        self._rules: dict[str, dict[str, Rule]] = {}  # tenant -> id -> rule
        self._queue: queue.Queue[tuple[str, list[Changed]] | _Messages | None] = (
            queue.Queue(100_000))
        self._lock = threading.RLock()
        self._idle = threading.Condition(self._lock)
        # alarm and intervention read-modify-writes, one at a time (never held by the
        # writer thread's callbacks, so waiting for a commit under it cannot deadlock)
        self._write_lock = threading.Lock()
        self._pending = 0
        self._thread: threading.Thread | None = None
        self._timer: threading.Thread | None = None
        self._stop = threading.Event()
        self._short: dict[str, str] = {}

    def over(self, store: Store) -> Supervisor:
        """This supervisor reading and writing alarms and interventions through
        ``store`` (a scoped store: what a caller may see and change). It shares the
        evaluation state and locks; only the background work (``start``) and rule
        management belong on the supervisor over the raw store."""
        view = copy.copy(self)
        view.store = store
        return view

    # --------------------------------------------------------------- lifecycle

    def start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._stop.clear()
                self._thread = threading.Thread(target=self._drain, name="supervision",
                                                daemon=True)
                self._thread.start()
                self._timer = threading.Thread(target=self._tick_loop,
                                               name="supervision-timer", daemon=True)
                self._timer.start()

    def close(self) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout=10)
        if self._timer is not None:
            self._timer.join(timeout=10)
        self._thread = self._timer = None

    def wait_idle(self, timeout: float = 10.0) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    # ---------------------------------------------------------- change listener

    def wants(self, tenant: str) -> bool:
        return True

    def changed(self, tenant: str, changes: list[Changed], release: Callable[[], None]) -> None:
        try:
            # deletions too: they take the entity's snapshot out of ``_recent``, in order
            relevant = [c for c in changes if c[2] is None or not self._own(c[2])]
            if not relevant:
                return
            with self._lock:
                self._pending += 1  # before the write is released: wait_idle sees it
            try:
                self._queue.put_nowait((tenant, relevant))
            except queue.Full:
                log.warning("supervision queue full: %d changes not evaluated", len(relevant))
                with self._lock:
                    self._recent.clear()  # some may be out of date now: read them again
                self._done()
        finally:
            release()  # alarms are derived: the write need not wait for their evaluation

    def _done(self) -> None:
        with self._idle:
            self._pending -= 1
            self._idle.notify_all()

    def _drain(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if self._stop.is_set():  # closing: what is still queued is not evaluated
                self._done()  # (a condition that holds is seen again after a restart)
                continue
            try:
                if isinstance(item, _Messages):
                    self.evaluate_messages(item.tenant, item.outcomes, item.now_ms)
                else:
                    tenant, changes = item
                    for ident, _, after in changes:
                        if after is None:
                            with self._lock:
                                self._recent.pop((tenant, ident), None)
                    self.evaluate_entities(tenant, [after for _, _, after in changes
                                                    if after is not None])
            except Exception:
                log.exception("supervision of a group of changes failed")
            finally:
                self._done()

    # ----------------------------------------------- message outcomes (ingestion)

    def messages_processed(self, tenant: str, outcomes: Sequence[Outcome]) -> None:
        """From the ingestion worker, after each batch: every message of a known device
        and whether it ended in a dead letter that says it could not be read
        (``codec_errors`` rules). Evaluated on the supervision thread."""
        if not outcomes:
            return
        with self._lock:
            self._pending += 1
        try:
            self._queue.put_nowait(_Messages(tenant, tuple(outcomes), _ms(self.now())))
        except queue.Full:
            log.warning("supervision queue full: %d message outcomes not counted",
                        len(outcomes))
            self._done()

    def evaluate_messages(self, tenant: str, outcomes: Iterable[Outcome],
                          now_ms: int | None = None) -> None:
        rules = [r for r in self.rules(tenant) if r.enabled and _has_kind(r, "codec_errors")]
        if not rules:
            return
        moment = now_ms if now_ms is not None else _ms(self.now())
        per_device: dict[str, list[tuple[int, bool]]] = {}
        for o in outcomes:
            per_device.setdefault(o.dev_eui.upper(), []).append((o.at_ms, o.failed))
        for eui, messages in per_device.items():
            ident = device_id(eui)
            with self._lock:
                known = self._recent.get((tenant, ident))
            if known is None:
                try:
                    device = self.store.get(tenant, ident)
                except BocageError:
                    device = None
                if device is None:
                    continue
                known = self.snapshot(device)
            snap = dataclasses.replace(known, messages=tuple(messages))
            for rule in rules:
                if rule.target.matches(snap):
                    self._run(tenant, rule, snap, moment)

    def _tick_loop(self) -> None:
        while not self._stop.wait(self.tick_seconds):
            try:
                self.tick()
            except Exception:
                log.exception("supervision timer failed")

    # ------------------------------------------------------------------- rules

    def rules(self, tenant: str) -> list[Rule]:
        with self._lock:
            if tenant not in self._rules:
                loaded = {r.id: r for r in DEFAULT_RULES}
                for entity in self._query(tenant, "SupervisionRule"):
                    values = render_entity(entity, self.terms, KEY_VALUES)
                    try:
                        rule = compile_rule(values.get("definition"))
                    except BocageError as exc:
                        log.error("stored rule %s does not compile: %s", entity["id"], exc)
                        continue
                    loaded[rule.id] = rule
                self._rules[tenant] = loaded
            return sorted(self._rules[tenant].values(), key=lambda r: r.id)

    def put_rule(self, tenant: str, data: object) -> Rule:
        rule = compile_rule(data)
        body = {"id": RULE_PREFIX + rule.id, "type": "SupervisionRule",
                "definition": {"type": "JsonProperty", "json": rule_to_json(rule)}}
        entity = parse_entity(body, self.terms)
        self._write(tenant, entity["id"], mut.replace(entity, self.now(), upsert=True))
        with self._lock:
            self.rules(tenant)
            self._rules[tenant][rule.id] = rule
            self._states.pop((tenant, rule.id), None)
        return rule

    def delete_rule(self, tenant: str, rule_id: str) -> None:
        """Delete a stored rule; a built-in rule is restored to its default."""
        try:
            self._write(tenant, RULE_PREFIX + rule_id, mut.delete_entity(RULE_PREFIX + rule_id))
        except ResourceNotFound:
            if not any(r.id == rule_id for r in DEFAULT_RULES):
                raise ResourceNotFound(f"no rule {rule_id}") from None
        with self._lock:
            self._rules.pop(tenant, None)

    # -------------------------------------------------------------- evaluation

    def evaluate_entities(self, tenant: str, entities: Iterable[Entity],
                          now_ms: int | None = None) -> None:
        rules = [r for r in self.rules(tenant) if r.enabled]
        moment = now_ms if now_ms is not None else _ms(self.now())
        for entity in entities:
            if self._own(entity):
                continue
            snap = self.snapshot(entity)
            if snap.entity_type == "Device":
                with self._lock:
                    if len(self._recent) >= _RECENT_MAX:
                        self._recent.clear()
                    self._recent[(tenant, snap.entity_id)] = snap
            for rule in rules:
                if rule.target.matches(snap):
                    self._run(tenant, rule, snap, moment)

    def held_states(self, tenant: str) -> int:
        """How many (rule, entity) states the supervisor remembers for ``tenant``:
        only those with something to remember (a condition holding, recent readings of
        a rate or a trend, an active alarm); the memory it costs grows with them only."""
        with self._lock:
            return sum(len(states) for (t, _), states in self._states.items() if t == tenant)

    def _run(self, tenant: str, rule: Rule, snap: Snapshot, now_ms: int) -> None:
        with self._lock:
            states = self._states.get((tenant, rule.id))
            if states is None:
                states = self._states[(tenant, rule.id)] = {}
            state, decision = evaluate(rule, states.get(snap.entity_id, IDLE), snap, now_ms)
            if state is IDLE:
                states.pop(snap.entity_id, None)
            else:
                states[snap.entity_id] = state
        if decision.action == "raise":
            self._raise(tenant, rule, snap, decision.message)
        elif decision.action == "clear":
            self._auto_clear(tenant, rule, snap.entity_id, decision.message)

    def snapshot(self, entity: Entity) -> Snapshot:
        values: dict[str, tuple[Any, int | None]] = {}
        short = self._short
        for key, insts in entity.items():
            if key in ENTITY_KEYS or type(insts) is not list or not insts:
                continue
            inst = insts[0]
            if type(inst) is not dict:
                continue
            value = inst.get("value", _NONE)
            if value is _NONE:
                value = inst.get("object", inst.get("vocab"))
            if isinstance(value, dict | list) and inst.get("type") != "Property":
                continue
            at = inst.get("observedAt")
            name = short.get(key)
            values[name if name is not None else self._name(key)] = (
                value, _ms(at) if type(at) is str else None)
        types = entity.get("type") or ["?"]
        model = values.get("refDeviceModel", (None, None))[0]
        return Snapshot(entity["id"], self._name(types[0]), values,
                        tuple(entity.get("scope", ())),
                        model=model.removeprefix(MODEL_PREFIX) if isinstance(model, str)
                        else None)

    def _name(self, iri: str) -> str:
        name = self._short.get(iri)
        if name is None:
            name = self._short[iri] = local_name(self.terms.compact(iri))
        return name

    def _own(self, entity: Entity) -> bool:
        return any(self._name(t) in OWN_TYPES for t in entity.get("type", ()))

    # ------------------------------------------------------------------ alarms

    def _raise(self, tenant: str, rule: Rule, snap: Snapshot, why: str) -> None:
        with self._write_lock:  # the check and the write together: no duplicate
            self._raise_locked(tenant, rule, snap, why)

    def _raise_locked(self, tenant: str, rule: Rule, snap: Snapshot, why: str) -> None:
        if self.open_alarm(tenant, rule.id, snap.entity_id) is not None:
            return  # one open alarm per rule x entity: no storm
        at = self.now()
        alarm = rec.raise_alarm(rule.id, rule.name, snap.entity_id, snap.scope, rule.severity,
                                why, at, domain_of(snap.entity_type))
        self._save(tenant, alarm.to_body(), create=True)
        log.info("alarm %s raised on %s: %s", rule.id, snap.entity_id, why)
        if rule.intervention:
            self._save(tenant, rec.request_intervention(
                snap.entity_id, snap.scope, alarm.domain, rule.severity,
                f"{rule.name}: {why}", "rule", at, alarm=alarm.id).to_body(), create=True)

    def _auto_clear(self, tenant: str, rule: Rule, entity_id: str, why: str) -> None:
        with self._write_lock:
            alarm = self.open_alarm(tenant, rule.id, entity_id)
            if alarm is not None:
                self._save(tenant, rec.clear(alarm, "rule", self.now(),
                                             why or "condition ended").to_body())

    def open_alarm(self, tenant: str, rule_id: str, entity_id: str) -> rec.Alarm | None:
        for alarm in self.alarms(tenant, status=rec.ALARM_OPEN, source=entity_id):
            if alarm.rule == rule_id:
                return alarm
        return None

    def alarms(self, tenant: str, status: Sequence[str] = (), source: str | None = None,
               severity: str | None = None) -> list[rec.Alarm]:
        terms: list[Comparison] = []
        if status:
            terms.append(Comparison(AttrPath(self.terms.expand("status")), "==",
                                    tuple(status)))
        if source is not None:
            terms.append(Comparison(AttrPath(self.terms.expand("alertSource")), "==", source))
        if severity is not None:
            terms.append(Comparison(AttrPath(self.terms.expand("severity")), "==", severity))
        found = [rec.alarm_from_values(e["id"], render_entity(e, self.terms, KEY_VALUES),
                                       tuple(e.get("scope", ())))
                 for e in self._query(tenant, "Alert", terms)]
        return sorted(found, key=lambda a: a.issued_at, reverse=True)

    def alarm(self, tenant: str, alarm_id: str) -> rec.Alarm:
        entity = self._get(tenant, alarm_id, "Alert")
        return rec.alarm_from_values(entity["id"], render_entity(entity, self.terms, KEY_VALUES),
                                     tuple(entity.get("scope", ())))

    def change_alarm(self, tenant: str, alarm_id: str,
                     change: Callable[[rec.Alarm, str], rec.Alarm]) -> rec.Alarm:
        with self._write_lock:  # read-modify-write: one change of an alarm at a time
            alarm = change(self.alarm(tenant, alarm_id), self.now())
            self._save(tenant, alarm.to_body())
        return alarm

    # ----------------------------------------------------------- interventions

    def interventions(self, tenant: str, status: Sequence[str] = (),
                      equipment: str | None = None) -> list[rec.Intervention]:
        terms: list[Comparison] = []
        if status:
            terms.append(Comparison(AttrPath(self.terms.expand("status")), "==",
                                    tuple(status)))
        if equipment is not None:
            terms.append(Comparison(AttrPath(self.terms.expand("refEquipment")), "==",
                                    equipment))
        found = [rec.intervention_from_values(e["id"],
                                              render_entity(e, self.terms, KEY_VALUES),
                                              tuple(e.get("scope", ())))
                 for e in self._query(tenant, "Intervention", terms)]
        return sorted(found, key=lambda i: i.due)

    def intervention(self, tenant: str, ident: str) -> rec.Intervention:
        entity = self._get(tenant, ident, "Intervention")
        return rec.intervention_from_values(entity["id"],
                                            render_entity(entity, self.terms, KEY_VALUES),
                                            tuple(entity.get("scope", ())))

    def request(self, tenant: str, equipment_id: str, description: str, by: str,
                severity: str = "major", alarm_id: str | None = None) -> rec.Intervention:
        equipment = self.store.get(tenant, equipment_id)
        if equipment is None or self._own(equipment):
            raise ResourceNotFound(f"no equipment {equipment_id}")
        snap = self.snapshot(equipment)
        if alarm_id is not None:
            self.alarm(tenant, alarm_id)  # must exist (and be visible)
        item = rec.request_intervention(equipment_id, snap.scope, domain_of(snap.entity_type),
                                        severity, description, by, self.now(), alarm=alarm_id)
        self._save(tenant, item.to_body(), create=True)
        return item

    def change_intervention(self, tenant: str, ident: str,
                            change: Callable[[rec.Intervention, str], rec.Intervention],
                            ) -> rec.Intervention:
        with self._write_lock:
            item = change(self.intervention(tenant, ident), self.now())
            self._save(tenant, item.to_body())
        return item

    # ------------------------------------------------------------------- timer

    def tick(self, now_ms: int | None = None) -> None:
        """Silence rules over every watched entity, then escalation."""
        moment = now_ms if now_ms is not None else _ms(self.now())
        for tenant in self.store.tenants():
            silence = [r for r in self.rules(tenant) if r.enabled and _has_kind(r, "silence")]
            types = {r.target.entity_type for r in silence if r.target.entity_type}
            for type_name in sorted(types):
                if self._stop.is_set():
                    return
                for entity in self._query(tenant, type_name):
                    snap = self.snapshot(entity)
                    for rule in silence:
                        if rule.target.matches(snap):
                            self._run(tenant, rule, snap, moment)
            now_iso = self.now()
            for alarm in self.alarms(tenant, status=("active",)):
                if rec.needs_escalation(alarm, now_iso, self.escalate_after):
                    self.change_alarm(tenant, alarm.id, lambda a, at: rec.escalate(a, at))

    # --------------------------------------------------------------- plumbing

    def _query(self, tenant: str, type_name: str,
               terms: Sequence[Comparison] = ()) -> list[Entity]:
        q = None if not terms else terms[0] if len(terms) == 1 else And(tuple(terms))
        out: list[Entity] = []
        offset = 0
        try:
            while True:
                page = self.store.query(tenant, EntityQuery(
                    types=((self.terms.expand(type_name),),), q=q, limit=1000, offset=offset))
                out.extend(page.entities)
                if len(page.entities) < 1000:
                    return out
                offset += 1000
        except BocageError as exc:
            if exc.status == 404:  # a tenant that holds nothing yet
                return out
            raise

    def _get(self, tenant: str, ident: str, type_name: str) -> Entity:
        try:
            entity = self.store.get(tenant, ident)
        except BocageError:
            entity = None
        if entity is None or self._name(entity["type"][0]) != type_name:
            raise ResourceNotFound(f"no {type_name.lower()} {ident}")
        return entity

    def _save(self, tenant: str, body: dict[str, Any], create: bool = False) -> None:
        entity = parse_entity(body, self.terms)
        now = self.now()
        fn = mut.create(entity, now) if create else mut.replace(entity, now, upsert=True)
        self._write(tenant, entity["id"], fn)

    def _write(self, tenant: str, entity_id: str, fn: MutationFn) -> None:
        [result] = self.store.apply(tenant, [Mutation(entity_id, fn)])
        if isinstance(result, BocageError):
            raise result


@dataclass(frozen=True, slots=True)
class _Messages:
    tenant: str
    outcomes: tuple[Outcome, ...]
    now_ms: int


def _has_kind(rule: Rule, kind: str) -> bool:
    stack = [rule.condition]
    while stack:
        c = stack.pop()
        if c.kind == kind:
            return True
        stack.extend(c.children)
    return False
