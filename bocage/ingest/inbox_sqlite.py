"""The inbox in its own SQLite file, with its own writer thread and group commit.

Its own file (not the entity database) so that taking uplinks never waits on a
long entity write, and so that its fsyncs are small: one commit holds every
``accept`` that queued up while the previous commit was syncing (group commit),
with ``synchronous=FULL`` because an acknowledged record must survive a power
cut, not only a crash. Reads (``pending``, dead-letter listings) use their own
connection: WAL lets them run beside the writer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import orjson

from bocage.domain.errors import ServiceUnavailable
from bocage.ingest.deadletters import OPEN, REPLAYED, DeadLetter, DeadLetterQuery, NewDeadLetter
from bocage.ingest.inbox import Accepted
from bocage.ingest.record import Uplink

log = logging.getLogger("bocage.ingest")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    dedup_key TEXT NOT NULL UNIQUE,
    body BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS marker (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    processed INTEGER NOT NULL
);
INSERT OR IGNORE INTO marker (id, processed) VALUES (1, 0);
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    seq INTEGER NOT NULL,
    dev_eui TEXT NOT NULL,
    source TEXT NOT NULL,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 1,
    body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS dead_letters_status ON dead_letters (status, id);
"""
#: columns added after the first release, and how to fill them in an older file
_ADDED_COLUMNS = (
    ("dev_eui", "TEXT NOT NULL DEFAULT ''", "json_extract(body, '$.devEui')"),
    ("accepted_at", "TEXT NOT NULL DEFAULT ''", "json_extract(body, '$.receivedAt')"),
)
_INDEXES = """
CREATE INDEX IF NOT EXISTS records_device ON records (dev_eui, seq);
CREATE INDEX IF NOT EXISTS dead_letters_device ON dead_letters (dev_eui, status, id);
"""
#: messages per day, kept when the records themselves are pruned (the sobriety panel)
_DAILY = """
CREATE TABLE daily_counts (
    day TEXT PRIMARY KEY,
    received INTEGER NOT NULL DEFAULT 0,
    duplicates INTEGER NOT NULL DEFAULT 0
);
"""
_COUNT_DAY = ("INSERT INTO daily_counts (day, received, duplicates) VALUES (?, ?, ?) "
              "ON CONFLICT (day) DO UPDATE SET received = received + excluded.received, "
              "duplicates = duplicates + excluded.duplicates")
_PRUNE_CHUNK = 10_000  # records deleted per writer job: accepts interleave
_MAX_GROUP = 1000  # jobs per commit: bounds the latency of the first one

Job = Callable[[sqlite3.Connection], Any]
_IN_CHUNK = 500  # dedup keys per IN (...) look-up


class _Insert:
    """An ``accept`` job: its rows are written with every other one of the group,
    by one look-up of the known keys and one ``executemany`` (not three statements
    per record as a savepointed job would cost). It is answered either through a
    thread future or, for callers on an event loop, through an asyncio future
    settled on that loop (one wake-up of the loop per group, not per job)."""

    __slots__ = ("loop", "rows", "waiter")  # rows: (dedup key, body, DevEUI, accepted at)

    def __init__(self, rows: list[tuple[str, bytes, str, str]],
                 loop: asyncio.AbstractEventLoop | None = None,
                 waiter: asyncio.Future[Accepted] | None = None) -> None:
        self.rows = rows
        self.loop = loop
        self.waiter = waiter


def inbox_path(database_url: str, explicit: str = "") -> Path:
    """``inbox.db`` beside the SQLite entity database (or in ./bocage-data for others)."""
    if explicit:
        return Path(explicit)
    if database_url.startswith("sqlite:///"):
        return Path(database_url.removeprefix("sqlite:///")).parent / "inbox.db"
    return Path("bocage-data") / "inbox.db"


