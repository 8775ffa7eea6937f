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
