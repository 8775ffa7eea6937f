"""EntityQuery -> SQL prefilter for the PostgreSQL store (pure functions).

The query is translated into the same :class:`Prefilter` of atoms as for
SQLite (``sqlite_query.translate``: a superset of the answer, never a subset;
the exact evaluators decide), and only the SQL differs. As in SQLite the store
measures each atom with a capped count (one round trip for all of them), then
picks a shape itself rather than leaving it to the planner's estimates, which
know nothing of per-attribute value distributions in ``attr_num``:

* **driven** — the smallest conjunct holds fewer than ``cap`` pks: fetch that
  pk set (checked against the cheap conjuncts) into Python, sorted, then read
  entity rows by pk, a page's worth at a time;
* **streamed** — everything is broad: walk a type (or attribute name) index in
  pk order, or the tenant's entities, in keyset chunks (``pk > last ... LIMIT
  n``): every chunk is a fresh LIMIT query, so its plan is a fast-start index
  walk whatever the statistics say, and no server-side cursor stays open.

Strings are compared as UTF-8 ``bytea`` (see ``postgres_schema``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from bocage.storage.sqlite_query import (
    DEFAULT_CAP,
    AllOf,
    AnyOf,
    Atom,
    GeoBox,
    HasAttr,
    IdIn,
    Node,
    NumIn,
    NumRange,
    Prefilter,
    Scope,
    TxtIn,
    TxtRange,
    TypeIs,
    atoms,
    atoms_to_probe,
    estimate,
)

Params = list[object]

#: Atoms whose pk sets come out of their index in pk order (streamable).
_ORDERED: Final = (TypeIs, HasAttr)
#: Atoms cheap to check per row with a correlated seek.
_CHEAP: Final = (TypeIs, HasAttr, IdIn)


def enc(text: str) -> bytes:
    """A str as stored in a ``bytea`` column (lone surrogates kept, in order)."""
    return text.encode("utf-8", "surrogatepass")


def dec(raw: bytes) -> str:
    return bytes(raw).decode("utf-8", "surrogatepass")


# ---------------------------------------------------------------------- plans


@dataclass(frozen=True, slots=True)
class Driven:
    """``pks_sql`` selects the driver's pks (any order, maybe repeated);
    ``checks`` must hold too (see :func:`filter_sql`)."""

    scope: Scope
    pks_sql: str
    params: Params
    checks: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Streamed:
    """``pks_sql`` walks an index in pk order (append :func:`after`);
    ``checks`` must hold too. ``count_sql`` is set when there are none."""

    scope: Scope
    pks_sql: str
    params: Params
    checks: tuple[Node, ...]
    pages_sql: str  # pk, data in pk order: LIMIT/OFFSET when the SQL is exact
    count_sql: str


Plan = Driven | Streamed | None  # None: the answer is empty


def after(plan: Streamed, last: int, size: int) -> tuple[str, Params]:
    return f"{plan.pks_sql} AND pk > %s ORDER BY pk LIMIT %s", [*plan.params, last, size]


def paged(plan: Streamed, limit: int, offset: int) -> tuple[str, Params]:
    return f"{plan.pages_sql} LIMIT %s OFFSET %s", [*plan.params, limit, offset]


def rows_by_pk_sql(pks: Sequence[int]) -> tuple[str, Params]:
    return "SELECT pk, data::text FROM entities WHERE pk = ANY(%s::bigint[])", [list(pks)]


def filter_sql(
    scope: Scope, checks: Sequence[Node], pks: Sequence[int]
) -> tuple[list[Atom], str, Params]:
    """One statement giving, for each cheap atom of ``checks``, which of
    ``pks`` it holds (an array each), by one index seek per candidate whatever
    the statistics say: a correlated EXISTS over the candidates' query let the
    planner pick a nested loop that rescanned the type index for each."""
    found = list(dict.fromkeys(a for c in checks for a in atoms(c)))
    columns: list[str] = []
    params: Params = []
    for atom in found:
        sql, p = pkset_sql(scope, atom)
        # LATERAL ... LIMIT 1 leaves one plan: a seek per candidate. Given
        # ``pk = ANY(array)`` instead, PostgreSQL walked the whole (tid, nid)
        # range and tested each row against the array: seconds at 100,000.
        columns.append(
            "(SELECT coalesce(array_agg(c.pk), '{}') FROM unnest(%s::bigint[]) AS c(pk)"
            f" CROSS JOIN LATERAL ({sql} AND pk = c.pk LIMIT 1) s)"
        )
        params.extend([list(pks), *p])
    return found, "SELECT " + ", ".join(columns), params


def holds(node: Node, found: Mapping[Atom, set[int]], pk: int) -> bool:
    if isinstance(node, AllOf):
        return all(holds(p, found, pk) for p in node.parts)
    if isinstance(node, AnyOf):
        return any(holds(p, found, pk) for p in node.parts)
    return pk in found[node]


# --------------------------------------------------------------------- probes


def probes_sql(
    scope: Scope, prefilter: Prefilter, cap: int = DEFAULT_CAP
) -> tuple[list[Atom], str, Params]:
    """One statement counting every atom that decides the shape (capped at
    ``cap``); atoms naming an IRI never stored are left out (size 0)."""
    measured: list[Atom] = []
    columns: list[str] = []
    params: Params = []
    for atom in atoms_to_probe(prefilter, cap):
        if prune(atom, scope) is None:
            continue
        sql, p = pkset_sql(scope, atom)
        measured.append(atom)
        columns.append(f"(SELECT count(*) FROM ({sql} LIMIT %s) s)")
        params.extend([*p, cap])
    return measured, "SELECT " + ", ".join(columns) if columns else "", params


def prune(node: Node, scope: Scope) -> Node | None:
    """Drop what names an IRI never stored (an empty set); None if all is empty."""
    if isinstance(node, AllOf):
        parts = [prune(p, scope) for p in node.parts]
        if any(p is None for p in parts):
            return None
        return AllOf(tuple(p for p in parts if p is not None))
    if isinstance(node, AnyOf):
        kept = tuple(p for p in (prune(p, scope) for p in node.parts) if p is not None)
        if not kept:
            return None
        return kept[0] if len(kept) == 1 else AnyOf(kept)
    if isinstance(node, IdIn):
        return node
    iri = node.type if isinstance(node, TypeIs) else node.name
    return node if iri in scope.nids else None


def _driver(node: Node, sizes: Mapping[Atom, int], cap: int) -> Node:
    """The cheapest pk set implied by node (an AllOf drives from its smallest part)."""
    if isinstance(node, AllOf):
        return _driver(min(node.parts, key=lambda p: estimate(p, sizes, cap)), sizes, cap)
    if isinstance(node, AnyOf):
        return AnyOf(tuple(_driver(p, sizes, cap) for p in node.parts))
    return node


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
            sqls.append(f"(SELECT pk FROM ({sql}) s)")
            params.extend(p)
        return glue.join(sqls), params
    if isinstance(node, IdIn):
        return (
            "SELECT pk FROM entities WHERE tid = %s AND id = ANY(%s::bytea[])",
            [tid, [enc(i) for i in node.ids]],
        )
    if isinstance(node, TypeIs):
        nid = scope.nids[node.type]
        return "SELECT pk FROM entity_types WHERE tid = %s AND nid = %s", [tid, nid]
    nid = scope.nids[node.name]
    if isinstance(node, HasAttr):
        return "SELECT pk FROM attr_names WHERE tid = %s AND nid = %s", [tid, nid]
    if isinstance(node, NumIn):
        return (
            "SELECT pk FROM attr_num WHERE tid = %s AND nid = %s AND num = ANY(%s::float8[])",
            [tid, nid, list(node.values)],
        )
    if isinstance(node, TxtIn):
        return (
            "SELECT pk FROM attr_txt WHERE tid = %s AND nid = %s AND txt = ANY(%s::bytea[])",
            [tid, nid, [enc(v) for v in node.values]],
        )
    if isinstance(node, NumRange | TxtRange):
        table, column, cast = (
            ("attr_num", "num", "float8")
            if isinstance(node, NumRange)
            else ("attr_txt", "txt", "bytea")
        )
        sql = f"SELECT pk FROM {table} WHERE tid = %s AND nid = %s"
        params = [tid, nid]
        for bound, op in ((node.low, ">="), (node.high, "<=")):
            if bound is not None:
                sql += f" AND {column} {op} %s::{cast}"
                params.append(enc(bound) if isinstance(bound, str) else bound)
        return sql, params
    assert isinstance(node, GeoBox)
    return (
        "SELECT pk FROM geo_index WHERE tid = %s AND nid = %s"
        " AND box && ST_MakeEnvelope(%s, %s, %s, %s, 4326)",
        [tid, nid, node.minx, node.miny, node.maxx, node.maxy],
    )


def checkable(node: Node) -> Node | None:
    """The part of ``node`` that index seeks can check (types, attribute names,
    ids; value and geo atoms are left to the evaluators); None = TRUE."""
    if isinstance(node, AllOf | AnyOf):
        found = [checkable(p) for p in node.parts]
        kept = [c for c in found if c is not None]
        if isinstance(node, AnyOf) and len(kept) < len(found):
            return None  # one branch unchecked: the OR may hold
        if not kept:
            return None
        return kept[0] if len(kept) == 1 else type(node)(tuple(kept))
    return node if isinstance(node, _CHEAP) else None


def plan(
    scope: Scope, prefilter: Prefilter, sizes: Mapping[Atom, int], cap: int = DEFAULT_CAP
) -> Plan:
    """The SQL shape for measured atom ``sizes`` (see the module docstring)."""
    conjuncts: list[Node] = []
    for conjunct in prefilter.conjuncts:
        pruned = prune(conjunct, scope)
        if pruned is None:
            return None
        conjuncts.append(pruned)
    best: Node | None = None
    if conjuncts:
        best = min(conjuncts, key=lambda c: estimate(c, sizes, cap))
        size = estimate(best, sizes, cap)
        if size == 0:
            return None
        if size >= cap:
            best = None
    if best is None:
        best = next((c for c in conjuncts if isinstance(c, _ORDERED)), None)
        driven = False
    else:
        driven = True
    checks = tuple(
        c
        for c in (checkable(n) for n in conjuncts if not (n is best and isinstance(n, _CHEAP)))
        if c is not None
    )
    if driven:
        assert best is not None
        sql, params = pkset_sql(scope, _driver(best, sizes, cap))
        return Driven(scope, sql, params, checks)
    if isinstance(best, TypeIs | HasAttr):
        table = "entity_types" if isinstance(best, TypeIs) else "attr_names"
        nid = scope.nids[best.type if isinstance(best, TypeIs) else best.name]
        where, params = "tid = %s AND nid = %s", [scope.tid, nid]
        pages = (
            f"SELECT d.pk, e.data::text FROM {table} d JOIN entities e ON e.pk = d.pk"
            " WHERE d.tid = %s AND d.nid = %s ORDER BY d.pk"
        )
    else:
        table, where, params = "entities", "tid = %s", [scope.tid]
        pages = "SELECT pk, data::text FROM entities WHERE tid = %s ORDER BY pk"
    return Streamed(
        scope,
        f"SELECT pk FROM {table} WHERE {where}",
        params,
        checks,
        pages,
        f"SELECT count(*) FROM {table} WHERE {where}",
    )