class SQLiteInbox:
    def __init__(self, path: str | Path, *, max_backlog: int, now: Callable[[], str]) -> None:
        self._path = Path(path)
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._max_backlog = max_backlog
        self._now = now
        self._writer = self._connect()
        self._writer.executescript(_SCHEMA)
        _migrate(self._writer)
        self._reader = self._connect()
        self._read_lock = threading.Lock()
        self._count_lock = threading.Lock()
        last = self._writer.execute("SELECT coalesce(max(seq), 0) FROM records").fetchone()[0]
        self._processed: int = self._writer.execute(
            "SELECT processed FROM marker").fetchone()[0]
        self._backlog = int(self._writer.execute(
            "SELECT count(*) FROM records WHERE seq > ?", (self._processed,)).fetchone()[0])
        self._last_seq = int(last)
        self._inflight = 0  # records queued for the writer, not yet committed
        self._wake = threading.Event()
        if self._backlog:
            self._wake.set()
        self._jobs: queue.SimpleQueue[tuple[Job | _Insert, Future[Any] | None] | None] = (
            queue.SimpleQueue())
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="bocage-inbox-writer",
                                        daemon=True)
        self._thread.start()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA busy_timeout=5000")
        return conn

    # -- writer thread -------------------------------------------------------

    def _submit(self, job: Job | _Insert, fut: Future[Any] | None = None) -> Future[Any] | None:
        """Queue a job; a plain job gets a fresh future (returned)."""
        if self._closed:
            if isinstance(job, _Insert):
                with self._count_lock:
                    self._inflight -= len(job.rows)
            raise ServiceUnavailable("the inbox is closed")
        if fut is None and not isinstance(job, _Insert):
            fut = Future()
        self._jobs.put((job, fut))
        return fut

    def _run_job(self, job: Job) -> Future[Any]:
        fut = self._submit(job)
        assert fut is not None
        return fut

    def _run(self) -> None:
        while True:
            item = self._jobs.get()
            if item is None:
                return
            group = [item]
            # group commit: everything that queued while the last commit synced
            while len(group) < _MAX_GROUP:
                try:
                    nxt = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._jobs.put(None)  # finish this group, then stop
                    break
                group.append(nxt)
            self._commit(group)

    def _commit(self, group: list[tuple[Job | _Insert, Future[Any] | None]]) -> None:
        conn = self._writer
        results: list[tuple[Future[Any], bool, Any]] = []
        inserts = [(job, fut) for job, fut in group if isinstance(job, _Insert)]
        answers: list[tuple[_Insert, Accepted]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            if inserts:  # records first: a marker job of this group never refers to them
                answers = _insert(conn, [job for job, _ in inserts])
            for job, fut in group:
                if isinstance(job, _Insert):
                    continue
                assert fut is not None
                conn.execute("SAVEPOINT job")
                try:
                    results.append((fut, True, job(conn)))
                    conn.execute("RELEASE job")
                except sqlite3.Error as exc:
                    conn.execute("ROLLBACK TO job")
                    conn.execute("RELEASE job")
                    results.append((fut, False, exc))
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            log.exception("inbox commit failed")
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            err = ServiceUnavailable(f"the inbox cannot write: {exc}", retry_after=5)
            self._answer([(job, err) for job, _ in inserts],
                         {id(job): fut for job, fut in inserts})
            for job, fut in group:
                if not isinstance(job, _Insert):
                    assert fut is not None
                    fut.set_exception(err)
            return
        if inserts:
            self._answer(answers, {id(job): fut for job, fut in inserts})
        for fut, ok, value in results:
            if ok:
                fut.set_result(value)
            else:
                fut.set_exception(ServiceUnavailable(f"the inbox cannot write: {value}"))

    def _answer(self, answers: Sequence[tuple[_Insert, Accepted | BaseException]],
                futures: dict[int, Future[Any] | None]) -> None:
        """Count what a group stored, wake the pipeline once, answer each accept:
        thread futures one by one, asyncio futures with one call per event loop."""
        rows = stored = 0
        for job, answer in answers:
            rows += len(job.rows)
            if isinstance(answer, Accepted):
                stored += answer.stored
        with self._count_lock:
            self._inflight -= rows
            self._backlog += stored
        if stored:
            self._wake.set()
        loops: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Accepted],
                                                          Accepted | BaseException]]] = {}
        for job, answer in answers:
            if job.loop is not None and job.waiter is not None:
                loops.setdefault(job.loop, []).append((job.waiter, answer))
                continue
            fut = futures[id(job)]
            assert fut is not None
            if isinstance(answer, BaseException):
                fut.set_exception(answer)
            else:
                fut.set_result(answer)
        for loop, waiters in loops.items():
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
                loop.call_soon_threadsafe(_settle, waiters)

    # -- accept --------------------------------------------------------------

    def accept(self, records: Sequence[Uplink]) -> Future[Accepted]:
        fut: Future[Accepted] = Future()
        self._submit(self._insert_job(records), fut)
        return fut

    def accept_soon(self, records: Sequence[Uplink]) -> asyncio.Future[Accepted]:
        """``accept`` for a caller on an event loop: an asyncio future of that loop."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Accepted] = loop.create_future()
        job = self._insert_job(records)
        job.loop, job.waiter = loop, waiter
        self._submit(job, None)
        return waiter

    def _insert_job(self, records: Sequence[Uplink]) -> _Insert:
        n = len(records)
        if self._closed:
            raise ServiceUnavailable("the inbox is closed")
        with self._count_lock:
            if self._backlog + self._inflight + n > self._max_backlog:
                raise ServiceUnavailable(
                    f"ingestion backlog full ({self._backlog} records waiting); retry later",
                    retry_after=2)
            self._inflight += n
        at = self._now()
        return _Insert([(r.dedup_key, r.to_json(), r.dev_eui, at) for r in records])

    def backlog(self) -> int:
        with self._count_lock:
            return self._backlog

    def wait_for_records(self, timeout: float) -> bool:
        woken = self._wake.wait(timeout)
        self._wake.clear()
        return woken

    # -- drain ---------------------------------------------------------------

    def pending(self, limit: int) -> list[tuple[int, Uplink]]:
        with self._read_lock:
            rows = self._reader.execute(
                "SELECT seq, body FROM records WHERE seq > ? ORDER BY seq LIMIT ?",
                (self._processed, limit)).fetchall()
        return [(seq, Uplink.from_json(body)) for seq, body in rows]

    def mark_processed(self, upto: int, dead: Sequence[NewDeadLetter]) -> Future[None]:
        now = self._now()
        rows = [_dead_row(d, now) for d in dead]

        def job(conn: sqlite3.Connection) -> int:
            conn.executemany(
                "INSERT INTO dead_letters (seq, dev_eui, source, reason, detail, status, "
                "created_at, updated_at, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            conn.execute("UPDATE marker SET processed = ? WHERE processed < ?", (upto, upto))
            return int(conn.execute("SELECT count(*) FROM records WHERE seq > ?",
                                    (upto,)).fetchone()[0])

        out: Future[None] = Future()

        def moved(done: Future[int]) -> None:
            exc = done.exception()
            if exc is not None:
                out.set_exception(exc)
                return
            with self._count_lock:
                self._processed = max(self._processed, upto)
                self._backlog = done.result()
            out.set_result(None)

        self._run_job(job).add_done_callback(moved)
        return out

    # -- a device's records, pruning -----------------------------------------

    def device_records(self, dev_eui: str, limit: int,
                       before: int | None = None) -> list[tuple[int, Uplink, bool]]:
        """A device's newest records first: (seq, record, processed), seq < ``before``."""
        with self._read_lock:
            rows = self._reader.execute(
                "SELECT seq, body FROM records WHERE dev_eui = ? AND seq < ? "
                "ORDER BY seq DESC LIMIT ?",
                (dev_eui.upper(), before if before is not None else 2**62, limit)).fetchall()
        processed = self._processed
        return [(seq, Uplink.from_json(body), seq <= processed) for seq, body in rows]

    def prune(self, older_than: str) -> int:
        """Delete processed records accepted before ``older_than``; returns how many.

        Dead letters keep their own copy. Records are accepted in ``seq`` order,
        so the newest prunable one is found by a binary search on ``seq`` (no
        index on the time), then deleted oldest first, in chunks.
        """
        with self._read_lock:
            lo, hi = self._reader.execute(
                "SELECT coalesce(min(seq), 0), coalesce(max(seq), 0) FROM records").fetchone()
            cutoff = lo - 1  # the newest seq known to be old enough
            hi = min(hi, self._processed)
            while lo <= hi:
                mid = (lo + hi) // 2
                row = self._reader.execute(
                    "SELECT seq, accepted_at FROM records WHERE seq >= ? ORDER BY seq LIMIT 1",
                    (mid,)).fetchone()
                if row is None or row[0] > hi:
                    hi = mid - 1
                elif row[1] < older_than:
                    cutoff, lo = row[0], row[0] + 1
                else:
                    hi = mid - 1
        deleted = 0
        while True:
            def job(conn: sqlite3.Connection) -> int:
                return conn.execute(
                    "DELETE FROM records WHERE seq IN (SELECT seq FROM records WHERE seq <= ? "
                    "ORDER BY seq LIMIT ?)", (cutoff, _PRUNE_CHUNK)).rowcount

            n = int(self._run_job(job).result())
            deleted += n
            if n < _PRUNE_CHUNK:
                return deleted

    # -- dead letters --------------------------------------------------------

    def dead_letters(self, query: DeadLetterQuery) -> list[DeadLetter]:
        where, args = _letter_filter(query)
        sql = f"SELECT * FROM dead_letters{where} ORDER BY id LIMIT ? OFFSET ?"
        with self._read_lock:
            rows = self._reader.execute(sql, (*args, query.limit, query.offset)).fetchall()
        return [_letter(row) for row in rows]

    def daily_counts(self, since: str) -> list[tuple[str, int, int]]:
        """(day, messages stored, duplicates dropped) per UTC day from ``since``
        (YYYY-MM-DD), oldest first."""
        with self._read_lock:
            rows = self._reader.execute(
                "SELECT day, received, duplicates FROM daily_counts WHERE day >= ? "
                "ORDER BY day", (since,)).fetchall()
        return [(str(d), int(r), int(x)) for d, r, x in rows]

    def size_on_disk(self) -> int:
        """Bytes of the inbox file and its write-ahead log."""
        return sum(p.stat().st_size for p in (self._path, self._path.with_name(
            self._path.name + "-wal")) if p.exists())

    def count_dead_letters(self, query: DeadLetterQuery) -> int:
        where, args = _letter_filter(query)
        with self._read_lock:
            return int(self._reader.execute(f"SELECT count(*) FROM dead_letters{where}",
                                            args).fetchone()[0])

    def dead_letter(self, letter_id: int) -> DeadLetter | None:
        with self._read_lock:
            row = self._reader.execute("SELECT * FROM dead_letters WHERE id = ?",
                                       (letter_id,)).fetchone()
        return None if row is None else _letter(row)

    def settle_dead_letter(self, letter_id: int, failure: NewDeadLetter | None,
                           at: str) -> Future[None]:
        def job(conn: sqlite3.Connection) -> None:
            if failure is None:
                conn.execute("UPDATE dead_letters SET status = ?, updated_at = ?, "
                             "attempts = attempts + 1 WHERE id = ?", (REPLAYED, at, letter_id))
            else:
                conn.execute("UPDATE dead_letters SET reason = ?, detail = ?, updated_at = ?, "
                             "attempts = attempts + 1 WHERE id = ?",
                             (failure.reason, failure.detail, at, letter_id))

        return self._run_job(job)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._jobs.put(None)
        self._thread.join()
        self._writer.close()
        self._reader.close()


