"""The durable inbox seam: accepted means committed; the pipeline drains it in order.

::

    connector --accept(records)--> Inbox --pending()--> pipeline --mark_processed()-->
                 (future done once          (after the processed     (moves the marker,
                  committed; duplicates      marker, in order)        stores dead letters)
                  by dedup key stored once)

Records stay after processing (that is what makes a late duplicate a duplicate);
dead letters live beside them, with their reason, until replayed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Protocol

from bocage.ingest.deadletters import DeadLetter, DeadLetterQuery, NewDeadLetter
from bocage.ingest.record import Uplink


@dataclass(frozen=True, slots=True)
class Accepted:
    """What one ``accept`` call stored."""

    stored: int
    duplicates: int


class Inbox(Protocol):
    def accept(self, records: Sequence[Uplink]) -> Future[Accepted]:
        """Store records; the future completes once they are committed.

        Raises ServiceUnavailable at once when the backlog is full (back-pressure).
        """
        ...

    def accept_soon(self, records: Sequence[Uplink]) -> asyncio.Future[Accepted]:
        """``accept`` from an event loop: an asyncio future of the running loop."""
        ...

    def pending(self, limit: int) -> list[tuple[int, Uplink]]:
        """Up to ``limit`` (sequence number, record) after the processed marker, in order."""
        ...

    def mark_processed(self, upto: int, dead: Sequence[NewDeadLetter]) -> Future[None]:
        """Move the processed marker to ``upto`` and store dead letters, atomically."""
        ...

    def backlog(self) -> int:
        """Records accepted and not yet processed."""
        ...

    def wait_for_records(self, timeout: float) -> bool:
        """Block until records may be pending (or timeout); True when woken."""
        ...

    def device_records(self, dev_eui: str, limit: int,
                       before: int | None = None) -> list[tuple[int, Uplink, bool]]:
        """A device's records, newest first: (seq, record, processed), seq < ``before``."""
        ...

    def prune(self, older_than: str) -> int:
        """Delete processed records accepted before ``older_than``; returns how many."""
        ...

    def dead_letters(self, query: DeadLetterQuery) -> list[DeadLetter]: ...

    def daily_counts(self, since: str) -> list[tuple[str, int, int]]:
        """(day, messages stored, duplicates dropped) per UTC day from ``since``
        (YYYY-MM-DD), oldest first; kept after the records are pruned."""
        ...

    def size_on_disk(self) -> int: ...

    def count_dead_letters(self, query: DeadLetterQuery) -> int:
        """How many letters ``query`` selects (its limit and offset ignored)."""
        ...

    def dead_letter(self, letter_id: int) -> DeadLetter | None: ...

    def settle_dead_letter(self, letter_id: int, failure: NewDeadLetter | None,
                           at: str) -> Future[None]:
        """After a replay: resolved (failure None) or still failing with a new reason."""
        ...

    def close(self) -> None: ...
