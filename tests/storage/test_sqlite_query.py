"""The SQLite prefilter as pure functions: EntityQuery -> atoms -> SQL.

The central property: whenever the exact evaluator accepts an entity, the
index rows derived from that entity satisfy the translated prefilter (so
SQL can never lose a match). Checked here without any database.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from contract import LOC, NS, REL, T1, T2, VOC, A, B, datasets, q_nodes
from hypothesis import given, settings

from bocage.domain.entity import Entity
from bocage.domain.query import And, AttrPath, Comparison, EntityQuery, GeoQuery, Or, QNode, Range
from bocage.ngsild.q import matches
from bocage.storage.sqlite_index import IndexRows, index_rows
from bocage.storage.sqlite_query import (
    AllOf,
    AnyOf,
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
    atoms_to_probe,
    iris,
    probe_sql,
    select_sql,
    translate,
    translate_q,
)
from bocage.storage.sqlite_schema import MIGRATIONS, migrate


def holds(node: Node, rows: IndexRows) -> bool:
    """What SQL would answer for one entity, computed from its index rows."""
    if isinstance(node, AllOf):
        return all(holds(p, rows) for p in node.parts)
    if isinstance(node, AnyOf):
        return any(holds(p, rows) for p in node.parts)
    if isinstance(node, TypeIs):
        return node.type in rows.types
    if isinstance(node, HasAttr):
        return node.name in rows.names
    if isinstance(node, NumIn):
        return any((node.name, v) in rows.nums for v in node.values)
    if isinstance(node, NumRange):
        return any(
            n == node.name
            and (node.low is None or v >= node.low)
            and (node.high is None or v <= node.high)
            for n, v in rows.nums
        )
    if isinstance(node, TxtIn):
        return any((node.name, v) in rows.txts for v in node.values)
    if isinstance(node, TxtRange):
        return any(
            n == node.name
            and (node.low is None or v >= node.low)
            and (node.high is None or v <= node.high)
            for n, v in rows.txts
        )
    if isinstance(node, GeoBox):
        return any(
            g[0] == node.name
            and g[1] <= node.maxx
            and g[2] >= node.minx
            and g[3] <= node.maxy
            and g[4] >= node.miny
            for g in rows.geos
        )
    raise AssertionError(node)


@settings(max_examples=400, deadline=None)
@given(data=datasets(), q=q_nodes)
def test_the_q_prefilter_never_loses_a_match(data: list[Entity], q: QNode) -> None:
    node = translate_q(q)
    for e in data:
        if matches(q, e):
            assert node is None or holds(node, index_rows(e)), (q, e)


# ----------------------------------------------------------------- translate


def c(
    attr: str, op: str | None = None, value: object = None, **path: tuple[str, ...]
) -> Comparison:
    return Comparison(AttrPath(attr, **path), op, value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        (c(A), HasAttr(A)),
        (c(A, "==", 5), NumIn(A, (5.0,))),
        (c(A, "==", True), NumIn(A, (1.0,))),
        (c(A, "==", "x"), TxtIn(A, ("x",))),
        (c(A, "==", (1, "x", 2.5)), AnyOf((NumIn(A, (1.0, 2.5)), TxtIn(A, ("x",))))),
        (c(A, ">", 3), NumRange(A, 3.0, None)),  # inclusive: over-selects the bound
        (c(A, "<=", 3), NumRange(A, None, 3.0)),
        (c(A, "<", "m"), TxtRange(A, None, "m")),
        (c(A, "==", Range(1, 5)), NumRange(A, 1.0, 5.0)),
        (c(A, "==", Range("a", "c")), TxtRange(A, "a", "c")),
        (c(A, "!=", 5), HasAttr(A)),
        (c(A, "~=", "x.*"), HasAttr(A)),
        (c(A, "!~=", "x.*"), HasAttr(A)),
        (c(A, ">", True), HasAttr(A)),
        (c(A, "==", 10**400), HasAttr(A)),  # beyond REAL
        (c(A, "==", 5, sub=(NS + "s",)), HasAttr(A)),
        (c(A, "==", 5, keys=("k",)), HasAttr(A)),
        (c("createdAt", ">", "2020"), None),  # entity keys are not indexed attributes
        (And((c(A, ">", 1), c(B))), AllOf((NumRange(A, 1.0, None), HasAttr(B)))),
        (And((c("id", "==", "x"), c(B))), HasAttr(B)),
        (Or((c(A, ">", 1), c(B))), AnyOf((NumRange(A, 1.0, None), HasAttr(B)))),
        (Or((c(A, ">", 1), c("id", "==", "x"))), None),  # an untranslatable branch
    ],
)
def test_translate_q(q: QNode, expected: Node | None) -> None:
    assert translate_q(q) == expected


def test_translate_a_whole_query() -> None:
    query = EntityQuery(
        ids=("urn:1", "urn:1", "urn:2"),
        types=((T1, T2),),
        attrs=(A,),
        q=And((c(A, ">", 1), c(B, "==", "x"))),
    )
    assert translate(query) == Prefilter(
        (
            IdIn(("urn:1", "urn:2")),
            TypeIs(T1),
            TypeIs(T2),
            HasAttr(A),
            NumRange(A, 1.0, None),
            TxtIn(B, ("x",)),
        ),
        exact=False,
    )
    assert translate(EntityQuery(types=((T1,), (T2,)))) == Prefilter(
        (AnyOf((TypeIs(T1), TypeIs(T2))),), exact=True
    )
    assert not translate(EntityQuery(scope_q=(("/a",),))).exact
    assert not translate(EntityQuery(id_pattern=".*")).exact


def test_translate_geo() -> None:
    near = GeoQuery("near", {"type": "Point", "coordinates": [4.8, 45.7]}, LOC, 1000.0)
    [box] = translate(EntityQuery(geo=near)).conjuncts
    assert isinstance(box, GeoBox)
    assert box.minx < 4.8 - 0.0128 < 4.8 + 0.0128 < box.maxx  # 1 km ≈ 0.0128° of lon here
    assert box.miny < 45.7 - 0.009 < 45.7 + 0.009 < box.maxy
    only_min = GeoQuery("near", {"type": "Point", "coordinates": [4.8, 45.7]}, LOC, None, 10.0)
    assert translate(EntityQuery(geo=only_min)).conjuncts == ()
    disjoint = GeoQuery("disjoint", {"type": "Point", "coordinates": [4.8, 45.7]}, LOC)
    assert translate(EntityQuery(geo=disjoint)).conjuncts == ()


def test_a_coordinate_that_float32_rounds_to_zero_is_still_found(tmp_path: Path) -> None:
    """The R*Tree keeps 32-bit floats: a latitude of 3e-115 is stored as 0.0. A polygon
    whose edge lies at 1.6e-285 holds the point, and the prefilter must not drop it
    (found by hypothesis in the store contract)."""
    from bocage.ngsild import mutations as mut
    from bocage.storage.base import Mutation
    from bocage.storage.sqlite import SQLiteStore

    store = SQLiteStore(tmp_path / "s.db")
    try:
        e: Entity = {"id": "urn:e:0", "type": [T1], LOC: [{"type": "GeoProperty", "value": {
            "type": "Point", "coordinates": [0.01034755756774714, 3.273639401821809e-115]}}]}
        store.apply("", [Mutation(e["id"], mut.create(e, "2026-01-01T00:00:00Z"))])
        low, high, y = 0.0034605994183280414, 0.013460599418328043, 1.620054215142577e-285
        ring = [[low, y], [high, y], [high, 0.01], [low, 0.01], [low, y]]
        within = GeoQuery("within", {"type": "Polygon", "coordinates": [ring]}, LOC)
        page = store.query("", EntityQuery(geo=within, count=True))
        assert page.count == 1 and [x["id"] for x in page.entities] == ["urn:e:0"]
    finally:
        store.close()


# -------------------------------------------------------------- index rows


def test_index_rows() -> None:
    rows = index_rows(
        {
            "id": "urn:x",
            "type": [T1],
            "createdAt": "2026-01-01T00:00:00Z",
            A: [
                {"type": "Property", "value": [1, True, "s", {"@value": "d"}]},
                {"type": "Property", "value": 2.5, "datasetId": "urn:ds"},
            ],
            REL: [{"type": "Relationship", "object": "urn:y"}],
            VOC: [{"type": "VocabProperty", "vocab": "https://v.org/a/b#c"}],
            B: [{"type": "LanguageProperty", "languageMap": {"fr": "chat", "en": ["cat"]}}],
            LOC: [{"type": "GeoProperty", "value": {"type": "Point", "coordinates": [1.5, 2.5]}}],
        }
    )
    assert rows.types == {T1}
    assert rows.names == {A, REL, VOC, B, LOC}
    assert rows.nums == {(A, 1.0), (A, 2.5)}  # True collapses into 1.0: a superset is fine
    assert rows.txts == {
        (A, "s"),
        (A, "d"),
        (REL, "urn:y"),
        (B, "chat"),
        (B, "cat"),
        # a bare vocab term equals an IRI ending in /term or #term
        *(
            (VOC, t)
            for t in ("https://v.org/a/b#c", "/v.org/a/b#c", "v.org/a/b#c", "a/b#c", "b#c", "c")
        ),
    }
    assert rows.geos == ((LOC, 1.5, 1.5, 2.5, 2.5),)
    assert ("TA", T1, A, "Property") in rows.facts
    assert ("A", "", LOC, "") in rows.facts


def test_an_unboxable_geometry_covers_the_plane() -> None:
    rows = index_rows(
        {"id": "x", "type": [T1], LOC: [{"type": "GeoProperty", "value": {"type": "Nope"}}]}
    )
    [(_, minx, maxx, miny, maxy)] = rows.geos
    assert minx < -180 and maxx > 180 and miny < -90 and maxy > 90


# --------------------------------------------------------------------- SQL


@pytest.fixture(scope="module")
def db() -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    assert migrate(conn) == len(MIGRATIONS)
    yield conn
    conn.close()


SCOPE = Scope(1, {T1: 10, T2: 11, A: 20, B: 21, LOC: 30})


def plan(db: sqlite3.Connection, query: EntityQuery, sizes: dict[object, int]) -> tuple[str, str]:
    selection = select_sql(SCOPE, translate(query), sizes)  # type: ignore[arg-type]
    detail = " | ".join(
        r[3] for r in db.execute("EXPLAIN QUERY PLAN " + selection.sql, selection.params)
    )
    return selection.sql, detail


def test_a_selective_atom_drives_without_sorting(db: sqlite3.Connection) -> None:
    query = EntityQuery(types=((T1,),), q=c(A, ">", 5))
    sql, detail = plan(db, query, {TypeIs(T1): 5000, NumRange(A, 5.0, None): 12})
    assert "e.pk IN (SELECT pk FROM attr_num" in sql
    assert "EXISTS (SELECT 1 FROM entity_types" in sql
    assert "TEMP B-TREE" not in detail  # rows come out in pk order, no sort of data blobs
    assert "INTEGER PRIMARY KEY" in detail


def test_broad_atoms_stream_from_the_type_index(db: sqlite3.Connection) -> None:
    query = EntityQuery(types=((T1,),), q=c(A, ">", 5))
    sql, detail = plan(db, query, {TypeIs(T1): 5000, NumRange(A, 5.0, None): 5000})
    assert sql.startswith("SELECT e.pk, e.data FROM entity_types d CROSS JOIN entities e")
    assert "attr_num" not in sql  # value atoms are left to the exact evaluator
    assert "TEMP B-TREE" not in detail


def test_no_type_streams_the_tenant(db: sqlite3.Connection) -> None:
    sql, detail = plan(db, EntityQuery(q=c(A, ">", 5)), {NumRange(A, 5.0, None): 5000})
    assert "INDEXED BY entities_tenant" in sql
    assert "TEMP B-TREE" not in detail


def test_an_or_drives_from_a_union(db: sqlite3.Connection) -> None:
    query = EntityQuery(q=Or((c(A, "==", 1), c(B, "==", "x"))))
    sql, detail = plan(db, query, {NumIn(A, (1.0,)): 3, TxtIn(B, ("x",)): 4})
    assert " UNION " in sql
    assert "TEMP B-TREE FOR ORDER BY" not in detail


def test_ids_drive_without_probing(db: sqlite3.Connection) -> None:
    pf = translate(EntityQuery(ids=("urn:1",), types=((T1,),)))
    assert atoms_to_probe(pf) == []
    sql = select_sql(SCOPE, pf, {}).sql
    assert "id IN (?)" in sql


def test_unknown_names_make_an_empty_answer() -> None:
    pf = translate(EntityQuery(types=((NS + "Unknown",),)))
    assert iris(pf) == {NS + "Unknown"}
    assert select_sql(SCOPE, pf, {}).empty
    assert probe_sql(SCOPE, TypeIs(NS + "Unknown")) is None
    # an unknown branch of an OR is just dropped
    pf = translate(EntityQuery(types=((NS + "Unknown",), (T1,))))
    assert not select_sql(SCOPE, pf, {}).empty


def test_an_empty_atom_short_circuits() -> None:
    pf = translate(EntityQuery(types=((T1,),), q=c(A, ">", 5)))
    assert select_sql(SCOPE, pf, {TypeIs(T1): 5000, NumRange(A, 5.0, None): 0}).empty


def test_counts_do_not_touch_entity_rows(db: sqlite3.Connection) -> None:
    selection = select_sql(
        SCOPE, translate(EntityQuery(types=((T1,),), attrs=(A,))), {}, count=True
    )
    assert selection.sql.startswith("SELECT count(*) FROM entity_types d WHERE")
    assert "entities" not in selection.sql
    assert db.execute(selection.sql, selection.params).fetchone() == (0,)


def test_every_shape_runs(db: sqlite3.Connection) -> None:
    near = GeoQuery("near", {"type": "Point", "coordinates": [4.8, 45.7]}, LOC, 1000.0)
    for query in (
        EntityQuery(),
        EntityQuery(ids=("a", "b"), attrs=(A, B)),
        EntityQuery(types=((T1, T2), (T2,)), q=Or((c(A, "<", 1), And((c(B, "==", "x"), c(A)))))),
        EntityQuery(geo=near, q=c(A, "==", Range(1, 2))),
        EntityQuery(q=c(B, "==", Range("a", "b"))),
    ):
        pf = translate(query)
        for sizes in ({}, {a: 1 for a in atoms_to_probe(pf)}):
            for count in (False, True):
                selection = select_sql(SCOPE, pf, sizes, count=count)  # type: ignore[arg-type]
                db.execute(selection.sql, selection.params).fetchall()
        for atom in atoms_to_probe(pf):
            probe = probe_sql(SCOPE, atom)
            assert probe is not None
            assert db.execute(*probe).fetchone() == (0,)
