"""The one thread that writes to a SQLite database, with group commit.

SQLite allows one writer at a time, and ``synchronous=FULL`` costs an fsync
per COMMIT. So every write is a *job* queued to the single thread of a
:class:`~bocage.storage.group_commit.GroupWriter`, which runs each group of
waiting jobs in one transaction: N concurrent writers share one fsync.

Each job runs inside its own SAVEPOINT: a job that fails (a bug, a constraint)
is rolled back alone and its caller gets the exception; the others commit.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, Final, TypeVar

from bocage.storage.group_commit import MAX_GROUP_WEIGHT, GroupWriter, Item, reported, resolve

log = logging.getLogger(__name__)

T = TypeVar("T")
#: A job: runs in the writer thread inside a SAVEPOINT; may add deltas to the
#: counter, which the writer sums over the group and hands to ``flush``.
Job = Callable[[sqlite3.Connection, Counter[Any]], T]
Flush = Callable[[sqlite3.Connection, Counter[Any]], None]

__all__ = ["MAX_GROUP_WEIGHT", "Job", "Writer", "is_unavailable"]

#: Run ``PRAGMA optimize`` (refreshes planner statistics) after this many mutations.
OPTIMIZE_EVERY: Final = 50_000


class Writer(GroupWriter[sqlite3.Connection]):
    """Owns ``conn`` (an autocommit connection) from construction on."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        flush: Flush,
        group_commit_ms: float = 2.0,
        queue_size: int = 1024,
        on_rollback: Callable[[], None] = lambda: None,
        name: str = "bocage-sqlite-writer",
    ) -> None:
        self._conn = conn
        self._flush = flush
        self._on_rollback = on_rollback  # caches of ids created by rolled-back work
        self._since_optimize = 0
        #: PRAGMA data_version at our last transaction: it moves when another
        #: connection commits (our own commits leave it as it is)
        self._data_version: int | None = None
        super().__init__(group_commit_ms, queue_size, name)

    def _on_close(self) -> None:
        try:
            self._conn.execute("PRAGMA optimize")
        except sqlite3.Error:
            log.warning("PRAGMA optimize failed on close", exc_info=True)
        self._conn.close()

    def _unavailable(self, exc: BaseException) -> bool:
        return is_unavailable(exc)

    def _commit_group(self, group: list[Item[sqlite3.Connection]]) -> None:
        conn = self._conn
        done: list[tuple[Item[sqlite3.Connection], Any]] = []
        failed: list[tuple[Item[sqlite3.Connection], BaseException]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            # another process (the CLI on the same file) committed since our last
            # transaction: ids cached from the tables may be taken, read them again
            version = conn.execute("PRAGMA data_version").fetchone()[0]
            if version != self._data_version:
                if self._data_version is not None:
                    self._on_rollback()
                self._data_version = version
        except sqlite3.Error as exc:
            log.exception("cannot begin a write transaction")
            self._on_rollback()
            self._fail(group, exc)
            return
        try:
            totals: Counter[Any] = Counter()
            for item in group:
                delta: Counter[Any] = Counter()
                conn.execute("SAVEPOINT job")
                try:
                    result = item.job(conn, delta)
                except Exception as exc:
                    conn.execute("ROLLBACK TO job")
                    conn.execute("RELEASE job")
                    self._on_rollback()
                    failed.append((item, exc))
                    continue
                conn.execute("RELEASE job")
                totals.update(delta)  # update(), unlike +=, keeps negative counts
                done.append((item, result))
            self._flush(conn, totals)
            started = time.perf_counter()
            conn.execute("COMMIT")
            self._commit_took(time.perf_counter() - started)
        except Exception as exc:  # the whole group is lost: nobody may think it durable
            log.exception("write transaction failed; rolled back")
            self._on_rollback()
            if conn.in_transaction:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    log.exception("ROLLBACK failed")
            self._fail(group, exc)
            return
        resolve(done)
        for item, error in failed:
            self._fail([item], error)

    def _after_group(self, weight: int) -> None:
        self._since_optimize += weight
        if self._since_optimize < OPTIMIZE_EVERY:
            return
        self._since_optimize = 0
        try:
            # analysis_limit keeps ANALYZE to a sample: milliseconds, not seconds
            self._conn.execute("PRAGMA analysis_limit = 1000")
            self._conn.execute("PRAGMA optimize")
        except sqlite3.Error:
            log.warning("PRAGMA optimize failed", exc_info=True)


def _reported(exc: BaseException) -> BaseException:
    """What the caller of a failed job sees (``group_commit.reported``)."""
    return reported(exc, is_unavailable)


#: SQLite result codes that mean "cannot serve now" rather than "a bug".
_UNAVAILABLE: Final = frozenset(
    {
        "SQLITE_BUSY",
        "SQLITE_LOCKED",
        "SQLITE_FULL",
        "SQLITE_IOERR",
        "SQLITE_CANTOPEN",
        "SQLITE_READONLY",
        "SQLITE_NOMEM",
        "SQLITE_PROTOCOL",
    }
)


def is_unavailable(exc: BaseException) -> bool:
    """A database error a client should retry (503), as opposed to a bug (500)."""
    if not isinstance(exc, sqlite3.Error):
        return False
    name = getattr(exc, "sqlite_errorname", None) or ""
    return "_".join(name.split("_")[:2]) in _UNAVAILABLE  # SQLITE_IOERR_FSYNC -> SQLITE_IOERR
