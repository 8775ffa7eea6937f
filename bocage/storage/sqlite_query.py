"""EntityQuery -> SQL prefilter for the SQLite store (pure functions).

The SQL only *narrows* the candidates; the store then applies the exact
evaluators (q, geo, scope, idPattern) in Python. So every translation here
must be a superset of what it stands for, and anything we cannot translate
safely is simply dropped (it becomes TRUE).

A query becomes a :class:`Prefilter`: a conjunction of nodes, each an
:data:`Atom` (a pk set one index walk away) or an ``AllOf`` / ``AnyOf`` of
nodes. The store measures how large each atom is with a capped count (see
:func:`probe_sql`), then :func:`select_sql` picks the SQL shape:

* **driven** — the smallest conjunct holds fewer than ``cap`` pks: materialise
  that pk set and look the entities up by pk (selective queries, ``ids``);
* **streamed** — everything is broad: walk a type (or attribute name) index in
  pk order, or the tenant's entities, so LIMIT stops the walk after a few rows.

Types, attribute names and ids are checked inside SQL in both shapes (a
correlated EXISTS is one seek); value and geo atoms only ever drive, because
checking them per row would need a second index per table and the exact
evaluator has to decode the row anyway.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Final

from bocage.domain.entity import ENTITY_KEYS
from bocage.domain.errors import BocageError
from bocage.domain.query import And, Comparison, EntityQuery, GeoQuery, Or, QNode, QScalar, Range
from bocage.ngsild.geo import query_bbox

#: Below this many candidates, materialising a pk set beats streaming.
DEFAULT_CAP: Final = 5000

Params = list[object]

# ----------------------------------------------------------------------- atoms


@dataclass(frozen=True, slots=True)
class TypeIs:
    type: str


@dataclass(frozen=True, slots=True)
class HasAttr:
    name: str


@dataclass(frozen=True, slots=True)
class IdIn:
    ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class NumIn:
    name: str
    values: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class NumRange:
    """Inclusive bounds (strict q operators over-select by the bound itself)."""

    name: str
    low: float | None
    high: float | None


@dataclass(frozen=True, slots=True)
class TxtIn:
    name: str
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TxtRange:
    name: str
    low: str | None
    high: str | None


@dataclass(frozen=True, slots=True)
class GeoBox:
    name: str
    minx: float
    maxx: float
    miny: float
    maxy: float


@dataclass(frozen=True, slots=True)
class AllOf:
    parts: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    parts: tuple[Node, ...]


Atom = TypeIs | HasAttr | IdIn | NumIn | NumRange | TxtIn | TxtRange | GeoBox
Node = Atom | AllOf | AnyOf

#: Atoms whose pk sets come out of their index in pk order (streamable).
_ORDERED = (TypeIs, HasAttr)
#: Atoms cheap to check per row with a correlated seek.
_CHEAP = (TypeIs, HasAttr, IdIn)


@dataclass(frozen=True, slots=True)
class Prefilter:
    #: all must hold
    conjuncts: tuple[Node, ...]
    #: True when the SQL is the whole answer (no Python filter to run)
    exact: bool


@dataclass(frozen=True, slots=True)
class Selection:
    sql: str
    params: Params = field(default_factory=list)
    #: the prefilter proved the answer empty: do not run anything
    empty: bool = False


# ------------------------------------------------------------------ translate


def translate(query: EntityQuery) -> Prefilter:
    conjuncts: list[Node] = []
    if query.ids:
        conjuncts.append(IdIn(tuple(dict.fromkeys(query.ids))))
    groups = [tuple(dict.fromkeys(g)) for g in query.types if g]
    if len(groups) == 1:
        conjuncts.extend(TypeIs(t) for t in groups[0])
    elif groups:
        conjuncts.append(_any([_all([TypeIs(t) for t in g]) for g in groups]))
    if query.attrs:
        conjuncts.append(_any([HasAttr(a) for a in dict.fromkeys(query.attrs)]))
    if query.q is not None:
        node = translate_q(query.q)
        if isinstance(node, AllOf):
            conjuncts.extend(node.parts)
        elif node is not None:
            conjuncts.append(node)
    if query.geo is not None:
        box = translate_geo(query.geo)
        if box is not None:
            conjuncts.append(box)
    exact = query.q is None and query.geo is None and not query.scope_q and query.id_pattern is None
    return Prefilter(tuple(conjuncts), exact)


def translate_q(node: QNode) -> Node | None:
    """A superset of ``node`` as atoms, or None when nothing safe is known."""
    if isinstance(node, And):
        parts = [p for p in (translate_q(t) for t in node.terms) if p is not None]
        return _all(parts) if parts else None
    if isinstance(node, Or):
        branches = [translate_q(t) for t in node.terms]
        if not branches or any(b is None for b in branches):
            return None
        return _any([b for b in branches if b is not None])
    return _comparison(node)


def _comparison(term: Comparison) -> Node | None:
    name = term.path.attr
    if name in ENTITY_KEYS:  # id, type, createdAt...: not in the attribute indexes
        return None
    exists = HasAttr(name)
    if term.op is None or term.path.sub or term.path.keys:
        return exists
    value = term.value
    if term.op == "==":
        if isinstance(value, Range):
            return _range(name, value.low, value.high) or exists
        values = value if isinstance(value, tuple) else (value,)
        return _equal_any(name, values) or exists
    if term.op in (">", ">=", "<", "<=") and not isinstance(value, tuple | Range):
        if term.op in (">", ">="):
            return _range(name, value, None) or exists
        return _range(name, None, value) or exists
    return exists  # !=, ~=, !~=: only the attribute's presence is implied


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # a 400-digit integer: no REAL can bound it
        return None
    return number if math.isfinite(number) else None


def _range(name: str, low: QScalar, high: QScalar) -> Node | None:
    bounds = [b for b in (low, high) if b is not None]
    if not bounds:
        return None
    if all(_number(b) is not None for b in bounds):
        return NumRange(name, _number(low), _number(high))
    if all(isinstance(b, str) for b in bounds):
        return TxtRange(
            name, low if isinstance(low, str) else None, high if isinstance(high, str) else None
        )
    return None  # booleans, datetimes, mixed bounds: leave it to the evaluator


def _equal_any(name: str, values: tuple[QScalar, ...]) -> Node | None:
    nums: list[float] = []
    txts: list[str] = []
    for v in values:
        if isinstance(v, bool):
            nums.append(1.0 if v else 0.0)
        elif isinstance(v, str):
            txts.append(v)
        elif (number := _number(v)) is not None:
            nums.append(number)
        else:  # None, datetime: no index holds them
            return None
    parts: list[Node] = []
    if nums:
        parts.append(NumIn(name, tuple(dict.fromkeys(nums))))
    if txts:
        parts.append(TxtIn(name, tuple(dict.fromkeys(txts))))
    return _any(parts) if parts else None


def translate_geo(gq: GeoQuery) -> GeoBox | None:
    try:
        box = query_bbox(gq)
        if box is None:
            return None
        minx, miny, maxx, maxy = (float(v) for v in box)
    except (BocageError, LookupError, TypeError, ValueError):
        return None  # a malformed geometry: geo_matches reports it, not the prefilter
    if minx > maxx or miny > maxy:  # e.g. across the antimeridian: no prefilter
        return None
    # The R*Tree keeps 32-bit floats: a stored coordinate may have moved by its float32
    # rounding, and one below ~1e-38 may have become 0. Widen the query box by more than
    # that, so the prefilter never drops a geometry the exact check would keep.
    return GeoBox(gq.geoproperty, _widen(minx, -1), _widen(maxx, 1), _widen(miny, -1),
                  _widen(maxy, 1))


def _widen(v: float, way: int) -> float:
    return v + way * (abs(v) * 1e-6 + 1e-30)


def _all(parts: list[Node]) -> Node:
    flat: list[Node] = []
    for p in parts:
        flat.extend(p.parts if isinstance(p, AllOf) else (p,))
    return flat[0] if len(flat) == 1 else AllOf(tuple(flat))


def _any(parts: list[Node]) -> Node:
    flat: list[Node] = []
    for p in parts:
        flat.extend(p.parts if isinstance(p, AnyOf) else (p,))
    return flat[0] if len(flat) == 1 else AnyOf(tuple(dict.fromkeys(flat)))


# --------------------------------------------------------------------- probes


@dataclass(frozen=True, slots=True)
class Scope:
    """What the SQL is run against: the tenant's id and the interned ids of
    the IRIs the query names (an IRI missing here was never stored)."""

    tid: int
    nids: Mapping[str, int]


def atoms(node: Node) -> Iterator[Atom]:
    if isinstance(node, AllOf | AnyOf):
        for part in node.parts:
            yield from atoms(part)
    else:
        yield node


def iris(prefilter: Prefilter) -> set[str]:
    """Every IRI the prefilter names (to resolve into a Scope)."""
    found: set[str] = set()
    for conjunct in prefilter.conjuncts:
        for atom in atoms(conjunct):
            if isinstance(atom, TypeIs):
                found.add(atom.type)
            elif not isinstance(atom, IdIn):
                found.add(atom.name)
    return found


def atoms_to_probe(prefilter: Prefilter, cap: int = DEFAULT_CAP) -> list[Atom]:
    """The atoms whose size decides the SQL shape (none when it is obvious)."""
    conjuncts = prefilter.conjuncts
    if any(isinstance(c, IdIn) and len(c.ids) < cap for c in conjuncts):
        return []  # a short id list always drives
    if len(conjuncts) <= 1 and all(isinstance(c, _ORDERED) for c in conjuncts):
        return []  # one type or attribute name: streaming its index is optimal
    found = [a for c in conjuncts for a in atoms(c) if not isinstance(a, IdIn)]
    return list(dict.fromkeys(found))


def probe_sql(scope: Scope, atom: Atom, cap: int = DEFAULT_CAP) -> tuple[str, Params] | None:
    """SQL counting ``atom``'s pks, stopping at ``cap``; None if it has none."""
    if _prune(atom, scope) is None:
        return None
    sql, params = pkset_sql(scope, atom)
    return f"SELECT count(*) FROM ({sql} LIMIT ?)", [*params, cap]


