"""What a store holds and what it costs on disk: the figures of the sobriety panel.

Each backend answers :meth:`StatsSource.storage_stats` from its own catalogue
(SQLite's ``dbstat``, PostgreSQL's ``pg_total_relation_size``), over every
tenant. Figures are platform-wide: they say what the platform keeps, never what
an entity holds.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class StorageStats:
    """Readings kept, by form, and their size.

    ``*_bytes`` are on disk, indexes included (what the history costs);
    ``*_payload_bytes`` are the stored values alone (what the encoding costs).
    """

    entities: int
    #: readings in the uncompressed tail (not compacted yet)
    tail_records: int
    tail_bytes: int
    tail_payload_bytes: int
    #: readings compacted into compressed per-attribute chunks
    chunk_records: int
    chunks: int
    chunk_bytes: int
    chunk_payload_bytes: int
    #: downsampling tiers: tier -> summary rows, and the readings they stand for
    summary_rows: dict[str, int] = field(default_factory=dict)
    summarized_records: dict[str, int] = field(default_factory=dict)
    summary_bytes: int = 0
    #: the whole database on disk (SQLite: the file and its WAL)
    database_bytes: int = 0

    @property
    def kept_rows(self) -> int:
        """Readings and summaries stored: what the readings collected became."""
        return self.tail_records + self.chunk_records + sum(self.summary_rows.values())

    @property
    def collected(self) -> int:
        """Readings the history still accounts for: raw, compacted, or inside a summary
        (readings a retention policy dropped outright are no longer counted)."""
        return self.tail_records + self.chunk_records + sum(self.summarized_records.values())

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "keptRows": self.kept_rows, "collected": self.collected}


@runtime_checkable
class StatsSource(Protocol):
    def storage_stats(self) -> StorageStats: ...


def stats_of(store: object) -> StorageStats | None:
    """The stats of a backend store (unwrapping the app's layers), None if it has none."""
    seen = 0
    while not isinstance(store, StatsSource) and seen < 5:
        inner = getattr(store, "raw", None) or getattr(store, "store", None) or getattr(
            store, "inner", None)
        if inner is None:
            return None
        store, seen = inner, seen + 1
    return store.storage_stats() if isinstance(store, StatsSource) else None
