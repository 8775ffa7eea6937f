"""The background job that compacts history and applies retention policies.

One daemon thread per serving process: every ``every`` seconds it moves tail
records older than the window into compressed chunks, in steps of ``step``
records, and every ``retention_every`` seconds it applies the retention
policies in force (defaults + operator's, see ``retention_admin``). Each step
is one short job of the store's single writer, so entity writes queued
meanwhile run between two steps: ingest never waits for a whole pass.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from bocage.storage.history_base import HistoryStore

log = logging.getLogger(__name__)


class Compactor:
    def __init__(
        self,
        store: HistoryStore,
        after_ms: int,
        every: float,
        step: int = 2000,
        clock: Callable[[], float] = time.time,
        retention_every: float = 3600.0,
    ) -> None:
        self._retention_every = retention_every
        self._last_retention = 0.0
        self._store = store
        self._after_ms = after_ms
        self._every = every
        self._step = step
        self._clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> int:
        """Compact everything old enough now; how many records moved."""
        cutoff = int(self._clock() * 1000) - self._after_ms
        moved = 0
        while not self._stop.is_set():
            n = self._store.compact(cutoff, self._step)
            moved += n
            if n == 0:  # a step may stop short at a period's end: only 0 says done
                break
        return moved

    def start(self) -> None:
        if self._every <= 0 or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name="bocage-history", daemon=True)
        self._thread.start()

    def apply_retention(self) -> tuple[int, int]:
        from bocage.storage.retention_admin import in_force

        now_ms = int(self._clock() * 1000)
        return self._store.apply_retention(now_ms, in_force(self._store))

    def _loop(self) -> None:
        while not self._stop.wait(self._every):
            try:
                moved = self.run_once()
                if moved:
                    log.info("history compacted", extra={"records": moved})
                now = self._clock()
                due = now - self._last_retention >= self._retention_every
                if self._retention_every > 0 and due:
                    self._last_retention = now
                    rolled, dropped = self.apply_retention()
                    if rolled or dropped:
                        log.info("retention applied",
                                 extra={"rolled": rolled, "dropped": dropped})
            except Exception:  # a failed run is retried at the next tick
                log.exception("history compaction or retention failed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
