"""The three shapes a backend reads history in, from the rows it stored.

A backend implements ``_history_rows`` (its chunk and tail rows of one entity
that may hold records of a window, or None for an unknown tenant); records,
frames and columns are then decoded the same way for both.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from bocage.domain.temporal import History, HistoryRange, Series
from bocage.history.frame import Frame
from bocage.storage.history_chunks import columns_of, records_of
from bocage.storage.history_frames import frames_of
from bocage.storage.history_rows import StoredRows


class HistoryViews(ABC):
    @abstractmethod
    def _history_rows(
        self, tenant: str, entity_id: str, window: HistoryRange
    ) -> StoredRows | None:
        """The stored rows of ``entity_id`` that may hold records of ``window``."""

    def history(self, tenant: str, entity_id: str, window: HistoryRange) -> History:
        rows = self._history_rows(tenant, entity_id, window)
        return {} if rows is None else records_of(rows, window)

    def history_frames(self, tenant: str, entity_id: str, window: HistoryRange) -> list[Frame]:
        rows = self._history_rows(tenant, entity_id, window)
        return [] if rows is None else frames_of(rows, window)

    def history_columns(self, tenant: str, entity_id: str, window: HistoryRange) -> list[Series]:
        rows = self._history_rows(tenant, entity_id, window)
        return [] if rows is None else columns_of(rows, window)
