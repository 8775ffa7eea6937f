"""PostgresStore: the Store contract, plus what only PostgreSQL has (row-level
security, migrations, start-up errors, lost connections).

Runs on the run's throwaway database (``tests/postgres_server.py``), emptied
before each test; skips without a server, except in CI where it fails.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import postgres_server
import psycopg
import pytest
from contract import LOC, NS, T1, T2, OpenStore, StoreContract, create, entity, point, prop
from postgres_server import Throwaway

from bocage.domain.errors import BocageError, ServiceUnavailable
from bocage.domain.query import AttrPath, Comparison, EntityQuery, GeoQuery, Range
from bocage.storage.base import Mutation, Store
from bocage.storage.factory import open_store
from bocage.storage.postgres import DatabaseUnavailable, PostgresStore
from bocage.storage.postgres_schema import MIGRATIONS, SchemaError, schema_version


@pytest.fixture
def db(postgres_db: Throwaway) -> Throwaway:
    postgres_server.empty(postgres_db)
    return postgres_db


class TestPostgresStore(StoreContract):
    @pytest.fixture
    def open_store(self, db: Throwaway) -> OpenStore:
        def open_(**options: Any) -> Store:
            return PostgresStore(db.url, **options)

        return open_


class TestPostgresStoreStreamed(StoreContract):
    """The whole contract again with every query streamed (probe_cap=1)."""

    @pytest.fixture
    def open_store(self, db: Throwaway) -> OpenStore:
        def open_(**options: Any) -> Store:
            return PostgresStore(db.url, probe_cap=1, **options)

        return open_


@pytest.fixture
def pg(db: Throwaway) -> Iterator[PostgresStore]:
    s = PostgresStore(db.url, retry_seconds=3.0)
    yield s
    s.close()


def _admin(db: Throwaway) -> psycopg.Connection[Any]:
    return psycopg.connect(db.admin_url, autocommit=True)


# ------------------------------------------------------------------ tenancy


def test_row_level_security_hides_other_tenants(pg: PostgresStore, db: Throwaway) -> None:
    """Even a query forgetting ``WHERE tid`` sees one tenant's rows only."""
    pg.apply("a", [create(entity("urn:x:1", a=prop(1)))])
    pg.apply("b", [create(entity("urn:x:2", a=prop(2))), create(entity("urn:x:3"))])
    with psycopg.connect(db.url, autocommit=True) as conn:  # the store's own role
        assert conn.execute("SELECT count(*) FROM entities").fetchone() == (0,)
        tid = conn.execute("SELECT tid FROM tenants WHERE name = 'b'").fetchone()
        assert tid is not None
        conn.execute("SELECT set_config('bocage.tenant', %s, false)", (str(tid[0]),))
        for table, rows in (
            ("entities", 2),
            ("entity_types", 2),
            ("attr_names", 1),
            ("attr_num", 1),
            ("stats", 3),
        ):
            assert conn.execute(f"SELECT count(*) FROM {table}").fetchone() == (rows,), table
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(
                "INSERT INTO entities (tid, id, data) VALUES (%s, 'urn:y', '{}')", (tid[0] - 1,)
            )


