"""SQLiteStore: the Store contract, plus what only SQLite has (files, WAL, schema)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from contract import LOC, NS, T1, OpenStore, StoreContract, create, entity, point, prop

from bocage.domain.errors import BocageError
from bocage.domain.query import AttrPath, Comparison, EntityQuery, GeoQuery
from bocage.storage.base import Mutation, Store
from bocage.storage.sqlite import SQLiteStore
from bocage.storage.sqlite_schema import MIGRATIONS


class TestSQLiteStore(StoreContract):
    @pytest.fixture
    def open_store(self, tmp_path: Path) -> OpenStore:
        def open_(**options: Any) -> Store:
            return SQLiteStore(tmp_path / "store.db", **options)

        return open_


class TestSQLiteStoreStreamed(StoreContract):
    """The whole contract again with every query streamed (probe_cap=1): the
    other SQL shape, that small test data would otherwise never reach."""

    @pytest.fixture
    def open_store(self, tmp_path: Path) -> OpenStore:
        def open_(**options: Any) -> Store:
            return SQLiteStore(tmp_path / "store.db", probe_cap=1, **options)

        return open_


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Any:
    s = SQLiteStore(tmp_path / "s.db")
    yield s
    s.close()


def test_the_database_is_wal_with_the_schema_version(sqlite_store: SQLiteStore) -> None:
    sqlite_store.apply("t", [create(entity("urn:x:1"))])
    conn = sqlite3.connect(sqlite_store.path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    finally:
        conn.close()


def test_an_applied_write_survives_a_crash(tmp_path: Path) -> None:
    """Accepted means durable: the process dies right after apply() returned,
    without closing anything, and the write is there on reopening."""
    path = tmp_path / "crash.db"
    code = (
        "import os\n"
        "from bocage.storage.sqlite import SQLiteStore\n"
        "from bocage.storage.base import Mutation\n"
        f"s = SQLiteStore({str(path)!r})\n"
        "new = {'id': 'urn:x:1', 'type': ['urn:T']}\n"
        "assert s.apply('t', [Mutation('urn:x:1', lambda current: new)]) == [new]\n"
        "os._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    assert (tmp_path / "crash.db-wal").exists()  # never checkpointed: recovery reads the WAL
    store = SQLiteStore(path)
    try:
        assert store.get("t", "urn:x:1") == {"id": "urn:x:1", "type": ["urn:T"]}
    finally:
        store.close()


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "new.db")
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    conn.close()
    with pytest.raises(RuntimeError, match="newer"):
        SQLiteStore(tmp_path / "new.db")


def test_readers_cannot_write(sqlite_store: SQLiteStore) -> None:
    sqlite_store.apply("t", [create(entity("urn:x:1"))])
    reader = sqlite_store._reader()
    with pytest.raises(sqlite3.OperationalError):
        reader.execute("DELETE FROM entities")


def test_each_thread_reads_through_its_own_connection(sqlite_store: SQLiteStore) -> None:
    seen: list[int] = []

    def read() -> None:
        sqlite_store.query("", EntityQuery())
        seen.append(id(sqlite_store._reader()))

    threads = [threading.Thread(target=read) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(seen)) == 3


def test_a_crash_in_a_write_job_fails_that_call_only(sqlite_store: SQLiteStore) -> None:
    """A job that breaks after writing (here: a SQL error) is rolled back whole."""

    def breaking(conn: sqlite3.Connection, stats: Any) -> None:
        conn.execute("INSERT INTO tenants (name) VALUES ('half-done')")
        conn.execute("INSERT INTO no_such_table VALUES (1)")

    with pytest.raises(BocageError) as info:
        sqlite_store._writer.submit(breaking)
    assert info.value.status == 500
    assert "half-done" not in sqlite_store.tenants()
    assert sqlite_store.apply("t", [create(entity("urn:x:1"))]) == [entity("urn:x:1")]


def test_an_interned_name_from_a_rolled_back_job_is_not_reused(sqlite_store: SQLiteStore) -> None:
    """The writer's id cache must forget ids that a rollback took away."""
    brand_new = NS + "brandNew"

    def create_then_fail(conn: sqlite3.Connection, stats: Any) -> None:
        from bocage.storage.sqlite_apply import apply_mutations

        apply_mutations(
            conn,
            sqlite_store._interner,
            "t",
            [create(entity("urn:x:1", **{"brandNew": prop(1)}))],
            stats,
        )
        raise RuntimeError("after the write")

    with pytest.raises(BocageError):
        sqlite_store._writer.submit(create_then_fail)
    sqlite_store.apply("t", [create(entity("urn:x:2", brandNew=prop(2)))])
    found = sqlite_store.query("t", EntityQuery(q=Comparison(AttrPath(brand_new), "==", 2)))
    assert [e["id"] for e in found.entities] == ["urn:x:2"]
    assert [a.name for a in sqlite_store.attributes("t")] == [brand_new]


