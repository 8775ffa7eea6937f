"""The HistoryStore seam: attribute history, as both backends keep it.

Recording is not part of this protocol: a backend records history inside
``Store.apply``, in the transaction of the entity write (one record per
attribute instance a write creates or changes; see ``history_rows``). What
this protocol adds is reading it back and the temporal API's own writes.

Records live first in an uncompressed *tail* (cheap to append); a background
job (:meth:`HistoryStore.compact`) moves those older than a window into
compressed per-attribute chunks. Reads merge both, so compaction never
changes an answer.

Every call carries the tenant, as in ``Store``; reading an unknown tenant
raises ``NonexistentTenant`` (the default tenant reads as empty).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from bocage.domain.entity import Entity, Instance
from bocage.domain.temporal import History, HistoryRange, Series
from bocage.history.frame import Frame
from bocage.history.retention import Policy
from bocage.history.rollup import DayTotals


@dataclass(frozen=True, slots=True)
class HistorySize:
    """What the history holds, for stats and benchmarks."""

    tail_records: int
    chunk_records: int
    chunks: int
    chunk_bytes: int


class HistoryStore(Protocol):
    def history(self, tenant: str, entity_id: str, window: HistoryRange) -> History:
        """The records of one entity that ``window`` selects (see
        ``bocage.domain.temporal.select``), whether the entity still exists or not."""
        ...

    def history_frames(
        self, tenant: str, entity_id: str, window: HistoryRange
    ) -> list[Frame]:
        """The same records as :meth:`history`, one columnar frame per attribute
        (``bocage.history.frame``): what the temporal API renders."""
        ...

    def history_columns(
        self, tenant: str, entity_id: str, window: HistoryRange
    ) -> list[Series]:
        """The (time, value) columns of the series ``window`` selects, whole
        (``last_n``/``limit`` ignored): what aggregation reads."""
        ...

    def rollups(
        self, tenant: str, entity_type: str, attr: str, scopes: Sequence[str] | None,
        start_ms: int, end_ms: int,
    ) -> list[tuple[str, int, DayTotals]]:
        """Territory rollup rows ``(scope, day, totals)`` of ``entity_type`` (IRI) ×
        ``attr`` (IRI) for the UTC days in ``[start_ms, end_ms)``, under ``scopes`` (each
        a scope with its subtree; None: every scope): what compaction counted."""
        ...

    def rollup_series(self, tenant: str,
                      scopes: Sequence[str] | None) -> list[tuple[str, str]]:
        """The (entity type IRI, attribute IRI) pairs with rollup rows under ``scopes``."""
        ...

    def gone_entity(self, tenant: str, entity_id: str) -> Entity | None:
        """What history knows of an entity that has history: ``id``, ``type`` and
        ``scope`` as they were when it was deleted (only ``id`` when it never
        existed as an entity); None without history."""
        ...

    def add_history(
        self, tenant: str, entity_id: str, instances: Sequence[tuple[str, Instance]]
    ) -> None:
        """Append (attribute IRI, stamped instance) records; durable on return."""
        ...

    def replace_instance(
        self, tenant: str, entity_id: str, attr: str, instance_id: str, new: Instance | None
    ) -> bool:
        """Replace the record ``instance_id`` of ``attr`` by ``new`` (a stamped
        instance), or delete it when ``new`` is None. False when not found."""
        ...

    def delete_history(self, tenant: str, entity_id: str, attr: str | None = None) -> int:
        """Forget an entity's history (or one attribute's); how many records went."""
        ...

    def compact(self, older_than_ms: int, max_records: int = 5000) -> int:
        """Move up to ``max_records`` tail records modified before
        ``older_than_ms`` into compressed chunks; how many moved (0: done)."""
        ...

    def history_size(self) -> HistorySize: ...

    # retention: the policies an operator set (the defaults live in
    # ``bocage.history.retention``), and one pass of the job that applies them
    def retention_policies(self) -> list[Policy]: ...

    def put_retention_policy(self, policy: Policy) -> None: ...

    def delete_retention_policy(
        self, entity_type: str | None, attribute: str | None, scope: str | None
    ) -> bool: ...

    def apply_retention(
        self, now_ms: int, policies: Sequence[Policy], step: int = 500
    ) -> tuple[int, int]:
        """Roll or drop what ``policies`` (resolved per series) say is past its
        tier, in short writer steps; (pieces rolled, pieces dropped)."""
        ...
