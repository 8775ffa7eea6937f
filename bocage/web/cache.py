"""The territory's equipment summaries, kept between page views.

Reducing every entity of a territory to its summary costs about 100 µs per
entity (10,000 entities: a second), far too much for each page view. The
summaries of each tenant are kept and served for ``ttl`` seconds; past that,
the next view gets the copy it has while one background thread refreshes it
(stale-while-revalidate, one refresh at a time per tenant). Nobody looking:
no work at all.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Entry(Generic[T]):
    items: T
    loaded_at: float
    refreshing: bool = False


class SummaryCache(Generic[T]):
    """Whatever ``loader`` makes of a key (the equipment summaries of a view, figures
    read from history...), kept and refreshed as described above."""

    def __init__(self, loader: Callable[[str], T], ttl: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._load = loader
        self._ttl = ttl
        self._clock = clock
        self._entries: dict[str, _Entry[T]] = {}
        self._lock = threading.Lock()

    def get(self, tenant: str) -> T:
        """The summaries of ``tenant``: loaded now the first time, then at most
        ``ttl`` seconds old, plus the time of one refresh. ``ttl`` 0: always fresh."""
        if self._ttl <= 0:
            return self._load(tenant)
        with self._lock:
            entry = self._entries.get(tenant)
            if entry is not None:
                if self._clock() - entry.loaded_at > self._ttl and not entry.refreshing:
                    entry.refreshing = True
                    threading.Thread(target=self._refresh, args=(tenant,), daemon=True,
                                     name="ui-summaries").start()
                return entry.items
        items = self._load(tenant)
        with self._lock:
            self._entries.setdefault(tenant, _Entry(items, self._clock()))
        return items

    def invalidate(self) -> None:
        """Forget everything (e.g. after a write made through the UI itself)."""
        with self._lock:
            self._entries.clear()

    def _refresh(self, tenant: str) -> None:
        try:
            items = self._load(tenant)
        except Exception:  # keep serving the copy we have; try again at the next view
            log.exception("refreshing the UI's equipment summaries of tenant %r failed", tenant)
            with self._lock:
                entry = self._entries.get(tenant)
                if entry is not None:
                    entry.refreshing = False
            return
        with self._lock:
            self._entries[tenant] = _Entry(items, self._clock())
