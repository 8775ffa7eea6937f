"""Entity patches -> Store mutations that never let an older reading win.

Uplinks can arrive out of order (a gateway backhaul catching up, a dead letter
replayed days later); the latest value of an attribute must stay the latest
observed one, so an attribute whose stored ``observedAt`` is newer is left out
of the merge. Pure: the clock comes in as ``now``.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from bocage.domain.entity import ENTITY_KEYS, INSTANCE_KEYS, VALUE_KEY, Entity, Instance
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
#: entity ids already checked (``check_uri``): a device's and its equipment's
_IDS: set[Any] = set()
_IDS_MAX = 200_000
#: (type name, terms) -> expanded types
_TYPES: dict[tuple[str, Terms], list[str]] = {}
#: an instant already in the normal form ``format_utc`` writes
_NORMAL = re.compile(r"[1-9]\d{3}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


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
    ident, kind = body.get("id"), body.get("type")
    if ident not in _IDS:
        check_uri(ident, "entity id")
        if len(_IDS) >= _IDS_MAX:
            _IDS.clear()
        _IDS.add(ident)
    types = _TYPES.get((kind, terms)) if type(kind) is str else None
    if types is None:
        types = parse_types(kind, terms)
        if type(kind) is str and len(_TYPES) < _NAMES_MAX:
            _TYPES[(kind, terms)] = types
    entity: Entity = {"id": ident, "type": list(types)}
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
                inst[key] = _instant(raw[key], name)
            elif key == "unitCode":
                inst[key] = raw[key]
        return inst
    if kind == "Relationship" and raw.keys() == {"type", "object"}:
        obj = raw["object"]
        if isinstance(obj, str):
            return {"type": "Relationship", "object": check_uri(obj, "object")}
    return None


def _instant(value: Any, name: str) -> str:
    """``observedAt`` in normal form: the pipeline's are already (the network server's
    time went through ``fields.timestamp``), so they are only checked."""
    global _last_instant
    if value is _last_instant:  # the attributes of one uplink share one instant
        return value  # type: ignore[no-any-return]
    if type(value) is str and _NORMAL.fullmatch(value) is not None:
        try:
            dt.datetime.fromisoformat(value[:19])  # a real date and time
        except ValueError:
            return observed_at(value, name)  # raises, naming the attribute
        _last_instant = value
        return value
    return observed_at(value, name)


_last_instant: Any = None


def merge_newer(patch: Entity, now: str, *, create: bool = True) -> MutationFn:
    """Merge ``patch``, less its attributes older than the stored ones; with
    ``create`` False, an entity that does not exist is not created (not found).

    The same as ``mutations.merge`` of the attributes kept. A patch of plain
    attributes (one instance each, no datasetId, no sub-attribute: every patch
    the pipeline makes) is merged here directly, without the generic merge's
    deep copy of every member (tested equal, member order included).
    """
    plain = _is_plain(patch)

    def fn(current: Entity | None) -> Entity | _Delete:
        if current is None:
            if not create:
                raise ResourceNotFound(f"entity {patch['id']} does not exist (deleted?)",
                                       instance=patch["id"])
            return mut.merge(patch, now, upsert=True)(None)
        if plain:
            return _merge_plain(patch, current, now)
        kept = {k: v for k, v in patch.items()
                if k in ENTITY_KEYS or not (_older(v, current.get(k))
                                            or restated(v, current.get(k)))}
        return mut.merge(kept, now, upsert=True)(current)

    return fn


_STAMPS = ("createdAt", "modifiedAt")


def _is_plain(patch: Entity) -> bool:
    if "scope" in patch:
        return False
    for key, insts in patch.items():
        if key in ENTITY_KEYS:
            continue
        if type(insts) is not list or len(insts) != 1:
            return False
        inst = insts[0]
        if type(inst) is not dict or "datasetId" in inst or not inst.keys() <= INSTANCE_KEYS \
                or "createdAt" in inst or "modifiedAt" in inst or _is_null(inst):
            return False
    return True


def _is_null(inst: dict[str, Any]) -> bool:
    vkey = VALUE_KEY.get(inst.get("type", "Property"), "value")
    if vkey not in inst:
        return False
    value = inst[vkey]
    return value is None or (type(value) is str and value == mut.NULL_URI)


def _merge_plain(patch: Entity, current: Entity, now: str) -> Entity:
    out = dict(current)
    for t in patch.get("type", ()):
        if t not in out["type"]:
            out["type"] = [*out["type"], t]
    for key, insts in patch.items():
        if key in ENTITY_KEYS:
            continue
        new = insts[0]
        stored = current.get(key)
        if not stored:
            out[key] = [{**new, "createdAt": now, "modifiedAt": now}]
            continue
        if restated(insts, stored):
            continue  # the same relationship or static value again: not a change
        old_at = _first_at(stored)
        new_at = new.get("observedAt")
        if type(new_at) is str and type(old_at) is str and new_at < old_at:
            continue  # an older reading: the stored one stays
        pos = None
        for i, inst in enumerate(stored):
            if inst.get("datasetId") is None:
                pos = i  # the last default instance, as mutations' by-datasetId map finds
        if pos is None:
            out[key] = [*stored, {**new, "createdAt": now, "modifiedAt": now}]
            continue
        old = stored[pos]
        merged = dict(old)
        merged.update(new)  # values are shared, never modified in place (as mutations._fresh)
        kind = new.get("type")
        if kind and kind != old.get("type"):
            old_key = VALUE_KEY.get(old.get("type", "Property"))
            if old_key and old_key != VALUE_KEY.get(kind):
                merged.pop(old_key, None)
        merged["modifiedAt"] = now
        merged.setdefault("createdAt", now)
        if len(stored) == 1:
            out[key] = [merged]
        else:
            changed = list(stored)
            changed[pos] = merged
            out[key] = changed
    out["modifiedAt"] = now
    return out


def restated(new: list[Any], stored: list[Any] | None) -> bool:
    """An attribute a patch states again as it is stored, without an observation time
    (the asset's relationship to its device, sent with every uplink; a static value):
    not a change. It is left as stored: no new ``modifiedAt``, no history instance, no
    index work. A reading with ``observedAt`` is never restated, even with the same
    value: it is a new observation."""
    if not stored or len(new) != 1 or len(stored) != 1:
        return False
    given, kept = new[0], stored[0]
    if type(given) is not dict or type(kept) is not dict or "observedAt" in given \
            or "datasetId" in given or "datasetId" in kept:
        return False
    if len(given) != sum(1 for k in kept if k not in _STAMPS):
        return False
    return all(k not in _STAMPS and k in kept and kept[k] == v for k, v in given.items())


def _first_at(insts: list[dict[str, Any]]) -> Any:
    for inst in insts:
        if "datasetId" not in inst:
            return inst.get("observedAt")
    return None


def _older(new: list[dict[str, Any]], stored: list[dict[str, Any]] | None) -> bool:
    if not stored:
        return False
    new_at = _first_at(new)
    old_at = _first_at(stored)
    return isinstance(new_at, str) and isinstance(old_at, str) and new_at < old_at