def estimate(node: Node, sizes: Mapping[Atom, int], cap: int = DEFAULT_CAP) -> int:
    if isinstance(node, AllOf):
        return min(estimate(p, sizes, cap) for p in node.parts)
    if isinstance(node, AnyOf):
        return min(cap, sum(estimate(p, sizes, cap) for p in node.parts))
    if isinstance(node, IdIn):
        return len(node.ids)
    return sizes.get(node, cap)


def _prune(node: Node, scope: Scope) -> Node | None:
    """Drop what names an IRI never stored (an empty set); None if all is empty."""
    if isinstance(node, AllOf):
        parts = [_prune(p, scope) for p in node.parts]
        if any(p is None for p in parts):
            return None
        return AllOf(tuple(p for p in parts if p is not None))
    if isinstance(node, AnyOf):
        kept = tuple(p for p in (_prune(p, scope) for p in node.parts) if p is not None)
        if not kept:
            return None
        return kept[0] if len(kept) == 1 else AnyOf(kept)
    if isinstance(node, IdIn):
        return node
    iri = node.type if isinstance(node, TypeIs) else node.name
    return node if iri in scope.nids else None


# ------------------------------------------------------------------------ SQL


def pkset_sql(scope: Scope, node: Node) -> tuple[str, Params]:
    """A SELECT of the pks of a pruned node (AllOf -> INTERSECT, AnyOf -> UNION)."""
    tid = scope.tid
    if isinstance(node, AllOf | AnyOf):
        glue = " INTERSECT " if isinstance(node, AllOf) else " UNION "
        sqls: list[str] = []
        params: Params = []
        for part in node.parts:
            sql, p = pkset_sql(scope, part)
            sqls.append(f"SELECT pk FROM ({sql})")
            params.extend(p)
        return glue.join(sqls), params
    if isinstance(node, IdIn):
        marks = ", ".join("?" * len(node.ids))
        return f"SELECT pk FROM entities WHERE tid = ? AND id IN ({marks})", [tid, *node.ids]
    if isinstance(node, TypeIs):
        return "SELECT pk FROM entity_types WHERE tid = ? AND nid = ?", [tid, scope.nids[node.type]]
    nid = scope.nids[node.name]
    if isinstance(node, HasAttr):
        return "SELECT pk FROM attr_names WHERE tid = ? AND nid = ?", [tid, nid]
    if isinstance(node, NumIn | TxtIn):
        table, column = ("attr_num", "num") if isinstance(node, NumIn) else ("attr_txt", "txt")
        marks = ", ".join("?" * len(node.values))
        return (
            f"SELECT pk FROM {table} WHERE tid = ? AND nid = ? AND {column} IN ({marks})",
            [tid, nid, *node.values],
        )
    if isinstance(node, NumRange | TxtRange):
        table, column = ("attr_num", "num") if isinstance(node, NumRange) else ("attr_txt", "txt")
        sql = f"SELECT pk FROM {table} WHERE tid = ? AND nid = ?"
        params = [tid, nid]
        if node.low is not None:
            sql += f" AND {column} >= ?"
            params.append(node.low)
        if node.high is not None:
            sql += f" AND {column} <= ?"
            params.append(node.high)
        return sql, params
    return (
        "SELECT g.pk FROM geo_rtree r JOIN geo_index g ON g.id = r.id"
        " WHERE r.minx <= ? AND r.maxx >= ? AND r.miny <= ? AND r.maxy >= ?"
        " AND g.tid = ? AND g.nid = ?",
        [node.maxx, node.minx, node.maxy, node.miny, tid, nid],
    )


