"""Entity writes that wait together are applied together (SQLite store).

Sixteen clients creating one entity each used to be sixteen writer jobs: each
its own SAVEPOINT, SELECT and dozen ``executemany`` calls (most of a small
write's cost in the writer). Here a write joins the *drain* still waiting in the
writer's queue, if there is one: when the drain's turn comes, it applies every
write that joined it with one ``apply_mutations`` pass per tenant (one SELECT,
one executemany per statement), and each caller's future completes, as before,
only once the transaction is committed.

Each write still succeeds or fails alone: when the shared pass raises (a SQL
error, a bug), it is rolled back and every write is applied again on its own,
in its own SAVEPOINT, so only the faulty one fails. Mutation functions may then
run twice; they are pure (their wrappers record what they saw, idempotently).

Order: writes are applied in the order they were submitted (within a tenant;
tenants share no data). Back-pressure is unchanged: at most ``limit`` writes
wait (not yet started), beyond that :meth:`Coalescer.submit` raises
ServiceUnavailable at once. A write submitted from inside a write job raises
RuntimeError, as with the writer, instead of waiting for itself.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Final

from bocage.domain.errors import ServiceUnavailable
from bocage.storage.base import Mutation, MutationResult
from bocage.storage.sqlite_writer import MAX_GROUP_WEIGHT, Writer, _reported

#: (tenant, mutations) -> their results, inside the writer's transaction
Apply = Callable[[sqlite3.Connection, str, list[Mutation], Counter[Any]], list[MutationResult]]
Results = Future[list[MutationResult]]

#: Stop adding writes to a drain past this many mutations (bounds a transaction).
MAX_DRAIN: Final = MAX_GROUP_WEIGHT


class _Drain:
    """Writes waiting for one writer job."""

    __slots__ = ("ran", "started", "weight", "writes")

    def __init__(self) -> None:
        self.writes: list[tuple[str, list[Mutation], Results]] = []
        self.weight = 0
        self.started = False
        #: the writes the job applied: those whose caller had not cancelled
        self.ran: list[tuple[str, list[Mutation], Results]] | None = None


class Coalescer:
    """Queues entity writes on ``writer`` as drains (see the module docstring)."""

    def __init__(self, writer: Writer, apply: Apply, forget: Callable[[], None],
                 limit: int, committed: Callable[[int], None] = lambda n: None) -> None:
        self._writer = writer
        self._committed = committed  # called with the mutations of each committed drain
        self._apply = apply
        self._forget = forget  # ids cached by work that was rolled back
        self._limit = max(1, limit)
        self._lock = threading.Lock()
        self._open: _Drain | None = None
        self._waiting = 0  # writes in drains not started yet

    def submit(self, tenant: str, batch: list[Mutation]) -> Results:
        if threading.current_thread() is self._writer._thread:
            raise RuntimeError("a write job cannot submit another write job")
        future: Results = Future()
        new: _Drain | None = None
        with self._lock:
            if self._waiting >= self._limit:
                raise ServiceUnavailable("too many writes waiting; retry shortly",
                                         retry_after=1)
            drain = self._open
            if drain is None or drain.started or drain.weight + len(batch) > MAX_DRAIN:
                drain = new = _Drain()
                # raises ServiceUnavailable when the queue is full or the store closed
                done = self._writer.enqueue(
                    lambda conn, stats: self._run(new, conn, stats), weight=len(batch)
                )
                self._open = drain
            drain.writes.append((tenant, batch, future))
            drain.weight += len(batch)
            self._waiting += 1
        if new is not None:
            # outside the lock: a future failed already runs the callback right here
            done.add_done_callback(lambda d: self._settle(new, d))
        return future

    # ------------------------------------------------------------ writer thread

    def _run(self, drain: _Drain | None, conn: sqlite3.Connection,
             stats: Counter[Any]) -> list[list[MutationResult] | BaseException]:
        assert drain is not None
        with self._lock:
            drain.started = True
            self._waiting -= len(drain.writes)
        # a write whose caller gave up before its turn is not applied at all, and
        # one that runs can no longer be cancelled (its result will be set)
        writes = drain.ran = [w for w in drain.writes if w[2].set_running_or_notify_cancel()]
        if not writes:
            return []
        if len(writes) == 1:
            tenant, batch, _ = writes[0]
            return [self._apply(conn, tenant, batch, stats)]
        conn.execute("SAVEPOINT drain")
        try:
            delta: Counter[Any] = Counter()
            out = self._together(conn, writes, delta)
        except Exception:
            conn.execute("ROLLBACK TO drain")
            conn.execute("RELEASE drain")
            self._forget()
            return self._one_by_one(conn, writes, stats)
        conn.execute("RELEASE drain")
        stats.update(delta)
        return out

    def _together(self, conn: sqlite3.Connection,
                  writes: list[tuple[str, list[Mutation], Results]],
                  stats: Counter[Any]) -> list[list[MutationResult] | BaseException]:
        by_tenant: dict[str, list[int]] = {}
        for i, (tenant, _, _) in enumerate(writes):
            by_tenant.setdefault(tenant, []).append(i)
        out: list[list[MutationResult] | BaseException] = [[] for _ in writes]
        for tenant, indexes in by_tenant.items():
            every = [m for i in indexes for m in writes[i][1]]
            results = self._apply(conn, tenant, every, stats)
            start = 0
            for i in indexes:
                end = start + len(writes[i][1])
                out[i] = results[start:end]
                start = end
        return out

    def _one_by_one(self, conn: sqlite3.Connection,
                    writes: list[tuple[str, list[Mutation], Results]],
                    stats: Counter[Any]) -> list[list[MutationResult] | BaseException]:
        out: list[list[MutationResult] | BaseException] = []
        for tenant, batch, _ in writes:
            delta: Counter[Any] = Counter()
            conn.execute("SAVEPOINT one")
            try:
                out.append(self._apply(conn, tenant, batch, delta))
            except Exception as exc:
                conn.execute("ROLLBACK TO one")
                conn.execute("RELEASE one")
                self._forget()
                out.append(exc)
                continue
            conn.execute("RELEASE one")
            stats.update(delta)
        return out

    def _settle(self, drain: _Drain | None,
                done: Future[list[list[MutationResult] | BaseException]]) -> None:
        """Complete each write's future once the drain's transaction has committed
        (or failed: then every write of it failed, even if the job never ran)."""
        assert drain is not None
        with self._lock:
            if not drain.started:  # failed before running: closed to latecomers now
                drain.started = True
                self._waiting -= len(drain.writes)
        exc = done.exception()
        if exc is not None:
            for _, _, future in drain.writes:
                if future.running() or future.set_running_or_notify_cancel():
                    future.set_exception(exc)
            return
        writes = drain.ran or []
        self._committed(sum(len(batch) for _, batch, _ in writes))
        for (_, _, future), outcome in zip(writes, done.result(), strict=True):
            if isinstance(outcome, BaseException):
                future.set_exception(_reported(outcome))
            else:
                future.set_result(outcome)
