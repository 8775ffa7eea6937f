"""WAL checkpoints beside the writer, not inside its commits (SQLite store).

By default the connection whose COMMIT makes the WAL pass 1000 pages copies
the WAL back into the database file and fsyncs it, there and then: the writer
thread, so every few hundred writes one group waited for a checkpoint (a third
of COMMIT's CPU in a bulk load, and an extra fsync on the write path). Here the
writer's connection has ``wal_autocheckpoint = 0`` and this thread, with its own
connection, runs ``PRAGMA wal_checkpoint(PASSIVE)`` once the writer committed
about as many writes as fill SQLite's 1000 pages, and at least every second
(other jobs write too): PASSIVE never waits for (nor blocks) the writer or the
readers; what it cannot copy yet is copied next time. Durability is the WAL's,
fsynced at every COMMIT as before.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from typing import Final

log = logging.getLogger(__name__)

#: Entity writes between two checkpoints: a few WAL pages each (entity, index
#: and history pages), so about SQLite's default of 1000 pages.
WRITES: Final = 256
#: Checkpoint at least this often, seconds (cheap when the WAL has nothing new).
PERIOD: Final = 1.0


class Checkpointer:
    """Checkpoints ``path`` (a WAL database) from a thread of its own."""

    def __init__(self, path: str, name: str = "bocage-sqlite-checkpoint") -> None:
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA synchronous = FULL")  # the database file's fsync
        self._conn.execute("PRAGMA busy_timeout = 5000")
        self._wake = threading.Event()
        self._stop = False
        self._writes = 0  # since the last checkpoint
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def wrote(self, writes: int) -> None:
        """The writer committed ``writes`` entity writes."""
        with self._lock:
            self._writes += writes
            due = self._writes >= WRITES
        if due:
            self._wake.set()

    def close(self) -> None:
        self._stop = True
        self._wake.set()
        self._thread.join()
        self._conn.close()

    def _run(self) -> None:
        while not self._stop:
            self._wake.wait(PERIOD)
            self._wake.clear()
            with self._lock:
                self._writes = 0
            if not self._stop:
                self.checkpoint()

    def checkpoint(self) -> None:
        try:
            self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except sqlite3.Error:  # the next round tries again; the WAL keeps the data
            log.warning("WAL checkpoint failed", exc_info=True)
