"""Dead letter listings narrowed to a set of devices in the query itself: exact pages."""

from __future__ import annotations

from pathlib import Path

from bocage.ingest.deadletters import DeadLetterQuery, NewDeadLetter
from bocage.ingest.inbox_sqlite import SQLiteInbox
from bocage.ingest.record import Uplink

NOW = "2030-01-01T00:00:00.000Z"
MINE, OTHER = "A0A0A0A0A0A0A0A1", "B0B0B0B0B0B0B0B1"


def rec(i: int, eui: str) -> Uplink:
    return Uplink(source="chirpstack", event="up", dev_eui=eui, application="app",
                  dedup_key=f"k{i}", received_at=NOW, f_port=1, f_cnt=i, payload=b"\x01")


def test_letters_of_a_set_of_devices_page_exactly(tmp_path: Path) -> None:
    inbox = SQLiteInbox(tmp_path / "inbox.db", max_backlog=1000, now=lambda: NOW)
    records = [rec(i, OTHER) for i in range(30)] + [rec(100 + i, MINE) for i in range(5)]
    inbox.accept(records).result()
    pending = inbox.pending(100)
    inbox.mark_processed(pending[-1][0], [
        NewDeadLetter(r, "unknown-device" if r.dev_eui == MINE else "codec-error", "x", seq)
        for seq, r in pending]).result()
    mine = DeadLetterQuery(dev_euis=frozenset({MINE}), limit=2)
    first = inbox.dead_letters(mine)
    assert [d.record.dev_eui for d in first] == [MINE, MINE]
    rest = inbox.dead_letters(DeadLetterQuery(dev_euis=frozenset({MINE}), limit=10, offset=2))
    assert len(rest) == 3 and {d.id for d in rest}.isdisjoint(d.id for d in first)
    assert inbox.count_dead_letters(mine) == 5
    # an empty set: nothing (not "no filter"); combined with the other filters
    assert inbox.dead_letters(DeadLetterQuery(dev_euis=frozenset())) == []
    assert inbox.count_dead_letters(DeadLetterQuery(dev_euis=frozenset())) == 0
    both = frozenset({MINE, OTHER})
    assert inbox.count_dead_letters(DeadLetterQuery(dev_euis=both, reason="codec-error")) == 30
    assert inbox.count_dead_letters(DeadLetterQuery(dev_euis=both, dev_eui=MINE.lower())) == 5
    assert inbox.count_dead_letters(DeadLetterQuery(dev_euis=frozenset({OTHER}),
                                                    dev_eui=MINE)) == 0
    assert inbox.count_dead_letters(DeadLetterQuery()) == 35
    inbox.close()


def test_messages_and_duplicates_are_counted_per_day_and_outlive_pruning(
        tmp_path: Path) -> None:
    clock = ["2030-01-01T10:00:00.000Z"]
    inbox = SQLiteInbox(tmp_path / "inbox.db", max_backlog=1000, now=lambda: clock[0])
    inbox.accept([rec(1, MINE), rec(2, MINE), rec(1, MINE)]).result()
    clock[0] = "2030-01-02T09:00:00.000Z"
    inbox.accept([rec(2, MINE), rec(3, MINE)]).result()
    assert inbox.daily_counts("2030-01-01") == [("2030-01-01", 2, 1), ("2030-01-02", 1, 1)]
    assert inbox.daily_counts("2030-01-02") == [("2030-01-02", 1, 1)]
    inbox.mark_processed(inbox.pending(10)[-1][0], []).result()
    assert inbox.prune("2030-01-03") == 3
    assert inbox.daily_counts("2000-01-01")[0] == ("2030-01-01", 2, 1)
    assert inbox.size_on_disk() > 0
    inbox.close()


def test_an_older_inbox_file_gets_its_days_from_the_records_it_holds(tmp_path: Path) -> None:
    import sqlite3

    inbox = SQLiteInbox(tmp_path / "inbox.db", max_backlog=1000, now=lambda: NOW)
    inbox.accept([rec(1, MINE), rec(2, MINE)]).result()
    inbox.close()
    conn = sqlite3.connect(tmp_path / "inbox.db")
    conn.execute("DROP TABLE daily_counts")  # as written by a bocage before the counters
    conn.commit()
    conn.close()
    again = SQLiteInbox(tmp_path / "inbox.db", max_backlog=1000, now=lambda: NOW)
    assert again.daily_counts("2000-01-01") == [(NOW[:10], 2, 0)]
    again.close()
