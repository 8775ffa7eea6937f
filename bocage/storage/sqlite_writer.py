"""The one thread that writes to a SQLite database, with group commit.

SQLite allows one writer at a time, and ``synchronous=FULL`` costs an fsync
per COMMIT. So every write is a *job* (a function of the connection) queued to
a single thread, which takes every job already waiting, waits a little for
more (at most ``group_commit_ms``, see ``_run``), runs them in one transaction
and resolves their futures only after COMMIT returned: a caller that got its
answer knows its write is durable, and N concurrent writers share one fsync.

Each job runs inside its own SAVEPOINT: a job that fails (a bug, a constraint)
is rolled back alone and its caller gets the exception; the others commit.
The queue is bounded: when it is full, :meth:`Writer.submit` raises
:class:`ServiceUnavailable` at once (HTTP 503 + Retry-After) instead of
letting memory grow.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from bocage.domain.errors import BocageError, ServiceUnavailable

log = logging.getLogger(__name__)

T = TypeVar("T")
#: A job: runs in the writer thread inside a SAVEPOINT; may add deltas to the
#: counter, which the writer sums over the group and hands to ``flush``.
Job = Callable[[sqlite3.Connection, Counter[Any]], T]
Flush = Callable[[sqlite3.Connection, Counter[Any]], None]

#: Stop adding jobs to a group past this many mutations (bounds transaction size).
MAX_GROUP_WEIGHT: Final = 10_000
#: Run ``PRAGMA optimize`` (refreshes planner statistics) after this many mutations.
OPTIMIZE_EVERY: Final = 50_000


@dataclass(slots=True)
class _Item:
    job: Job[Any]
    future: Future[Any]
    weight: int


_STOP: Final = object()


class Writer:
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
        self._max_wait = max(0.0, group_commit_ms) / 1000.0
        self._commit_cost = self._max_wait  # running estimate of one COMMIT, seconds
        self._last_group = 1  # jobs in the last group: >1 means concurrent writers
        self._queue: queue.Queue[_Item | object] = queue.Queue(maxsize=max(1, queue_size))
        self._lock = threading.Lock()  # orders submit() against close()
        self._closed = False
        self._since_optimize = 0
        #: PRAGMA data_version at our last transaction: it moves when another
        #: connection commits (our own commits leave it as it is)
        self._data_version: int | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    # ---------------------------------------------------------------- callers

    def submit(self, job: Job[T], weight: int = 1) -> T:
        """Run ``job`` in the writer; return its result once committed."""
        return self.enqueue(job, weight).result()

    def enqueue(self, job: Job[T], weight: int = 1) -> Future[T]:
        """Queue ``job``; the future completes once it is committed."""
        if threading.current_thread() is self._thread:
            # a mutation that writes would wait for itself forever
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
            self._queue.put(_STOP)  # blocks while full: the thread keeps draining
        self._thread.join()
        try:
            self._conn.execute("PRAGMA optimize")
        except sqlite3.Error:
            log.warning("PRAGMA optimize failed on close", exc_info=True)
        self._conn.close()

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
            # Wait for company only when writes are concurrent (the last group
            # had several jobs): a lone writer should not pay for grouping. And
            # never longer than half a COMMIT (PostgreSQL's commit_delay advice):
            # jobs arriving during a commit form the next group anyway. So a
            # cheap fsync is not delayed, and on an SD card the setting caps it.
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
            self._commit_group(group)
            self._maybe_optimize(weight)

    def _commit_group(self, group: list[_Item]) -> None:
        conn = self._conn
        outcomes: list[tuple[_Item, Any, BaseException | None]] = []
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
                    outcomes.append((item, None, exc))
                    continue
                conn.execute("RELEASE job")
                totals.update(delta)  # update(), unlike +=, keeps negative counts
                outcomes.append((item, result, None))
            self._flush(conn, totals)
            started = time.perf_counter()
            conn.execute("COMMIT")
            cost = time.perf_counter() - started
            self._commit_cost += (cost - self._commit_cost) / 8  # moving average
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
        for item, result, error in outcomes:
            # a caller may cancel its future at any moment (client gone): never let
            # that raise here, in the writer thread, which would stop every later write
            with contextlib.suppress(InvalidStateError):
                if error is None:
                    item.future.set_result(result)
                else:
                    item.future.set_exception(_reported(error))

    def _fail(self, group: list[_Item], exc: BaseException) -> None:
        for item in group:
            with contextlib.suppress(InvalidStateError):
                item.future.set_exception(_reported(exc))

    def _maybe_optimize(self, weight: int) -> None:
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
    """What the caller of a failed job sees: domain errors as they are,
    database trouble as 503, anything else as a 500 (the cause kept)."""
    if isinstance(exc, BocageError):
        return exc
    if is_unavailable(exc):
        err: BocageError = ServiceUnavailable(f"database unavailable: {exc}")
    else:
        log.error("write job failed", exc_info=exc)
        err = BocageError(f"internal error during a write ({type(exc).__name__})")
    err.__cause__ = exc
    return err


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