def _check_sql(scope: Scope, node: Node, pk: str) -> tuple[str, Params] | None:
    """A condition on the row whose pk is ``pk``, implied by node; None = TRUE."""
    if isinstance(node, AllOf | AnyOf):
        found = [_check_sql(scope, p, pk) for p in node.parts]
        checks = [c for c in found if c is not None]
        if isinstance(node, AnyOf) and len(checks) < len(found):
            return None  # one branch unchecked: the OR may hold
        if not checks:
            return None
        glue = " AND " if isinstance(node, AllOf) else " OR "
        return "(" + glue.join(s for s, _ in checks) + ")", [x for _, p in checks for x in p]
    if isinstance(node, TypeIs | HasAttr):
        table = "entity_types" if isinstance(node, TypeIs) else "attr_names"
        nid = scope.nids[node.type if isinstance(node, TypeIs) else node.name]
        return (
            f"EXISTS (SELECT 1 FROM {table} x WHERE x.tid = ? AND x.nid = ? AND x.pk = {pk})",
            [scope.tid, nid],
        )
    if isinstance(node, IdIn):
        sql, params = pkset_sql(scope, node)
        return f"{pk} IN ({sql})", params
    return None


def _driver(node: Node, sizes: Mapping[Atom, int], cap: int) -> Node:
    """The cheapest pk set implied by node (an AllOf drives from its smallest part)."""
    if isinstance(node, AllOf):
        best = min(node.parts, key=lambda p: estimate(p, sizes, cap))
        return _driver(best, sizes, cap)
    if isinstance(node, AnyOf):
        return AnyOf(tuple(_driver(p, sizes, cap) for p in node.parts))
    return node