def test_a_bad_id_pattern_is_bad_request_data(sqlite_store: SQLiteStore) -> None:
    with pytest.raises(BocageError) as info:
        sqlite_store.query("", EntityQuery(id_pattern="(unclosed"))
    assert info.value.status == 400


def test_an_unboxable_geometry_is_still_found(sqlite_store: SQLiteStore) -> None:
    """A GeoProperty whose box cannot be computed is indexed everywhere, so the
    exact evaluator, not the prefilter, decides."""
    odd = [{"type": "GeoProperty", "value": {"type": "GeometryCollection", "geometries": []}}]
    sqlite_store.apply(
        "t",
        [create(entity("urn:x:1", location=odd)), create(entity("urn:x:2", location=point(1, 1)))],
    )
    near = GeoQuery("near", {"type": "Point", "coordinates": [1, 1]}, LOC, 10.0)
    assert [e["id"] for e in sqlite_store.query("t", EntityQuery(geo=near)).entities] == ["urn:x:2"]


def test_large_batches_and_many_candidates(tmp_path: Path) -> None:
    """Enough rows to cross the probe cap: both SQL shapes, one answer."""
    store = SQLiteStore(tmp_path / "big.db", probe_cap=50)
    try:
        data = [
            entity(f"urn:b:{i}", T1, a=prop(i % 100), b=prop(f"s{i % 10}")) for i in range(1200)
        ]
        store.apply("t", [create(e) for e in data])
        for q, expected in (
            (Comparison(AttrPath(NS + "a"), ">=", 99), [i for i in range(1200) if i % 100 >= 99]),
            (Comparison(AttrPath(NS + "a"), ">=", 1), [i for i in range(1200) if i % 100 >= 1]),
            (Comparison(AttrPath(NS + "b"), "==", "s3"), [i for i in range(1200) if i % 10 == 3]),
        ):
            page = store.query(
                "t", EntityQuery(types=((T1,),), q=q, limit=30, offset=5, count=True)
            )
            assert page.count == len(expected)
            assert [e["id"] for e in page.entities] == [f"urn:b:{i}" for i in expected[5:35]]
    finally:
        store.close()


def test_a_mutation_sees_a_private_copy(sqlite_store: SQLiteStore) -> None:
    """A mutation may edit the entity it is handed and still fail: nothing leaks."""
    sqlite_store.apply("t", [create(entity("urn:x:1", a=prop(1)))])

    def edit_then_fail(current: Any) -> Any:
        current[NS + "a"][0]["value"] = 99
        raise BocageError("no")

    sqlite_store.apply("t", [Mutation("urn:x:1", edit_then_fail)])
    assert sqlite_store.get("t", "urn:x:1") == entity("urn:x:1", a=prop(1))
    assert (
        sqlite_store.query("t", EntityQuery(q=Comparison(AttrPath(NS + "a"), "==", 99))).entities
        == []
    )


def test_the_wal_is_checkpointed_beside_the_writer(tmp_path: Path) -> None:
    """The writer's commits never checkpoint (wal_autocheckpoint = 0): the
    checkpoint thread copies the WAL into the database file while the store is
    open, and the WAL is gone once it is closed."""
    import os
    import time

    store = SQLiteStore(tmp_path / "ck.db")
    try:
        writer_conn = store._writer._conn
        assert writer_conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
        empty = os.path.getsize(store.path)
        for b in range(6):
            store.apply("t", [create(entity(f"urn:x:{b}:{i}", a=prop(i), s=prop("x" * 200)))
                              for i in range(500)])
        deadline = time.monotonic() + 10
        while os.path.getsize(store.path) < empty + 1_000_000 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert os.path.getsize(store.path) >= empty + 1_000_000
    finally:
        store.close()
    assert not os.path.exists(store.path + "-wal")
    reopened = SQLiteStore(tmp_path / "ck.db")
    try:
        assert reopened.query("t", EntityQuery(limit=0, count=True)).count == 3000
    finally:
        reopened.close()
