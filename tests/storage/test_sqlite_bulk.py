"""SQLiteStore bulk jobs: one SELECT and one executemany per statement per job
(``sqlite_apply``), checked against what one-at-a-time jobs would produce."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from contract import LOC, NS, T1, create, delete, entity, point, prop, replace

from bocage.domain.query import AttrPath, Comparison, EntityQuery, GeoQuery
from bocage.storage.sqlite import SQLiteStore


def _index_dump(path: str) -> list[list[tuple[object, ...]]]:
    conn = sqlite3.connect(path)
    try:
        return [
            conn.execute(sql).fetchall()
            for sql in (
                "SELECT e.id, t.nid FROM entity_types t JOIN entities e USING (pk) ORDER BY 1, 2",
                "SELECT e.id, a.nid FROM attr_names a JOIN entities e USING (pk) ORDER BY 1, 2",
                "SELECT e.id, a.nid, a.num FROM attr_num a JOIN entities e USING (pk)"
                " ORDER BY 1, 2, 3",
                "SELECT e.id, a.nid, a.txt FROM attr_txt a JOIN entities e USING (pk)"
                " ORDER BY 1, 2, 3",
                "SELECT e.id, g.nid, r.minx, r.miny FROM geo_index g JOIN entities e USING (pk)"
                " JOIN geo_rtree r ON r.id = g.id ORDER BY 1, 2, 3",
                "SELECT tid, kind, type, name, attr_type, n FROM stats ORDER BY 1, 2, 3, 4, 5",
            )
        ]
    finally:
        conn.close()


def _job() -> list[list[object]]:
    """1200 entities (more than one IN list) with geo, then a job that mixes
    updates, deletions and re-creations of the same ids."""
    first = [
        create(entity(f"urn:x:{i}", a=prop(i), s=prop(f"v{i % 7}"),
                      location=point(i % 90, i % 45)))
        for i in range(1200)
    ]
    second = [
        replace(entity("urn:x:3", a=prop(-3), location=point(1.5, 2.5))),
        delete("urn:x:4"),
        create(entity("urn:x:4", a=prop(44))),
        replace(entity("urn:x:4", a=prop(45), location=point(4, 5))),
        delete("urn:x:5"),
        create(entity("urn:x:new", a=prop(1))),
        delete("urn:x:new"),
        create(entity("urn:x:1199", a=prop(0))),  # AlreadyExists: writes nothing
    ]
    return [first, second]  # type: ignore[list-item]


def test_a_bulk_job_writes_what_single_jobs_write(tmp_path: Path) -> None:
    bulk = SQLiteStore(tmp_path / "bulk.db")
    single = SQLiteStore(tmp_path / "single.db")
    try:
        for job in _job():
            bulk_results = bulk.apply("t", job)  # type: ignore[arg-type]
            single_results = [single.apply("t", [m])[0] for m in job]  # type: ignore[list-item]
            assert [type(r) for r in bulk_results] == [type(r) for r in single_results]
        every = EntityQuery(limit=2000)
        assert bulk.query("t", every).entities == single.query("t", every).entities
        assert bulk.get("t", "urn:x:4") == entity("urn:x:4", a=prop(45), location=point(4, 5))
        assert bulk.get("t", "urn:x:5") is None and bulk.get("t", "urn:x:new") is None
        near = GeoQuery("near", {"type": "Point", "coordinates": [4, 5]}, LOC, max_distance=1000)
        ids = [e["id"] for e in bulk.query("t", EntityQuery(geo=near)).entities]
        assert ids == ["urn:x:4"]
        q = EntityQuery(q=Comparison(AttrPath(NS + "a"), "<", 0))
        assert [e["id"] for e in bulk.query("t", q).entities] == ["urn:x:3"]
        assert [t.entity_count for t in bulk.types("t") if t.type == T1] == [1199]
    finally:
        bulk.close()
        single.close()
    assert _index_dump(bulk.path) == _index_dump(single.path)


def test_new_entities_keep_creation_order_across_jobs(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    try:
        store.apply("t", [create(entity(f"urn:a:{i}")) for i in range(3)])
        store.apply("t", [delete("urn:a:2")])  # the largest pk goes
        store.apply("t", [create(entity("urn:b:0")), create(entity("urn:b:1"))])
        ids = [e["id"] for e in store.query("t", EntityQuery()).entities]
        assert ids == ["urn:a:0", "urn:a:1", "urn:b:0", "urn:b:1"]
    finally:
        store.close()
