"""What both store writers share: one thread that runs queued write jobs in groups.

A *job* is a function of the writer's connection (and of a counter of
discovery deltas). Callers queue jobs; the thread takes every job already
waiting, waits a little for more (at most ``group_commit_ms``, see ``_run``),
and hands the group to the backend's ``_commit_group``, which runs it in one
transaction and resolves the futures only once COMMIT returned: a caller that
got its answer knows its write is durable, and N concurrent writers share one
flush to disk.

The queue is bounded: when it is full, :meth:`GroupWriter.enqueue` raises
:class:`ServiceUnavailable` at once (HTTP 503 + Retry-After) instead of
letting memory grow. How a transaction runs, fails and is retried is the
backend's (``sqlite_writer``, ``postgres_writer``).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass
from typing import Any, Final, Generic, TypeVar

from bocage.domain.errors import BocageError, ServiceUnavailable

log = logging.getLogger(__name__)

T = TypeVar("T")
C = TypeVar("C")  # the backend's connection

#: Stop adding jobs to a group past this many mutations (bounds transaction size).
MAX_GROUP_WEIGHT: Final = 10_000


@dataclass(slots=True)
class Item(Generic[C]):
    """A queued job, the future its caller waits on, and its weight (mutations)."""

    job: Callable[[C, Counter[Any]], Any]
    future: Future[Any]
    weight: int


_STOP: Final = object()


def reported(exc: BaseException, unavailable: Callable[[BaseException], bool]) -> BaseException:
    """What the caller of a failed job sees: domain errors as they are,
    database trouble (``unavailable``) as 503, anything else as a 500 (the
    cause kept)."""
    if isinstance(exc, BocageError):
        return exc
    if unavailable(exc):
        err: BocageError = ServiceUnavailable(f"database unavailable: {exc}")
    else:
        log.error("write job failed", exc_info=exc)
        err = BocageError(f"internal error during a write ({type(exc).__name__})")
    err.__cause__ = exc
    return err


class GroupWriter(ABC, Generic[C]):
    """The queue and the thread; a subclass commits groups (``_commit_group``).

    A subclass sets up what its ``_commit_group`` needs, then calls
    ``super().__init__``, which starts the thread.
    """

    def __init__(self, group_commit_ms: float, queue_size: int, name: str) -> None:
        self._max_wait = max(0.0, group_commit_ms) / 1000.0
        self._commit_cost = self._max_wait  # running estimate of one COMMIT, seconds
        self._last_group = 1  # jobs in the last group: >1 means concurrent writers
        self._queue: queue.Queue[Item[C] | object] = queue.Queue(maxsize=max(1, queue_size))
        self._lock = threading.Lock()  # orders enqueue() against close()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    # ---------------------------------------------------------------- callers

    def submit(self, job: Callable[[C, Counter[Any]], T], weight: int = 1) -> T:
        """Run ``job`` in the writer; return its result once committed."""
        return self.enqueue(job, weight).result()

    def enqueue(self, job: Callable[[C, Counter[Any]], T], weight: int = 1) -> Future[T]:
        """Queue ``job``; the future completes once it is committed."""
        if threading.current_thread() is self._thread:
            # a mutation that writes would wait for itself forever
            raise RuntimeError("a write job cannot submit another write job")
        future: Future[T] = Future()
        with self._lock:
            if self._closed:
                raise ServiceUnavailable("the store is closed")
            try:
                self._queue.put_nowait(Item(job, future, max(1, weight)))
            except queue.Full:
                raise ServiceUnavailable(
                    "too many writes waiting; retry shortly", retry_after=1
                ) from None
        return future

    def alive(self) -> bool:
        return self._thread.is_alive() and not self._closed

    def close(self) -> None:
        """Finish every queued job, stop the thread, then ``_on_close``."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(_STOP)  # blocks while full: the thread keeps draining
        self._thread.join()
        self._on_close()

    # --------------------------------------------------------------- backends

    @abstractmethod
    def _commit_group(self, group: list[Item[C]]) -> None:
        """Run the group in one transaction; resolve or fail every future."""

    def _on_close(self) -> None:
        """After the thread stopped: release the connection."""

    def _after_group(self, weight: int) -> None:
        """After each group, in the writer thread (housekeeping)."""

    def _unavailable(self, exc: BaseException) -> bool:
        """A database error a client should retry (503), not a bug (500)."""
        return False

    def _commit_took(self, seconds: float) -> None:
        self._commit_cost += (seconds - self._commit_cost) / 8  # moving average

    def _fail(self, group: list[Item[C]], exc: BaseException) -> None:
        error = reported(exc, self._unavailable)
        for item in group:
            with contextlib.suppress(InvalidStateError):
                item.future.set_exception(error)

    # ------------------------------------------------------------------ thread

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is _STOP:
                break
            assert isinstance(first, Item)
            group: list[Item[C]] = [first]
            weight = first.weight
            # Wait for company only when writes are concurrent (the last group
            # had several jobs): a lone writer should not pay for grouping. And
            # never longer than half a COMMIT (PostgreSQL's commit_delay advice):
            # jobs arriving during a commit form the next group anyway. So a
            # cheap flush is not delayed, and on an SD card the setting caps it.
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
                assert isinstance(nxt, Item)
                group.append(nxt)
                weight += nxt.weight
            self._last_group = len(group)
            try:
                self._commit_group(group)
            except BaseException as exc:  # never leave a caller waiting forever
                log.exception("the writer failed a group")
                self._fail(group, exc)
            self._after_group(weight)


def resolve(outcomes: list[tuple[Item[Any], Any]]) -> None:
    """Hand each job's result to its caller."""
    for item, result in outcomes:
        # a caller may cancel its future at any moment (client gone): never let
        # that raise in the writer thread, which would stop every later write
        with contextlib.suppress(InvalidStateError):
            item.future.set_result(result)
