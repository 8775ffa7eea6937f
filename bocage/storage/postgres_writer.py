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

import contextlib
import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import psycopg
from psycopg import errors

from bocage.domain.errors import BocageError, ServiceUnavailable

log = logging.getLogger(__name__)

T = TypeVar("T")
Conn = psycopg.Connection[Any]
Job = Callable[[Conn, Counter[Any]], T]
Flush = Callable[[Conn, Counter[Any]], None]

#: Stop adding jobs to a group past this many mutations (bounds transaction size).
MAX_GROUP_WEIGHT: Final = 10_000
#: SQLSTATEs worth running a whole group again for: a concurrent bocage
#: process won a race (serialisation, deadlock, a unique key created meanwhile).
_TRANSIENT: Final = frozenset({"40001", "40P01", "23505"})
_MAX_TRANSIENT_RETRIES: Final = 3


@dataclass(slots=True)
class _Item:
    job: Job[Any]
    future: Future[Any]
    weight: int


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


_STOP: Final = object()


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


class Writer:
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
        self._max_wait = max(0.0, group_commit_ms) / 1000.0
        self._commit_cost = self._max_wait
        self._last_group = 1
        self._queue: queue.Queue[_Item | object] = queue.Queue(maxsize=max(1, queue_size))
        self._lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    # ---------------------------------------------------------------- callers

    def submit(self, job: Job[T], weight: int = 1) -> T:
        return self.enqueue(job, weight).result()

    def enqueue(self, job: Job[T], weight: int = 1) -> Future[T]:
        """Queue ``job``; the future completes once it is committed."""
        if threading.current_thread() is self._thread:
            raise RuntimeError("a write job cannot submit another write job")
        future: Future[T] = Future()
        with self._lock:
            if self._closed:
                raise ServiceUnavailable("the store is closed")
            try:
                self._queue.put_nowait(_Item(job, future, max(1, weight)))
            except queue.Full:
                raise ServiceUnavailable(
                    "too many writes waiting; retry shortly", retry_after=1
                ) from None
        return future

    def alive(self) -> bool:
        return self._thread.is_alive() and not self._closed

    def close(self) -> None:
        """Finish every queued job, then stop the thread and close the connection."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(_STOP)
        self._thread.join()
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # ------------------------------------------------------------------ thread

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is _STOP:
                break
            assert isinstance(first, _Item)
            group = [first]
            weight = first.weight
            # As in sqlite_writer: wait for company only when writes are
            # concurrent, and never longer than half a COMMIT.
            wait = min(self._max_wait, self._commit_cost / 2) if self._last_group > 1 else 0.0
            deadline = time.monotonic() + wait
            while weight < MAX_GROUP_WEIGHT:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    try:
                        nxt = self._queue.get(timeout=remaining)
                    except queue.Empty:
                        break
                if nxt is _STOP:
                    stopping = True
                    break
                assert isinstance(nxt, _Item)
                group.append(nxt)
                weight += nxt.weight
            self._last_group = len(group)
            try:
                self._commit_group(group)
            except BaseException as exc:  # never leave a caller waiting forever
                log.exception("the writer failed a group")
                _fail(group, exc)

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
                _fail([failed.item], failed.cause)
                pending.remove(failed.item)
                continue
            except _ConnectionLost as lost:
                self._on_rollback()
                committed = self._committed_after_loss(lost, started)
                if committed:
                    log.warning("connection lost during COMMIT, which went through")
                    _resolve(lost.outcomes)
                    return
                if committed is None or time.monotonic() - started > self._retry_seconds:
                    log.error("database unavailable; failing %d writes", len(pending))
                    _fail(pending, ServiceUnavailable(f"database unavailable: {lost}"))
                    return
                log.warning("database connection lost (%s); retrying", lost)
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
                continue
            _resolve(outcomes)
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
        self._commit_cost += (time.perf_counter() - began - self._commit_cost) / 8
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


def _resolve(outcomes: list[tuple[_Item, Any]]) -> None:
    for item, result in outcomes:
        # a caller may cancel its future at any moment (client gone): never let
        # that raise in the writer thread, which would stop every later write
        with contextlib.suppress(InvalidStateError):
            item.future.set_result(result)


def _fail(group: list[_Item], exc: BaseException) -> None:
    for item in group:
        with contextlib.suppress(InvalidStateError):
            item.future.set_exception(_reported(exc))


def _reported(exc: BaseException) -> BaseException:
    """What the caller of a failed job sees: domain errors as they are,
    database trouble as 503, anything else as a 500 (the cause kept)."""
    if isinstance(exc, BocageError):
        return exc
    if is_connection_error(exc):
        err: BocageError = ServiceUnavailable(f"database unavailable: {exc}")
    else:
        log.error("write job failed", exc_info=exc)
        err = BocageError(f"internal error during a write ({type(exc).__name__})")
    err.__cause__ = exc
    return err
