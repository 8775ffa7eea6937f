"""The one thread that writes to PostgreSQL, with group commit and reconnection.

Why one writer thread per process rather than a pool of writers: every create
of a type bumps the same discovery counter rows, so concurrent write
transactions would queue on those row locks anyway; one thread that runs all
waiting jobs in one transaction pays one WAL flush for many writes (what
group commit is for) and keeps mutations of one process trivially ordered.
Other bocage processes writing the same database stay correct through row
locks (``FOR UPDATE``), unique constraints and the retries below.

Accepted means durable: a job's future resolves only after COMMIT returned.
No savepoints (two round trips per job): a job that fails (a bug, a
constraint) aborts the transaction, and the group runs again without it —
mutations are pure functions of the stored state, so running one again is
safe. A lost connection is retried on a new one for ``retry_seconds``; if the
connection dies *during* COMMIT, ``txid_status`` tells whether the
transaction committed before anything is run again, so an acknowledged write
is never lost and a committed one never applied twice. Past the retry window
the group fails with :class:`ServiceUnavailable` (503): nothing acknowledged.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, Final, TypeVar

import psycopg
from psycopg import errors

from bocage.domain.errors import ServiceUnavailable
from bocage.storage.group_commit import GroupWriter, Item, resolve

log = logging.getLogger(__name__)

T = TypeVar("T")
Conn = psycopg.Connection[Any]
Job = Callable[[Conn, Counter[Any]], T]
Flush = Callable[[Conn, Counter[Any]], None]

#: SQLSTATEs worth running a whole group again for: a concurrent bocage
#: process won a race (serialisation, deadlock, a unique key created meanwhile).
_TRANSIENT: Final = frozenset({"40001", "40P01", "23505"})
_MAX_TRANSIENT_RETRIES: Final = 3


_Item = Item[Conn]


class _ConnectionLost(Exception):
    """The connection broke; ``in_commit`` when it may have committed."""

    def __init__(
        self,
        cause: BaseException,
        in_commit: bool,
        xid: int | None = None,
        outcomes: list[tuple[_Item, Any]] | None = None,
    ) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.in_commit = in_commit
        self.xid = xid
        self.outcomes = outcomes or []  # what the jobs returned, if it did commit


class _JobFailed(Exception):
    def __init__(self, item: _Item, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.item = item
        self.cause = cause


def is_connection_error(exc: BaseException, conn: Conn | None = None) -> bool:
    """The connection (or the server) is gone, as opposed to a bad statement."""
    if conn is not None and (conn.broken or conn.closed):
        return True
    if isinstance(exc, errors.AdminShutdown | errors.CrashShutdown | errors.CannotConnectNow):
        return True
    if isinstance(exc, psycopg.OperationalError):
        state = getattr(exc, "sqlstate", None)
        return state is None or state.startswith("08") or state.startswith("57P")
    return isinstance(exc, psycopg.InterfaceError)


class Writer(GroupWriter[Conn]):
    """Owns the connections ``connect`` makes, from construction on."""

    def __init__(
        self,
        connect: Callable[[], Conn],
        flush: Flush,
        group_commit_ms: float = 2.0,
        queue_size: int = 1024,
        on_rollback: Callable[[], None] = lambda: None,
        retry_seconds: float = 10.0,
        name: str = "bocage-postgres-writer",
    ) -> None:
        self._connect = connect
        self._conn: Conn | None = connect()
        self._flush = flush
        self._on_rollback = on_rollback
        self._retry_seconds = retry_seconds
        super().__init__(group_commit_ms, queue_size, name)

    def _on_close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _unavailable(self, exc: BaseException) -> bool:
        return is_connection_error(exc)

    def _commit_group(self, group: list[_Item]) -> None:
        pending = list(group)
        started = time.monotonic()
        transient = 0
        delay = 0.05
        while pending:
            try:
                outcomes = self._transaction(pending)
            except _JobFailed as failed:
                self._on_rollback()
                state = getattr(failed.cause, "sqlstate", None)
                if state in _TRANSIENT and transient < _MAX_TRANSIENT_RETRIES:
                    transient += 1
                    continue
                self._fail([failed.item], failed.cause)
                pending.remove(failed.item)
                continue
            except _ConnectionLost as lost:
                self._on_rollback()
                committed = self._committed_after_loss(lost, started)
                if committed:
                    log.warning("connection lost during COMMIT, which went through")
                    resolve(lost.outcomes)
                    return
                if committed is None or time.monotonic() - started > self._retry_seconds:
                    log.error("database unavailable; failing %d writes", len(pending))
                    self._fail(pending, ServiceUnavailable(f"database unavailable: {lost}"))
                    return
                log.warning("database connection lost (%s); retrying", lost)
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
                continue
            resolve(outcomes)
            return

    def _connection(self) -> Conn:
        conn = self._conn
        if conn is not None and not conn.closed and not conn.broken:
            return conn
        if conn is not None:
            conn.close()
            self._conn = None
        try:
            self._conn = self._connect()
        except psycopg.Error as exc:
            raise _ConnectionLost(exc, in_commit=False) from exc
        return self._conn

    def _transaction(self, pending: list[_Item]) -> list[tuple[_Item, Any]]:
        """Run every job in one transaction and commit; results once committed."""
        conn = self._connection()
        outcomes: list[tuple[_Item, Any]] = []
        xid: int | None = None
        try:
            row = conn.execute("SELECT txid_current()").fetchone()
            xid = int(row[0]) if row else None
            totals: Counter[Any] = Counter()
            for item in pending:
                delta: Counter[Any] = Counter()
                try:
                    result = item.job(conn, delta)
                except Exception as exc:
                    if is_connection_error(exc, conn):
                        raise
                    _rollback(conn)
                    raise _JobFailed(item, exc) from exc
                totals.update(delta)  # update(), unlike +=, keeps negative counts
                outcomes.append((item, result))
            self._flush(conn, totals)
        except _JobFailed:
            raise
        except Exception as exc:
            if is_connection_error(exc, conn):
                raise _ConnectionLost(exc, in_commit=False) from exc
            _rollback(conn)
            raise _JobFailed(pending[0], exc) from exc  # a flush bug: blame the first
        began = time.perf_counter()
        try:
            conn.commit()
        except Exception as exc:
            if not is_connection_error(exc, conn):
                _rollback(conn)
                raise _JobFailed(pending[0], exc) from exc
            raise _ConnectionLost(exc, in_commit=True, xid=xid, outcomes=outcomes) from exc
        self._commit_took(time.perf_counter() - began)
        return outcomes

    def _committed_after_loss(self, lost: _ConnectionLost, started: float) -> bool | None:
        """After a lost connection: True if the transaction committed, False if
        it did not (safe to run again), None if that cannot be known in time."""
        if not lost.in_commit:
            return False
        xid = lost.xid
        delay = 0.05
        while time.monotonic() - started <= self._retry_seconds + 5.0:
            try:
                conn = self._connection()
                row = conn.execute("SELECT txid_status(%s)", (xid,)).fetchone()
                conn.rollback()
            except (_ConnectionLost, psycopg.Error):
                row = ("unreachable",)
            status = row[0] if row else None
            if status == "committed":
                return True
            if status in ("aborted", None):
                return False
            time.sleep(delay)  # in progress (the old backend is finishing) or unreachable
            delay = min(delay * 2, 1.0)
        return None


def _rollback(conn: Conn) -> None:
    try:
        conn.rollback()
    except psycopg.Error:
        log.warning("ROLLBACK failed", exc_info=True)
