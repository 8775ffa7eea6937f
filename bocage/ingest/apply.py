"""Entity patches -> Store mutations that never let an older reading win.

Uplinks can arrive out of order (a gateway backhaul catching up, a dead letter
replayed days later); the latest value of an attribute must stay the latest
observed one, so an attribute whose stored ``observedAt`` is newer is left out
of the merge. Pure: the clock comes in as ``now``.
"""

from __future__ import annotations

from typing import Any

from bocage.domain.entity import ENTITY_KEYS, Entity, Instance
from bocage.domain.errors import ResourceNotFound
from bocage.domain.terms import Terms
from bocage.ingest.pipeline import Patch
from bocage.ngsild import mutations as mut
from bocage.ngsild.parse import _observed_at as observed_at
from bocage.ngsild.parse import (
    check_name,
    check_uri,
    parse_attribute,
    parse_entity,
    parse_types,
)
from bocage.storage.base import Mutation, MutationFn, _Delete


def to_mutation(patch: Patch, terms: Terms, now: str) -> Mutation:
    return Mutation(patch.entity_id, merge_newer(expand_patch(patch.body, terms), now,
                                                 create=patch.create))


#: attribute names already checked (``check_name``): models use a few dozen
_NAMES: set[str] = set()
_NAMES_MAX = 10_000
_PLAIN = frozenset({"type", "value", "observedAt", "unitCode"})


def expand_patch(body: dict[str, Any], terms: Terms) -> Entity:
    """``parse_entity(body, terms)`` for the bodies the pipeline makes, faster.

    The pipeline's attributes are nearly all plain Properties (a value, the
    network server's time in normal form, a unit code) and Relationships: those
    are expanded here directly, with the same checks; anything else (a
    GeoProperty, a sub-attribute...) goes through ``parse_attribute``. The
    result is equal to ``parse_entity``'s, key order included (tested).
    """
    if "scope" in body or "@context" in body or "@id" in body or "@type" in body:
        return parse_entity(body, terms)
    entity: Entity = {"id": check_uri(body.get("id"), "entity id"),
                      "type": parse_types(body.get("type"), terms)}
    for key, value in body.items():
        if key == "id" or key == "type":
            continue
        if key not in _NAMES:
            check_name(key)
            if key in ("createdAt", "modifiedAt", "deletedAt", "instanceId"):
                return parse_entity(body, terms)
            if len(_NAMES) < _NAMES_MAX:
                _NAMES.add(key)
        inst = _plain(key, value)
        entity[terms.expand(key)] = ([inst] if inst is not None
                                     else parse_attribute(key, value, terms))
    return entity


def _plain(name: str, raw: Any) -> Instance | None:
    """A plain Property or Relationship instance as parse_instance makes it, else None."""
    if not isinstance(raw, dict):
        return None
    kind = raw.get("type")
    if kind == "Property":
        value = raw.get("value")
        if value is None or isinstance(value, dict) or not raw.keys() <= _PLAIN:
            return None  # a geometry-like or structured value: the full parser decides
        unit = raw.get("unitCode")
        if unit is not None and (not isinstance(unit, str) or not unit):
            return None
        inst: Instance = {"type": "Property", "value": value}
        for key in raw:  # the body's member order, as parse_instance keeps it
            if key == "observedAt":
                inst[key] = observed_at(raw[key], name)
            elif key == "unitCode":
                inst[key] = raw[key]
        return inst
    if kind == "Relationship" and raw.keys() == {"type", "object"}:
        obj = raw["object"]
        if isinstance(obj, str):
            return {"type": "Relationship", "object": check_uri(obj, "object")}
    return None


def merge_newer(patch: Entity, now: str, *, create: bool = True) -> MutationFn:
    """Merge ``patch``, less its attributes older than the stored ones; with
    ``create`` False, an entity that does not exist is not created (not found)."""

    def fn(current: Entity | None) -> Entity | _Delete:
        if current is None:
            if not create:
                raise ResourceNotFound(f"entity {patch['id']} does not exist (deleted?)",
                                       instance=patch["id"])
            return mut.merge(patch, now, upsert=True)(None)
        kept = {k: v for k, v in patch.items()
                if k in ENTITY_KEYS or not _older(v, current.get(k))}
        return mut.merge(kept, now, upsert=True)(current)

    return fn


def _older(new: list[dict[str, Any]], stored: list[dict[str, Any]] | None) -> bool:
    if not stored:
        return False
    new_at = next((i.get("observedAt") for i in new if "datasetId" not in i), None)
    old_at = next((i.get("observedAt") for i in stored if "datasetId" not in i), None)
    return isinstance(new_at, str) and isinstance(old_at, str) and new_at < old_at