def select_sql(
    scope: Scope,
    prefilter: Prefilter,
    sizes: Mapping[Atom, int],
    cap: int = DEFAULT_CAP,
    count: bool = False,
) -> Selection:
    """The candidates as ``SELECT pk, data ... ORDER BY pk`` (or their ``count(*)``)
    for measured atom ``sizes``."""
    conjuncts: list[Node] = []
    for conjunct in prefilter.conjuncts:
        pruned = _prune(conjunct, scope)
        if pruned is None:
            return Selection("", [], empty=True)
        conjuncts.append(pruned)
    best: Node | None = None
    if conjuncts:
        best = min(conjuncts, key=lambda c: estimate(c, sizes, cap))
        size = estimate(best, sizes, cap)
        if size == 0:
            return Selection("", [], empty=True)
        if size >= cap:
            best = None
    what = "count(*)" if count else "e.pk, e.data"
    if best is not None:
        # Driven. NOT INDEXED leaves SQLite one plan: walk the materialised pk
        # list in order, one rowid seek each; given the choice, it would rather
        # scan entities_tenant or sort the rows, data blobs included.
        sql, params = pkset_sql(scope, _driver(best, sizes, cap))
        sql = f"SELECT {what} FROM entities e NOT INDEXED WHERE e.pk IN ({sql}) AND e.tid = ?"
        params.append(scope.tid)
        pk = "e.pk"
    else:
        best = next((c for c in conjuncts if isinstance(c, _ORDERED)), None)
        if isinstance(best, TypeIs | HasAttr):
            # Streamed from the type (or attribute) index, already in pk order;
            # a count never needs to touch the entity rows at all.
            table = "entity_types" if isinstance(best, TypeIs) else "attr_names"
            nid = scope.nids[best.type if isinstance(best, TypeIs) else best.name]
            source = f"{table} d"
            if not count:
                source += " CROSS JOIN entities e NOT INDEXED ON e.pk = d.pk"
            sql = f"SELECT {what} FROM {source} WHERE d.tid = ? AND d.nid = ?"
            params = [scope.tid, nid]
            pk = "d.pk"
        else:
            sql = f"SELECT {what} FROM entities e INDEXED BY entities_tenant WHERE e.tid = ?"
            params = [scope.tid]
            pk = "e.pk"
    for conjunct in conjuncts:
        if conjunct is best and isinstance(best, _CHEAP):
            continue  # the driver already is this condition
        check = _check_sql(scope, conjunct, pk)
        if check is not None:
            sql += " AND " + check[0]
            params.extend(check[1])
    return Selection(sql if count else f"{sql} ORDER BY {pk}", params)
