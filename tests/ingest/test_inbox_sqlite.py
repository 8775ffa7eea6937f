"""The SQLite inbox on its own: durable accept, dedup, order, marker, back-pressure."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from bocage.domain.errors import ServiceUnavailable
from bocage.ingest.deadletters import DeadLetterQuery, NewDeadLetter
from bocage.ingest.inbox_sqlite import SQLiteInbox, inbox_path
from bocage.ingest.record import Uplink

NOW = "2030-01-01T00:00:00.000Z"


def rec(i: int, eui: str = "0101010101010101") -> Uplink:
    return Uplink(source="chirpstack", event="up", dev_eui=eui, application="app",
                  dedup_key=f"k{i}", received_at=NOW, f_port=1, f_cnt=i, payload=bytes([i % 256]))


def open_inbox(path: Path, max_backlog: int = 1000) -> SQLiteInbox:
    return SQLiteInbox(path / "inbox.db", max_backlog=max_backlog, now=lambda: NOW)


def test_path_beside_the_database() -> None:
    assert inbox_path("sqlite:///data/x/bocage.db") == Path("data/x/inbox.db")
    assert inbox_path("sqlite:////var/lib/b.db") == Path("/var/lib/inbox.db")
    assert inbox_path("postgresql://h/db") == Path("bocage-data/inbox.db")
    assert inbox_path("sqlite:///a.db", "/srv/in.db") == Path("/srv/in.db")


def test_accept_dedup_order_and_marker_survive_reopening(tmp_path: Path) -> None:
    inbox = open_inbox(tmp_path)
    acc = inbox.accept([rec(1), rec(2), rec(1)]).result()
    assert (acc.stored, acc.duplicates) == (2, 1)
    assert inbox.accept([rec(2), rec(3)]).result().duplicates == 1
    pending = inbox.pending(10)
    assert [r.dedup_key for _, r in pending] == ["k1", "k2", "k3"]
    assert [s for s, _ in pending] == sorted(s for s, _ in pending)  # gaps allowed
    assert pending[1][1] == rec(2)
    second = pending[1][0]
    inbox.mark_processed(second, [NewDeadLetter(rec(2), "codec-error", "bad", second)]).result()
    assert inbox.backlog() == 1
    inbox.close()
    again = open_inbox(tmp_path)
    assert [r.dedup_key for _, r in again.pending(10)] == ["k3"]
    assert again.backlog() == 1
    assert again.accept([rec(1)]).result().duplicates == 1  # remembered after processing
    [letter] = again.dead_letters(DeadLetterQuery())
    assert (letter.reason, letter.record, letter.status) == ("codec-error", rec(2), "open")
    assert again.dead_letters(DeadLetterQuery(status="replayed")) == []
    again.settle_dead_letter(letter.id, None, NOW).result()
    assert again.dead_letter(letter.id).status == "replayed"  # type: ignore[union-attr]
    again.close()


def test_concurrent_accepts_are_all_committed(tmp_path: Path) -> None:
    inbox = open_inbox(tmp_path, max_backlog=10_000)
    futures = []
    lock = threading.Lock()

    def send(base: int) -> None:
        for i in range(100):
            f = inbox.accept([rec(base + i)])
            with lock:
                futures.append(f)

    threads = [threading.Thread(target=send, args=(n * 1000,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(f.result().stored for f in futures) == 800
    assert inbox.backlog() == 800
    inbox.close()


def test_backlog_bound_refuses_at_once(tmp_path: Path) -> None:
    inbox = open_inbox(tmp_path, max_backlog=2)
    inbox.accept([rec(1), rec(2)]).result()
    with pytest.raises(ServiceUnavailable) as err:
        inbox.accept([rec(3)])
    assert err.value.retry_after == 2
    inbox.mark_processed(2, []).result()
    assert inbox.accept([rec(3)]).result().stored == 1
    inbox.close()
    with pytest.raises(ServiceUnavailable):
        inbox.accept([rec(4)])


def test_device_records_newest_first_with_their_state(tmp_path: Path) -> None:
    inbox = open_inbox(tmp_path)
    inbox.accept([rec(1), rec(2, "0202020202020202"), rec(3)]).result()
    [(s1, _), _, (s3, _)] = inbox.pending(10)
    inbox.mark_processed(s1, []).result()
    listed = inbox.device_records("0101010101010101", 10)
    assert [(seq, r.dedup_key, done) for seq, r, done in listed] == [
        (s3, "k3", False), (s1, "k1", True)]
    assert [r.dedup_key for _, r, _ in inbox.device_records("0101010101010101", 10, s3)] == [
        "k1"]
    assert inbox.device_records("0101010101010101", 1)[0][1] == rec(3)
    assert inbox.device_records("0303030303030303", 10) == []
    inbox.close()


def test_prune_deletes_old_processed_records_only(tmp_path: Path) -> None:
    clock = ["2030-01-01T00:00:00.000Z"]
    inbox = SQLiteInbox(tmp_path / "inbox.db", max_backlog=1000, now=lambda: clock[0])
    inbox.accept([rec(i) for i in range(1, 6)]).result()            # accepted on day 1
    clock[0] = "2030-01-05T00:00:00.000Z"
    inbox.accept([rec(i) for i in range(6, 9)]).result()            # on day 5
    pending = inbox.pending(10)
    by_key = {r.dedup_key: seq for seq, r in pending}
    # processed up to k7; k3 failed and is a dead letter
    inbox.mark_processed(by_key["k7"], [NewDeadLetter(rec(3), "codec-error", "x",
                                                      by_key["k3"])]).result()
    assert inbox.prune("2030-01-03T00:00:00.000Z") == 5            # k1..k5 only
    left = [r.dedup_key for _, r, _ in inbox.device_records("0101010101010101", 10)]
    assert left == ["k8", "k7", "k6"]
    assert inbox.prune("2031-01-01T00:00:00.000Z") == 2            # k6, k7; k8 is pending
    assert [r.dedup_key for _, r in inbox.pending(10)] == ["k8"]
    [letter] = inbox.dead_letters(DeadLetterQuery())
    assert letter.record == rec(3)                                  # dead letters stay
    assert inbox.prune("2031-01-01T00:00:00.000Z") == 0
    inbox.close()


def test_an_inbox_file_of_the_first_release_is_migrated(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "inbox.db"
    with sqlite3.connect(path) as conn:
        conn.executescript("""
            CREATE TABLE records (seq INTEGER PRIMARY KEY AUTOINCREMENT,
                                  dedup_key TEXT NOT NULL UNIQUE, body BLOB NOT NULL);
            CREATE TABLE marker (id INTEGER PRIMARY KEY CHECK (id = 1),
                                 processed INTEGER NOT NULL);
            INSERT INTO marker VALUES (1, 0);""")
        conn.execute("INSERT INTO records (dedup_key, body) VALUES (?, ?)",
                     ("k1", rec(1).to_json()))
    inbox = SQLiteInbox(path, max_backlog=10, now=lambda: NOW)
    [(_, record, done)] = inbox.device_records("0101010101010101", 10)
    assert (record, done) == (rec(1), False)
    inbox.mark_processed(1, []).result()
    assert inbox.prune("2030-01-02T00:00:00.000Z") == 1  # its receivedAt stands in
    inbox.close()


def test_accepts_from_an_event_loop_are_answered_on_it_once_committed(tmp_path: Path) -> None:
    import asyncio

    inbox = open_inbox(tmp_path, max_backlog=10_000)

    async def main() -> list[tuple[int, int]]:
        waiters = [inbox.accept_soon([rec(i), rec(i + 1)]) for i in range(0, 200, 2)]
        waiters.append(inbox.accept_soon([rec(0)]))  # a duplicate
        done = await asyncio.gather(*waiters)
        return [(a.stored, a.duplicates) for a in done]

    answers = asyncio.run(main())
    assert answers[:-1] == [(2, 0)] * 100 and answers[-1] == (0, 1)
    assert inbox.backlog() == 200
    inbox.close()
    again = open_inbox(tmp_path)  # committed before answered: all there after reopening
    assert len(again.pending(1000)) == 200
    again.close()