def _migrate(conn: sqlite3.Connection) -> None:
    """Bring an inbox file written by an older bocage up to date."""
    have = {row[1] for row in conn.execute("PRAGMA table_info(records)")}
    for name, decl, fill in _ADDED_COLUMNS:
        if name not in have:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(f"ALTER TABLE records ADD COLUMN {name} {decl}")
            conn.execute(f"UPDATE records SET {name} = coalesce({fill}, '')")
            conn.execute("COMMIT")
    conn.executescript(_INDEXES)
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    if "daily_counts" not in tables:  # the days still in the file (duplicates unknown)
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(_DAILY)
        conn.execute("INSERT INTO daily_counts (day, received) SELECT substr(accepted_at, 1, "
                     "10), count(*) FROM records WHERE accepted_at != '' GROUP BY 1")
        conn.execute("COMMIT")


def _insert(conn: sqlite3.Connection, jobs: list[_Insert]) -> list[tuple[_Insert, Accepted]]:
    """Write the records of many accept jobs; each learns what it stored."""
    keys = list({row[0] for job in jobs for row in job.rows})
    known: set[str] = set()
    for i in range(0, len(keys), _IN_CHUNK):
        chunk = keys[i:i + _IN_CHUNK]
        known.update(k for (k,) in conn.execute(
            f"SELECT dedup_key FROM records WHERE dedup_key IN ({','.join('?' * len(chunk))})",
            chunk))
    new_rows: list[tuple[str, bytes, str, str]] = []
    out: list[tuple[_Insert, Accepted]] = []
    days: dict[str, list[int]] = {}  # day -> [stored, duplicates]
    for job in jobs:
        stored = 0
        for row in job.rows:
            tally = days.setdefault(row[3][:10], [0, 0])
            if row[0] not in known:  # the first of a key wins, even within the group
                known.add(row[0])
                new_rows.append(row)
                stored += 1
                tally[0] += 1
            else:
                tally[1] += 1
        out.append((job, Accepted(stored=stored, duplicates=len(job.rows) - stored)))
    conn.executemany("INSERT INTO records (dedup_key, body, dev_eui, accepted_at) "
                     "VALUES (?, ?, ?, ?)", new_rows)
    conn.executemany(_COUNT_DAY, [(day, a, b) for day, (a, b) in days.items()])
    return out