def test_the_store_runs_as_an_ordinary_role(db: Throwaway) -> None:
    """Else row-level security would be bypassed and these tests prove nothing."""
    with psycopg.connect(db.url) as conn:
        row = conn.execute(
            "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
    assert row == (False,)


# --------------------------------------------------------------- migrations


def test_migrations_are_recorded_and_rerun_safely(pg: PostgresStore, db: Throwaway) -> None:
    with psycopg.connect(db.url) as conn:
        assert schema_version(conn) == len(MIGRATIONS)
    PostgresStore(db.url).close()  # opening again migrates nothing and fails nothing
    with psycopg.connect(db.url) as conn:
        assert conn.execute("SELECT count(*) FROM bocage_migrations").fetchone() == (
            len(MIGRATIONS),
        )


def test_a_newer_schema_is_refused(pg: PostgresStore, db: Throwaway) -> None:
    with psycopg.connect(db.url, autocommit=True) as conn:
        conn.execute("INSERT INTO bocage_migrations (version) VALUES (%s)", (len(MIGRATIONS) + 1,))
    try:
        with pytest.raises(SchemaError, match="newer"):
            PostgresStore(db.url)
    finally:
        with psycopg.connect(db.url, autocommit=True) as conn:
            conn.execute("DELETE FROM bocage_migrations WHERE version > %s", (len(MIGRATIONS),))


def test_the_cli_upgrades_a_database(db: Throwaway) -> None:
    from typer.testing import CliRunner

    from bocage.cli import app

    result = CliRunner().invoke(app, ["db", "upgrade"], env={"BOCAGE_DATABASE_URL": db.url})
    assert result.exit_code == 0, result.output
    assert f"schema version {len(MIGRATIONS)}" in result.output


# ----------------------------------------------------------- start-up errors


def test_an_unreachable_server_is_a_clear_start_up_error() -> None:
    url = "postgresql://bocage:s3cret@127.0.0.1:1/bocage"  # nothing listens on port 1
    with pytest.raises(DatabaseUnavailable) as info:
        open_store(url)
    message = str(info.value)
    assert isinstance(info.value, OSError)
    assert "postgresql://bocage:***@127.0.0.1:1/bocage" in message
    assert "s3cret" not in message


def test_a_missing_database_is_a_clear_start_up_error(db: Throwaway) -> None:
    url = db.url.rsplit("/", 1)[0] + "/no_such_database_here"
    with pytest.raises(DatabaseUnavailable, match="no_such_database_here"):
        open_store(url)


def test_a_role_that_cannot_enable_postgis_is_told_what_to_do(db: Throwaway) -> None:
    name = db.name + "_nogis"
    with _admin(db) as admin:
        admin.execute(f'CREATE DATABASE "{name}" OWNER "{db.name}"')
    try:
        with pytest.raises(SchemaError, match="CREATE EXTENSION postgis"):
            PostgresStore(db.url.rsplit("/", 1)[0] + "/" + name)
    finally:
        with _admin(db) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


# ------------------------------------------------------------ lost connections


def _kill_backends(db: Throwaway) -> int:
    with psycopg.connect(postgres_server.ADMIN_URL, autocommit=True) as admin:
        row = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (db.name,),
        ).fetchone()
    return int(row[0]) if row else 0


def test_writes_and_reads_survive_killed_connections(pg: PostgresStore, db: Throwaway) -> None:
    pg.apply("t", [create(entity("urn:x:1", a=prop(1)))])
    assert pg.get("t", "urn:x:1") is not None
    assert _kill_backends(db) >= 2  # the writer's and a reader's
    assert pg.apply("t", [create(entity("urn:x:2", a=prop(2)))]) == [entity("urn:x:2", a=prop(2))]
    _kill_backends(db)
    page = pg.query("t", EntityQuery(q=Comparison(AttrPath(NS + "a"), ">=", 0), count=True))
    assert page.count == 2
    _kill_backends(db)
    assert pg.get("t", "urn:x:2") == entity("urn:x:2", a=prop(2))
    pg.ping()


