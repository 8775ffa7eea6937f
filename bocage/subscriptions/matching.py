"""Which subscriptions a change of one entity triggers. Pure.

A :class:`Change` is what a committed write did to one entity: its state
before (None: it did not exist) and after (None: deleted). :func:`diff_of`
classifies it once (entity created / deleted, attributes created / updated /
deleted), then :func:`triggered` decides per subscription (clause 5.8.6):
the notification triggers and watchedAttributes first (cheap), then the
entity selectors, q, geoQ and scopeQ, evaluated on the entity after the
change (before it, for a deletion).

An attribute counts as *updated* when its stored instances differ in any way,
``modifiedAt`` included: every write that touched an attribute (a new reading
of the same value too) notifies, as brokers do, and an attribute the write did
not touch never does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bocage.domain.entity import ENTITY_KEYS, Entity
from bocage.ngsild.geo import geo_matches
from bocage.ngsild.q import matches
from bocage.ngsild.scopeq import scope_matches
from bocage.subscriptions.model import Selector, Subscription


@dataclass(frozen=True, slots=True)
class Change:
    entity_id: str
    before: Entity | None
    after: Entity | None

    @property
    def entity(self) -> Entity:
        """The state filters are evaluated on."""
        found = self.after if self.after is not None else self.before
        assert found is not None
        return found


@dataclass(frozen=True, slots=True)
class Diff:
    created: bool
    deleted: bool
    attrs_created: frozenset[str]
    attrs_updated: frozenset[str]
    attrs_deleted: frozenset[str]
    #: type or scope changed (an entityUpdated without any attribute change)
    members_changed: bool

    @property
    def nothing(self) -> bool:
        return not (self.created or self.deleted or self.attrs_created or self.attrs_updated
                    or self.attrs_deleted or self.members_changed)


def diff_of(change: Change) -> Diff:
    before, after = change.before, change.after
    none: frozenset[str] = frozenset()
    if before is None:
        attrs = frozenset(k for k in (after or {}) if k not in ENTITY_KEYS)
        return Diff(after is not None, False, attrs, none, none, False)
    if after is None:
        return Diff(False, True, none, none, none, False)
    old = {k for k in before if k not in ENTITY_KEYS}
    new = {k for k in after if k not in ENTITY_KEYS}
    updated = frozenset(k for k in old & new if before[k] != after[k])
    members = before.get("type") != after.get("type") or before.get("scope") != after.get(
        "scope")
    return Diff(False, False, frozenset(new - old), updated, frozenset(old - new), members)


def _watched(sub: Subscription, attrs: frozenset[str]) -> bool:
    if not attrs:
        return False
    return sub.watched is None or not sub.watched.isdisjoint(attrs)


def fires(sub: Subscription, d: Diff) -> bool:
    """The notification triggers (and watchedAttributes) alone."""
    t = sub.triggers
    if d.created and "entityCreated" in t:
        return True
    if d.deleted:
        return "entityDeleted" in t
    if "attributeCreated" in t and _watched(sub, d.attrs_created):
        return True
    if "attributeUpdated" in t and _watched(sub, d.attrs_updated):
        return True
    if "attributeDeleted" in t and _watched(sub, d.attrs_deleted):
        return True
    if "entityUpdated" in t and not d.created:
        changed = d.attrs_created | d.attrs_updated | d.attrs_deleted
        return _watched(sub, changed) or (sub.watched is None and d.members_changed)
    return False


def selected(sel: Selector, entity: Entity) -> bool:
    if sel.id is not None and entity["id"] != sel.id:
        return False
    if sel.id_pattern is not None and _fullmatch(sel.id_pattern, entity["id"]) is False:
        return False
    if sel.types:
        types = entity.get("type") or ()
        return any(all(t in types for t in group) for group in sel.types)
    return True


def _fullmatch(pattern: str, text: str) -> bool:
    return re.fullmatch(pattern, text) is not None  # re caches compiled patterns


def filters_pass(sub: Subscription, entity: Entity) -> bool:
    """Entity selectors, q, geoQ and scopeQ."""
    if sub.selectors and not any(selected(s, entity) for s in sub.selectors):
        return False
    if sub.q is not None and not matches(sub.q, entity):
        return False
    if sub.geo is not None and not geo_matches(sub.geo, entity):
        return False
    return not sub.scope_q or scope_matches(sub.scope_q, entity.get("scope") or ())


def triggered(sub: Subscription, change: Change, d: Diff, now: str) -> bool:
    """Whether ``change`` (classified as ``d``) notifies ``sub`` at ``now``."""
    if sub.time_interval is not None or d.nothing:
        return False
    if sub.status_at(now) != "active":
        return False
    return fires(sub, d) and filters_pass(sub, change.entity)
