"""Writes waiting together are applied together (``sqlite_coalesce``), each still
committed before it is acknowledged and failing alone."""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from contract import NS, create, entity, prop

from bocage.domain.errors import BocageError, ServiceUnavailable
from bocage.domain.query import AttrPath, Comparison, EntityQuery
from bocage.storage.base import Mutation, MutationResult
from bocage.storage.sqlite import SQLiteStore
from bocage.storage.sqlite_coalesce import Coalescer
from bocage.storage.sqlite_writer import Writer


@pytest.fixture
def db(tmp_path: Path) -> Iterator[tuple[Writer, str]]:
    path = str(tmp_path / "c.db")
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("CREATE TABLE rows (tenant TEXT, id TEXT)")
    writer = Writer(conn, lambda conn, stats: None)
    yield writer, path
    writer.close()


def _stall(writer: Writer) -> threading.Event:
    """Keep the writer busy until the returned event is set."""
    release, busy = threading.Event(), threading.Event()

    def job(conn: sqlite3.Connection, stats: Counter[Any]) -> None:
        busy.set()
        release.wait(10)

    writer.enqueue(job)
    assert busy.wait(10)
    return release


def _rows(path: str) -> list[tuple[str, str]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT tenant, id FROM rows ORDER BY rowid").fetchall()
    finally:
        conn.close()


def test_waiting_writes_share_one_pass_per_tenant(db: tuple[Writer, str]) -> None:
    writer, path = db
    calls: list[tuple[str, list[str]]] = []

    def apply(conn: sqlite3.Connection, tenant: str, batch: list[Mutation],
              stats: Counter[Any]) -> list[MutationResult]:
        calls.append((tenant, [m.entity_id for m in batch]))
        conn.executemany("INSERT INTO rows VALUES (?, ?)", [(tenant, m.entity_id) for m in batch])
        return [{"id": m.entity_id} for m in batch]

    coalescer = Coalescer(writer, apply, lambda: None, limit=100)
    release = _stall(writer)
    futures = [coalescer.submit(tenant, [Mutation(f"urn:{tenant}:{i}", lambda c: c)])
               for i, tenant in enumerate(["a", "b", "a", "a"])]
    assert not any(f.done() for f in futures)  # nothing acknowledged before the commit
    release.set()
    results = [f.result(10) for f in futures]
    assert results == [[{"id": "urn:a:0"}], [{"id": "urn:b:1"}], [{"id": "urn:a:2"}],
                       [{"id": "urn:a:3"}]]
    assert calls == [("a", ["urn:a:0", "urn:a:2", "urn:a:3"]), ("b", ["urn:b:1"])]
    assert sorted(_rows(path)) == [("a", "urn:a:0"), ("a", "urn:a:2"), ("a", "urn:a:3"),
                                   ("b", "urn:b:1")]


def test_a_failing_write_fails_alone_and_writes_nothing(db: tuple[Writer, str]) -> None:
    writer, path = db
    forgotten: list[int] = []

    def apply(conn: sqlite3.Connection, tenant: str, batch: list[Mutation],
              stats: Counter[Any]) -> list[MutationResult]:
        conn.executemany("INSERT INTO rows VALUES (?, ?)", [(tenant, m.entity_id) for m in batch])
        stats["rows"] += len(batch)
        if any(m.entity_id == "urn:bad" for m in batch):
            conn.execute("INSERT INTO no_such_table VALUES (1)")
        return [None for _ in batch]

    coalescer = Coalescer(writer, apply, lambda: forgotten.append(1), limit=100)
    release = _stall(writer)
    ok1 = coalescer.submit("t", [Mutation("urn:ok1", lambda c: c)])
    bad = coalescer.submit("t", [Mutation("urn:bad", lambda c: c)])
    ok2 = coalescer.submit("t", [Mutation("urn:ok2", lambda c: c)])
    release.set()
    assert ok1.result(10) == [None] and ok2.result(10) == [None]
    with pytest.raises(BocageError) as info:
        bad.result(10)
    assert info.value.status == 500
    assert _rows(path) == [("t", "urn:ok1"), ("t", "urn:ok2")]
    assert forgotten  # the interned ids of the rolled-back pass are dropped


def test_back_pressure_counts_waiting_writes(db: tuple[Writer, str]) -> None:
    writer, _ = db

    def apply(conn: sqlite3.Connection, tenant: str, batch: list[Mutation],
              stats: Counter[Any]) -> list[MutationResult]:
        return [None for _ in batch]

    coalescer = Coalescer(writer, apply, lambda: None, limit=2)
    release = _stall(writer)
    waiting = [coalescer.submit("t", [Mutation(f"urn:{i}", lambda c: c)]) for i in range(2)]
    with pytest.raises(ServiceUnavailable):
        coalescer.submit("t", [Mutation("urn:3", lambda c: c)])
    release.set()
    assert [f.result(10) for f in waiting] == [[None], [None]]
    assert coalescer.submit("t", [Mutation("urn:4", lambda c: c)]).result(10) == [None]


def test_concurrent_entity_writes_match_one_by_one(tmp_path: Path) -> None:
    """The store: many threads writing at once (coalesced) leave the same data and
    index as the same writes made one at a time."""
    a = NS + "a"
    together = SQLiteStore(tmp_path / "together.db")
    try:
        errors: list[BaseException] = []

        def write(n: int) -> None:
            try:
                for i in range(20):
                    [res] = together.apply("t", [create(entity(f"urn:c:{n}:{i}", a=prop(i)))])
                    assert isinstance(res, dict)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        found = together.query("t", EntityQuery(q=Comparison(AttrPath(a), ">=", 10),
                                                count=True, limit=0))
        assert found.count == 8 * 10
        [info] = together.attributes("t")
        assert info.entity_count == 8 * 20
    finally:
        together.close()


def test_a_write_from_inside_a_write_job_is_refused(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    try:
        def nested(current: Any) -> Any:
            store.submit("t", [create(entity("urn:inner"))])
            return entity("urn:outer")

        [res] = store.apply("t", [Mutation("urn:outer", nested)])
        assert isinstance(res, BocageError)  # the RuntimeError, reported as that mutation's
        assert store.tenants() == []  # nothing was written
    finally:
        store.close()


def test_a_write_cancelled_before_its_turn_is_not_applied(db: tuple[Writer, str]) -> None:
    """A caller that gave up (an HTTP client gone) neither gets its write applied
    nor stops the others from being settled."""
    writer, path = db

    def apply(conn: sqlite3.Connection, tenant: str, batch: list[Mutation],
              stats: Counter[Any]) -> list[MutationResult]:
        conn.executemany("INSERT INTO rows VALUES (?, ?)", [(tenant, m.entity_id) for m in batch])
        return [None for _ in batch]

    coalescer = Coalescer(writer, apply, lambda: None, limit=100)
    release = _stall(writer)
    first = coalescer.submit("t", [Mutation("urn:1", lambda c: c)])
    gone = coalescer.submit("t", [Mutation("urn:gone", lambda c: c)])
    last = coalescer.submit("t", [Mutation("urn:3", lambda c: c)])
    assert gone.cancel()
    release.set()
    assert first.result(10) == [None] and last.result(10) == [None]
    assert _rows(path) == [("t", "urn:1"), ("t", "urn:3")]


def test_a_cancelled_job_future_does_not_stop_the_writer(db: tuple[Writer, str]) -> None:
    """Settling a future its caller cancelled meanwhile must not raise in the writer
    thread: every later job would wait forever."""
    writer, _ = db
    release = _stall(writer)
    gone = writer.enqueue(lambda conn, stats: "late")
    assert gone.cancel()
    after = writer.enqueue(lambda conn, stats: "served")
    release.set()
    assert after.result(10) == "served"
    assert writer.alive() and writer.submit(lambda conn, stats: 42) == 42