def test_a_database_down_for_long_is_503_then_recovers(pg: PostgresStore, db: Throwaway) -> None:
    """Writes are retried for retry_seconds, then refused with 503 (not lost:
    never acknowledged); once the database is back, everything works again."""
    pg.apply("t", [create(entity("urn:x:1"))])
    with psycopg.connect(postgres_server.ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{db.name}" ALLOW_CONNECTIONS false')
    try:
        _kill_backends(db)
        started = time.monotonic()
        with pytest.raises(ServiceUnavailable) as info:
            pg.apply("t", [create(entity("urn:x:2"))])
        assert info.value.status == 503 and info.value.retry_after >= 1
        assert time.monotonic() - started < 15
        with pytest.raises(ServiceUnavailable):
            pg.get("t", "urn:x:1")
        with pytest.raises(ServiceUnavailable):
            pg.ping()
    finally:
        with psycopg.connect(postgres_server.ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{db.name}" ALLOW_CONNECTIONS true')
    # the writer reconnects at its next write; the read pool within its
    # reconnection back-off (which grew while the database was away)
    deadline = time.monotonic() + 30
    while True:
        try:
            assert pg.get("t", "urn:x:2") is None  # refused means not written
            break
        except ServiceUnavailable:
            assert time.monotonic() < deadline
            time.sleep(0.5)
    assert pg.apply("t", [create(entity("urn:x:2"))]) == [entity("urn:x:2")]
    assert [e["id"] for e in pg.query("t", EntityQuery()).entities] == ["urn:x:1", "urn:x:2"]


def test_concurrent_writes_through_a_killed_connection_are_all_kept(
    pg: PostgresStore, db: Throwaway
) -> None:
    """Every acknowledged write is there afterwards, each exactly once."""
    pg.apply("t", [create(entity("urn:counter", a=prop(0)))])

    def bump(current: Any) -> Any:
        current[NS + "a"][0]["value"] += 1
        return current

    acknowledged: list[int] = []
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        for i in range(20):
            try:
                results = pg.apply(
                    "t", [create(entity(f"urn:w:{n}:{i}")), Mutation("urn:counter", bump)]
                )
                assert all(isinstance(r, dict) for r in results)
                acknowledged.append(1)
            except ServiceUnavailable:
                pass
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for _ in range(3):
        time.sleep(0.05)
        _kill_backends(db)
    for t in threads:
        t.join()
    assert errors == []
    counter = pg.get("t", "urn:counter")
    assert counter is not None
    assert counter[NS + "a"][0]["value"] == len(acknowledged) == 80
    assert pg.query("t", EntityQuery(limit=0, count=True)).count == 1 + len(acknowledged)


# ------------------------------------------------------------- data edge cases


def test_nul_characters_and_key_order_round_trip(pg: PostgresStore) -> None:
    """PostgreSQL text refuses U+0000 and jsonb reorders keys: neither may show."""
    odd = entity("urn:x:\x00nul", T1, z=prop("a\x00b"), a=prop(1), m=prop({"k\x00": "v"}))
    assert pg.apply("t", [create(odd)]) == [odd]
    got = pg.get("t", "urn:x:\x00nul")
    assert got == odd and list(got) == list(odd)
    for value in ("a\x00b", Range("a", "a\x00c")):
        q = Comparison(AttrPath(NS + "z"), "==", value)
        assert [e["id"] for e in pg.query("t", EntityQuery(q=q)).entities] == ["urn:x:\x00nul"]


def test_strings_compare_in_code_point_order_whatever_the_collation(pg: PostgresStore) -> None:
    words = ["B", "a", "é", "z", "Z", "ab", "\U0001f600"]
    pg.apply("t", [create(entity(f"urn:w:{i}", b=prop(w))) for i, w in enumerate(words)])
    for low, high in (("B", "a"), ("Z", "é"), ("a", "\U0001f600")):
        q = Comparison(AttrPath(NS + "b"), "==", Range(low, high))
        found = {e[NS + "b"][0]["value"] for e in pg.query("t", EntityQuery(q=q)).entities}
        assert found == {w for w in words if low <= w <= high}


def test_many_candidates_cross_the_probe_cap(db: Throwaway) -> None:
    store = PostgresStore(db.url, probe_cap=50)
    try:
        data = [
            entity(f"urn:b:{i}", T1 if i % 2 else T2, a=prop(i % 100), location=point(i / 1e4, 0))
            for i in range(1200)
        ]
        store.apply("t", [create(e) for e in data])  # large enough to be COPYed
        for q, expected in (
            (Comparison(AttrPath(NS + "a"), ">=", 99), [i for i in range(1200) if i % 100 >= 99]),
            (Comparison(AttrPath(NS + "a"), ">=", 1), [i for i in range(1200) if i % 100 >= 1]),
        ):
            page = store.query("t", EntityQuery(q=q, limit=30, offset=5, count=True))
            assert page.count == len(expected)
            assert [e["id"] for e in page.entities] == [f"urn:b:{i}" for i in expected[5:35]]
        near = GeoQuery("near", {"type": "Point", "coordinates": [0.05, 0]}, LOC, 1000.0)
        page = store.query("t", EntityQuery(types=((T1,),), geo=near, count=True, limit=1000))
        assert [e["id"] for e in page.entities] == [
            f"urn:b:{i}" for i in range(1200) if i % 2 and abs(i / 1e4 - 0.05) * 111_195 <= 1000
        ]
    finally:
        store.close()


def test_a_sql_failure_in_a_job_fails_that_call_only(pg: PostgresStore) -> None:
    def breaking(conn: Any, stats: Any) -> None:
        conn.execute("INSERT INTO tenants (name) VALUES ('half-done')")
        conn.execute("INSERT INTO no_such_table VALUES (1)")

    with pytest.raises(BocageError) as info:
        pg._writer.submit(breaking)
    assert info.value.status == 500
    assert "half-done" not in pg.tenants()
    assert pg.apply("t", [create(entity("urn:x:1"))]) == [entity("urn:x:1")]


def test_a_cancelled_job_future_does_not_stop_the_writer(pg: PostgresStore) -> None:
    """As on SQLite: a caller that gave up must not stop the writer thread."""
    writer = pg._writer
    release, busy = threading.Event(), threading.Event()

    def stall(conn: Any, stats: Any) -> None:
        busy.set()
        release.wait(10)

    writer.enqueue(stall)
    assert busy.wait(10)
    gone = writer.enqueue(lambda conn, stats: "late")
    assert gone.cancel()
    after = writer.enqueue(lambda conn, stats: "served")
    release.set()
    assert after.result(10) == "served"
    assert writer.submit(lambda conn, stats: 42) == 42
