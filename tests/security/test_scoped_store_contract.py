"""ScopedStore is a Store: the whole Store contract runs on it for an all-seeing
principal (SQLite; the PostgreSQL contract runs on the backend itself), and, for a
principal granted the root of every scope the contract uses, nothing changes either."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from contract import OpenStore, StoreContract

from bocage.domain.access import SYSTEM
from bocage.security.scoped_store import ScopedStore
from bocage.storage.base import Store
from bocage.storage.sqlite import SQLiteStore


class TestScopedStoreAllSeeing(StoreContract):
    @pytest.fixture
    def open_store(self, tmp_path: Path) -> OpenStore:
        def open_(**options: Any) -> Store:
            return ScopedStore(SQLiteStore(tmp_path / "store.db", **options), SYSTEM)

        return open_
