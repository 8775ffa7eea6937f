"""What the SQLite index tables hold for one entity (a pure function).

The writer never reads the index tables back: it derives the rows of the old
and of the new entity with :func:`index_rows` and writes the difference.

Over-indexing is harmless (the exact evaluators decide), under-indexing makes
queries miss entities, so this errs on the generous side: every scalar found
under *any* value key of an instance is indexed, whatever the attribute type,
and every GeoProperty value gets a bounding box (the whole plane when it has
no computable one, so that the exact evaluator still sees it).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

from bocage.domain.entity import ENTITY_KEYS, Entity
from bocage.ngsild.geo import geometry_bbox

#: Instance keys whose content a q term may compare against.
_VALUE_KEYS: Final = ("value", "object", "valueList", "objectList", "vocab", "json", "languageMap")

#: (kind, type, attribute name, attribute type) discovery facts, see sqlite_schema.
Fact = tuple[str, str, str, str]
GeoRow = tuple[str, float, float, float, float]  # name, minx, maxx, miny, maxy


@dataclass(frozen=True, slots=True)
class IndexRows:
    types: frozenset[str]
    names: frozenset[str]
    nums: frozenset[tuple[str, float]]
    txts: frozenset[tuple[str, str]]
    geos: tuple[GeoRow, ...]
    facts: frozenset[Fact]


EMPTY: Final = IndexRows(frozenset(), frozenset(), frozenset(), frozenset(), (), frozenset())


def entity_types(entity: Entity) -> list[str]:
    raw = entity.get("type", ())
    if isinstance(raw, str):
        return [raw]
    return [t for t in raw if isinstance(t, str)]


def index_delta(before: Entity | None, after: Entity | None) -> tuple[IndexRows, IndexRows]:
    """Rows of ``before`` and of ``after`` such that their difference is the
    difference of the full rows of both entities.

    Only attributes that differ are indexed when the types are the same (a value
    update indexes one attribute, not the whole entity twice): every row, box
    and fact but the type ones belongs to exactly one attribute (the writer
    replaces the boxes of the attributes named in the rows, see sqlite_apply).
    """
    if before is None:
        return EMPTY, EMPTY if after is None else index_rows(after)
    if after is None:
        return index_rows(before), EMPTY
    types = before.get("type")
    if types != after.get("type"):
        return index_rows(before), index_rows(after)
    old: Entity = {"type": types}
    new: Entity = {"type": types}
    for name, insts in after.items():
        if name not in ENTITY_KEYS:
            prior = before.get(name)
            if prior is not insts and prior != insts:
                new[name] = insts
                if prior is not None:
                    old[name] = prior
    for name, insts in before.items():
        if name not in ENTITY_KEYS and name not in after:
            old[name] = insts
    if len(old) == 1 and len(new) == 1:
        return EMPTY, EMPTY
    return index_rows(old), index_rows(new)


def index_rows(entity: Entity) -> IndexRows:
    types = frozenset(entity_types(entity))
    names: set[str] = set()
    nums: set[tuple[str, float]] = set()
    txts: set[tuple[str, str]] = set()
    geos: list[GeoRow] = []
    facts: set[Fact] = {("T", t, "", "") for t in types}
    for name, instances in entity.items():
        if name in ENTITY_KEYS:
            continue
        names.add(name)
        facts.add(("A", "", name, ""))
        for instance in instances if isinstance(instances, list) else [instances]:
            if not isinstance(instance, dict):
                continue
            attr_type = instance.get("type", "Property")
            if type(attr_type) is not str:
                attr_type = str(attr_type)
            for t in types:
                facts.add(("TA", t, name, attr_type))
            if attr_type == "GeoProperty" and isinstance(instance.get("value"), dict):
                geos.append((name, *_bbox(instance["value"])))
                continue
            for key in _VALUE_KEYS:
                if key not in instance:
                    continue
                value = instance[key]
                # plain numbers and strings, most values, skip the generic walk
                kind = type(value)
                if kind is str:
                    txts.add((name, value))
                    if key == "vocab":
                        txts.update((name, tail) for tail in _iri_tails(value))
                    continue
                if (kind is int or kind is float) and -_BIG < value < _BIG:
                    nums.add((name, float(value)))
                    continue
                if key == "languageMap" and isinstance(value, dict):
                    value = list(value.values())
                for scalar in _scalars(value):
                    if isinstance(scalar, str):
                        txts.add((name, scalar))
                        if key == "vocab":
                            txts.update((name, tail) for tail in _iri_tails(scalar))
                    else:
                        nums.add((name, scalar))
    return IndexRows(
        types,
        frozenset(names),
        frozenset(nums),
        frozenset(txts),
        tuple(sorted(geos)) if len(geos) > 1 else tuple(geos),
        frozenset(facts),
    )


#: Finite floats (NaN fails both comparisons), and ints that convert exactly
#: enough: anything else takes the careful path of ``_scalars``.
_BIG: Final = 1e300


def _scalars(value: Any, depth: int = 0) -> Iterator[str | float]:
    """Scalars of a value: itself, list elements, ``@value`` / ``object`` wrappers."""
    if isinstance(value, bool):
        yield 1.0 if value else 0.0
    elif isinstance(value, int | float):
        try:
            number = float(value)
        except OverflowError:  # an int past 1e308 cannot be stored as JSON anyway
            return
        if math.isfinite(number):
            yield number
    elif isinstance(value, str):
        yield value
    elif depth > 4:  # compound values are only reachable through keys: existence suffices
        return
    elif isinstance(value, list):
        for item in value:
            yield from _scalars(item, depth + 1)
    elif isinstance(value, dict):
        for key in ("@value", "value", "object", "vocab"):
            if key in value:
                yield from _scalars(value[key], depth + 1)


def _iri_tails(iri: str) -> Iterator[str]:
    """What follows each ``/`` or ``#``: q equates a bare vocab term with an IRI
    ending in ``/term`` or ``#term``, so ``vocab==term`` must find those rows."""
    for i, char in enumerate(iri):
        if char in "/#":
            yield iri[i + 1 :]


#: Where a geometry goes when its box cannot be computed: everywhere, so that
#: the prefilter lets the exact evaluator decide rather than losing it.
_WORLD: Final = (-1e30, 1e30, -1e30, 1e30)


def _bbox(geometry: dict[str, Any]) -> tuple[float, float, float, float]:
    if geometry.get("type") == "Point":  # most geometries: no walk, no lists
        position = geometry.get("coordinates")
        if type(position) is list and len(position) >= 2:
            x, y = position[0], position[1]
            if type(x) in (int, float) and type(y) in (int, float):
                fx, fy = float(x), float(y)
                if math.isfinite(fx) and math.isfinite(fy):
                    return fx, fx, fy, fy
    try:
        minx, miny, maxx, maxy = (float(v) for v in geometry_bbox(geometry))
    except Exception:
        return _WORLD
    if not all(math.isfinite(v) for v in (minx, miny, maxx, maxy)):
        return _WORLD
    return minx, maxx, miny, maxy
