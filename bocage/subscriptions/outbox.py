"""The notification outbox: its own SQLite file, so queued notifications
survive a crash or a restart and never wait on (or slow) the entity database.

``pending`` holds every notification not yet delivered, with its attempt
count and when it may be tried next; ``status`` the delivery counters of each
subscription (``timesSent``, ``timesFailed``, ``lastNotification``,
``lastSuccess``, ``lastFailure``). ``synchronous=FULL``: an enqueued
notification is on disk, so a write whose caller was answered has its
notifications on disk too (see ``bocage.subscriptions.notifier``).

One connection serialised by a lock: callers batch (the matcher enqueues a
whole write group per transaction, the delivery worker settles every result
of a round in one), so the lock is taken a few hundred times a second at most.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from bocage.subscriptions.digest import digest_slot
from bocage.subscriptions.notification import Outgoing

_SCHEMA = """
CREATE TABLE IF NOT EXISTS pending (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant TEXT NOT NULL,
    sub_id TEXT NOT NULL,
    uri TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    headers BLOB NOT NULL,
    payload BLOB NOT NULL,
    notifier_info BLOB NOT NULL,
    timeout REAL,
    entities INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS pending_due ON pending (next_at, seq);
CREATE INDEX IF NOT EXISTS pending_sub ON pending (tenant, sub_id, seq);
CREATE INDEX IF NOT EXISTS pending_endpoint ON pending (endpoint, next_at);
CREATE TABLE IF NOT EXISTS status (
    tenant TEXT NOT NULL,
    sub_id TEXT NOT NULL,
    times_sent INTEGER NOT NULL DEFAULT 0,
    times_failed INTEGER NOT NULL DEFAULT 0,
    last_notification TEXT,
    last_success TEXT,
    last_failure TEXT,
    last_error TEXT,
    PRIMARY KEY (tenant, sub_id)
);
CREATE TABLE IF NOT EXISTS digest (
    tenant TEXT NOT NULL,
    sub_id TEXT NOT NULL,
    last_slot REAL NOT NULL,
    PRIMARY KEY (tenant, sub_id)
);
"""


def outbox_path(database_url: str, explicit: str = "") -> Path:
    """``notifications.db`` beside the SQLite entity database (./bocage-data otherwise)."""
    if explicit:
        return Path(explicit)
    if database_url.startswith("sqlite:///"):
        return Path(database_url.removeprefix("sqlite:///")).parent / "notifications.db"
    return Path("bocage-data") / "notifications.db"


@dataclass(frozen=True, slots=True)
class Queued:
    """A pending notification as the delivery worker reads it."""

    seq: int
    tenant: str
    subscription_id: str
    uri: str
    endpoint_key: str
    headers: dict[str, str]
    payload: bytes
    notifier_info: tuple[tuple[str, str], ...]
    timeout: float | None
    attempts: int
    kind: str = "ngsi-ld"


@dataclass(frozen=True, slots=True)
class Attempt:
    """The outcome of one delivery attempt (of one or several merged notifications)."""

    seqs: tuple[int, ...]
    tenant: str
    subscription_id: str
    endpoint_key: str
    at: str  # ISO time of the attempt
    ok: bool
    error: str = ""
    #: when to try again (epoch seconds); None = never (delivered or given up)
    retry_at: float | None = None


@dataclass(frozen=True, slots=True)
class Status:
    times_sent: int = 0
    times_failed: int = 0
    last_notification: str | None = None
    last_success: str | None = None
    last_failure: str | None = None
    last_error: str | None = None


class Outbox:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute("PRAGMA synchronous = FULL")
        self._conn.execute("PRAGMA busy_timeout = 5000")
        self._lock = threading.Lock()
        with self._lock:
            self._conn.executescript(_SCHEMA)
            columns = {row[1] for row in self._conn.execute("PRAGMA table_info(pending)")}
            if "kind" not in columns:  # an outbox of an earlier version
                self._conn.execute("ALTER TABLE pending ADD COLUMN kind TEXT NOT NULL "
                                   "DEFAULT 'ngsi-ld'")
        # Settling (delivered, failed) needs no fsync: a settle lost to a power
        # cut only sends a notification again, which at-least-once allows; the
        # fsync per settle was most of the cost of draining a backlog.
        self._settler = sqlite3.connect(self.path, isolation_level=None,
                                        check_same_thread=False)
        self._settler.execute("PRAGMA synchronous = NORMAL")
        self._settler.execute("PRAGMA busy_timeout = 5000")

    def _transaction(self, statements: Iterable[tuple[str, Sequence[Any]]],
                     many: Iterable[tuple[str, list[tuple[Any, ...]]]] = (), *,
                     durable: bool = True) -> None:
        conn = self._conn if durable else self._settler
        with self._lock:
            conn.execute("BEGIN IMMEDIATE")
            try:
                for sql, params in statements:
                    conn.execute(sql, params)
                for sql, rows in many:
                    conn.executemany(sql, rows)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def enqueue(self, items: Sequence[Outgoing], now_ts: float) -> None:
        """Queue notifications durably (one transaction, one fsync).

        A new notification waits for its endpoint's backoff like the queued
        ones: a dead receiver is not hammered by fresh notifications, and a
        subscription's notifications leave in the order they were queued.
        """
        if not items:
            return
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                endpoints = sorted({o.endpoint_key for o in items})
                marks = ",".join("?" * len(endpoints))
                waits = dict(self._conn.execute(
                    f"SELECT endpoint, max(next_at) FROM pending WHERE endpoint IN ({marks}) "
                    "GROUP BY endpoint", endpoints).fetchall())
                rows = [
                    (o.tenant, o.subscription_id, o.uri, o.endpoint_key,
                     orjson.dumps(o.headers), o.payload, orjson.dumps(o.notifier_info),
                     o.timeout, o.entities,
                     max(now_ts, waits.get(o.endpoint_key, now_ts),
                         self._slot(o, now_ts) if o.digest_s > 0 else now_ts), o.kind)
                    for o in items
                ]
                self._conn.executemany(
                    "INSERT INTO pending (tenant, sub_id, uri, endpoint, headers, payload, "
                    "notifier_info, timeout, entities, next_at, kind) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _slot(self, o: Outgoing, now_ts: float) -> float:
        """A digest's next slot for ``o``'s recipient, recorded (in the caller's
        transaction): at once after a quiet window, else with the waiting digest."""
        row = self._conn.execute("SELECT last_slot FROM digest WHERE tenant = ? AND sub_id = ?",
                                 (o.tenant, o.subscription_id)).fetchone()
        slot = digest_slot(None if row is None else float(row[0]), now_ts, o.digest_s)
        self._conn.execute(
            "INSERT INTO digest (tenant, sub_id, last_slot) VALUES (?, ?, ?) "
            "ON CONFLICT (tenant, sub_id) DO UPDATE SET last_slot = excluded.last_slot",
            (o.tenant, o.subscription_id, slot))
        return slot

    def due(self, now_ts: float, per_subscription: int,
            skip_subscriptions: Iterable[tuple[str, str]] = (),
            skip_endpoints: Iterable[str] = ()) -> list[list[Queued]]:
        """Per subscription whose time has come (oldest first), its first
        ``per_subscription`` notifications in queue order; except the
        subscriptions of ``skip_subscriptions`` (one of theirs is in flight)
        and of ``skip_endpoints`` (busy). Two steps, so that no payload is read
        or sorted beyond those returned."""
        skipped, busy = set(skip_subscriptions), set(skip_endpoints)
        with self._lock:
            heads = self._conn.execute(
                "SELECT tenant, sub_id, endpoint, min(seq) AS first FROM pending "
                "WHERE next_at <= ? GROUP BY tenant, sub_id ORDER BY first", (now_ts,)).fetchall()
            keys = [(t, s) for t, s, e, _ in heads if (t, s) not in skipped and e not in busy]
            return self._heads(keys, now_ts, per_subscription)

    def due_for(self, subscriptions: Iterable[tuple[str, str]], now_ts: float,
                per_subscription: int, skip_endpoints: Iterable[str] = ()) -> list[list[Queued]]:
        """Like :meth:`due`, for the given subscriptions only (an index look-up each)."""
        busy = set(skip_endpoints)
        with self._lock:
            groups = self._heads(list(subscriptions), now_ts, per_subscription)
        return [g for g in groups if g[0].endpoint_key not in busy]

    def _heads(self, keys: list[tuple[str, str]], now_ts: float,
               per_subscription: int) -> list[list[Queued]]:
        out: list[list[Queued]] = []
        for tenant, sub_id in keys:
            rows = self._conn.execute(
                "SELECT seq, tenant, sub_id, uri, endpoint, headers, payload, notifier_info, "
                "timeout, attempts, kind FROM pending "
                "WHERE tenant = ? AND sub_id = ? AND next_at <= ? ORDER BY seq LIMIT ?",
                (tenant, sub_id, now_ts, per_subscription)).fetchall()
            if rows:
                out.append([
                    Queued(row[0], row[1], row[2], row[3], row[4], orjson.loads(row[5]),
                           row[6], tuple((str(k), str(v)) for k, v in orjson.loads(row[7])),
                           row[8], row[9], row[10])
                    for row in rows
                ])
        return out

    def next_due(self) -> float | None:
        with self._lock:
            row = self._conn.execute("SELECT min(next_at) FROM pending").fetchone()
        return None if row is None or row[0] is None else float(row[0])

    def settle(self, attempts: Sequence[Attempt]) -> None:
        """Record a round of attempts in one transaction: delivered (or given up)
        ones leave the queue, failed ones wait until ``retry_at``, and so does
        every other notification to the same endpoint (one probe per backoff
        instead of one timeout per queued notification)."""
        statements: list[tuple[str, Sequence[Any]]] = []
        many: list[tuple[str, list[tuple[Any, ...]]]] = []
        for a in attempts:
            statements.append((
                "INSERT INTO status (tenant, sub_id) VALUES (?, ?) "
                "ON CONFLICT (tenant, sub_id) DO NOTHING", (a.tenant, a.subscription_id)))
            if a.ok:
                statements.append((
                    "UPDATE status SET times_sent = times_sent + 1, last_notification = ?, "
                    "last_success = ? WHERE tenant = ? AND sub_id = ?",
                    (a.at, a.at, a.tenant, a.subscription_id)))
            else:
                statements.append((
                    "UPDATE status SET times_sent = times_sent + 1, "
                    "times_failed = times_failed + 1, last_notification = ?, "
                    "last_failure = ?, last_error = ? WHERE tenant = ? AND sub_id = ?",
                    (a.at, a.at, a.error[:500], a.tenant, a.subscription_id)))
            if a.retry_at is None:
                many.append(("DELETE FROM pending WHERE seq = ?", [(s,) for s in a.seqs]))
            else:
                many.append((
                    "UPDATE pending SET attempts = attempts + 1, next_at = ? WHERE seq = ?",
                    [(a.retry_at, s) for s in a.seqs]))
                statements.append((
                    "UPDATE pending SET next_at = ? WHERE endpoint = ? AND next_at < ?",
                    (a.retry_at, a.endpoint_key, a.retry_at)))
        if statements:
            self._transaction(statements, many, durable=False)

    def status(self, tenant: str, sub_id: str) -> Status:
        with self._lock:
            row = self._conn.execute(
                "SELECT times_sent, times_failed, last_notification, last_success, "
                "last_failure, last_error FROM status WHERE tenant = ? AND sub_id = ?",
                (tenant, sub_id)).fetchone()
        return Status(*row) if row else Status()

    def forget(self, tenant: str, sub_id: str) -> None:
        """A deleted subscription: drop its pending notifications and counters."""
        self._transaction([
            ("DELETE FROM pending WHERE tenant = ? AND sub_id = ?", (tenant, sub_id)),
            ("DELETE FROM status WHERE tenant = ? AND sub_id = ?", (tenant, sub_id)),
            ("DELETE FROM digest WHERE tenant = ? AND sub_id = ?", (tenant, sub_id)),
        ])

    def backlog(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT count(*) FROM pending").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._settler.close()
            self._conn.close()
