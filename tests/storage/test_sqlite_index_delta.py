"""The writer indexes only the attributes a write changed (``index_delta``): the
index it leaves must be the one a fresh load of the same entities builds."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from contract import NS, T2, create, datasets, delete, entity, point, prop, update
from hypothesis import given, settings

from bocage.domain.entity import Entity
from bocage.storage.base import Mutation
from bocage.storage.sqlite import SQLiteStore
from bocage.storage.sqlite_index import IndexRows, index_delta, index_rows


def _diff(before: IndexRows, after: IndexRows) -> tuple[Any, ...]:
    return (
        before.types - after.types, after.types - before.types,
        before.names - after.names, after.names - before.names,
        before.nums - after.nums, after.nums - before.nums,
        before.txts - after.txts, after.txts - before.txts,
        before.facts - after.facts, after.facts - before.facts,
        before.geos != after.geos,
    )


@settings(max_examples=150, deadline=None)
@given(datasets(), datasets())
def test_the_delta_is_the_difference_of_the_full_rows(old: list[Entity],
                                                      new: list[Entity]) -> None:
    for before, after in zip(old, new, strict=False):
        mixed = {**before, **{k: v for i, (k, v) in enumerate(after.items()) if i % 2}}
        for b, a in ((before, after), (before, mixed), (mixed, before), (before, before)):
            rows = index_delta(b, a)
            full = index_rows(b), index_rows(a)
            assert _diff(*rows)[:-1] == _diff(*full)[:-1]
            # boxes are replaced per attribute: those named in the delta, all of theirs
            named = {g[0] for g in rows[0].geos + rows[1].geos}
            for part, whole in zip(rows, full, strict=True):
                assert sorted(part.geos) == sorted(g for g in whole.geos if g[0] in named)
            assert sorted(g for g in full[0].geos if g[0] not in named) == \
                sorted(g for g in full[1].geos if g[0] not in named)


def _patch(name: str, value: Any) -> Any:
    def change(current: Entity) -> Entity:
        out = dict(current)
        out[NS + name] = prop(value)
        return out

    def fn(current: Entity | None) -> Entity:
        assert current is not None
        return change(current)

    return fn


def _in_place(current: Entity) -> None:
    current[NS + "a"][0]["value"] = 99  # modifies what it was given


def test_incremental_index_matches_a_fresh_load(tmp_path: Path) -> None:
    live = SQLiteStore(tmp_path / "live.db")
    fresh = SQLiteStore(tmp_path / "fresh.db")
    ids = [f"urn:x:{i}" for i in range(6)]
    try:
        live.apply("t", [create(entity(eid, a=prop(i), s=prop(f"v{i}"), location=point(i, i)))
                         for i, eid in enumerate(ids)])
        live.apply("t", [Mutation(ids[0], _patch("a", 10))])  # one value
        live.apply("t", [update(ids[1], _in_place)])  # in place
        live.apply("t", [  # several mutations of one entity in one job
            Mutation(ids[2], _patch("a", 20)), Mutation(ids[2], _patch("b", "new")),
            Mutation(ids[2], _patch("a", 21)),
        ])
        live.apply("t", [update(ids[3], lambda e: e.update(location=point(7, 8)))])
        live.apply("t", [update(ids[3], lambda e: e.update({"type": [*e["type"], T2]}))])
        live.apply("t", [update(ids[4], lambda e: e.pop(NS + "s"))])  # attribute gone
        live.apply("t", [delete(ids[5]), create(entity(ids[5], b=prop(5)))])
        # two GeoProperties, one moves: the other keeps its box
        live.apply("t", [create(entity("urn:x:geo", location=point(1, 1), area=point(2, 2)))])
        live.apply("t", [update("urn:x:geo", lambda e: e.update({NS + "area": point(3, 3)}))])
        ids.append("urn:x:geo")
        final = [live.get("t", eid) for eid in ids]
        assert final[1] is not None and final[1][NS + "a"][0]["value"] == 99
        fresh.apply("t", [create(e) for e in final if e is not None])
        assert live.query("t", _all()).entities == fresh.query("t", _all()).entities
    finally:
        live.close()
        fresh.close()
    assert _index_dump(live.path) == _index_dump(fresh.path)


def _index_dump(path: str) -> list[list[tuple[object, ...]]]:
    """The index tables with ids and names spelt out (ids differ between files)."""
    conn = sqlite3.connect(path)
    try:
        return [
            sorted(conn.execute(sql).fetchall())
            for sql in (
                "SELECT e.id, n.iri FROM entity_types t JOIN entities e USING (pk)"
                " JOIN names n ON n.nid = t.nid",
                "SELECT e.id, n.iri FROM attr_names a JOIN entities e USING (pk)"
                " JOIN names n ON n.nid = a.nid",
                "SELECT e.id, n.iri, a.num FROM attr_num a JOIN entities e USING (pk)"
                " JOIN names n ON n.nid = a.nid",
                "SELECT e.id, n.iri, a.txt FROM attr_txt a JOIN entities e USING (pk)"
                " JOIN names n ON n.nid = a.nid",
                "SELECT e.id, n.iri, r.minx, r.maxx, r.miny, r.maxy FROM geo_index g"
                " JOIN entities e USING (pk) JOIN names n ON n.nid = g.nid"
                " JOIN geo_rtree r ON r.id = g.id",
                "SELECT kind, type, name, attr_type, n FROM stats",
                "SELECT (SELECT count(*) FROM geo_index), (SELECT count(*) FROM geo_rtree)",
            )
        ]
    finally:
        conn.close()


def _all() -> Any:
    from bocage.domain.query import EntityQuery

    return EntityQuery(limit=100)