def _settle(waiters: list[tuple[asyncio.Future[Accepted], Accepted | BaseException]]) -> None:
    """On the event loop: answer the accepts of one group commit."""
    for waiter, answer in waiters:
        if waiter.done():  # the caller gave up (its request was cancelled)
            continue
        if isinstance(answer, BaseException):
            waiter.set_exception(answer)
        else:
            waiter.set_result(answer)


def _letter_filter(query: DeadLetterQuery) -> tuple[str, list[Any]]:
    """The WHERE clause (with its leading space, or "") and arguments of a query."""
    where: list[str] = []
    args: list[Any] = []
    for column, value in (("status", query.status), ("reason", query.reason),
                          ("dev_eui", query.dev_eui.upper() if query.dev_eui else None),
                          ("source", query.source)):
        if value:
            where.append(f"{column} = ?")
            args.append(value)
    if query.dev_euis is not None:
        where.append("dev_eui IN (SELECT value FROM json_each(?))")
        args.append(orjson.dumps(sorted(query.dev_euis)).decode())
    return (" WHERE " + " AND ".join(where)) if where else "", args


def _dead_row(d: NewDeadLetter, now: str) -> tuple[Any, ...]:
    r = d.record
    return (d.seq, r.dev_eui, r.source, d.reason, d.detail, OPEN, now, now, r.to_json())


def _letter(row: tuple[Any, ...]) -> DeadLetter:
    (id_, seq, _eui, _source, reason, detail, status, created, updated, attempts, body) = row
    return DeadLetter(id=id_, seq=seq, record=Uplink.from_json(body), reason=reason,
                      detail=detail, status=status, created_at=created, updated_at=updated,
                      attempts=attempts)
