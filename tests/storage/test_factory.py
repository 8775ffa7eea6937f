"""open_store: from a database_url to a Store."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bocage.storage.factory import mask_password, open_store
from bocage.storage.sqlite import SQLiteStore


def test_an_absolute_sqlite_url_creates_the_parent_directory(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "er" / "bocage.db"
    store = open_store(f"sqlite:///{target}", 1.0)  # an absolute path makes four slashes
    try:
        assert isinstance(store, SQLiteStore)
        assert store.path == str(target)
        assert target.exists()
    finally:
        store.close()


def test_a_relative_sqlite_url_is_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = open_store("sqlite:///./data/b.db", 2.0)
    try:
        assert isinstance(store, SQLiteStore)
        assert store.path == os.path.join(str(tmp_path), "data", "b.db")
    finally:
        store.close()


@pytest.mark.parametrize("url", ["sqlite:///:memory:", "sqlite://", "sqlite:///"])
def test_in_memory_sqlite_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="sqlite"):
        open_store(url, 2.0)


def test_an_unreachable_postgresql_is_named_and_the_password_stays_secret() -> None:
    # an OSError: ``bocage serve`` prints it and exits 2 (no traceback)
    with pytest.raises(OSError, match=r"postgresql://bocage:\*\*\*@db:5432/bocage") as info:
        open_store("postgresql://bocage:s3cret@db:5432/bocage", 2.0)
    assert "s3cret" not in str(info.value)


def test_an_unknown_scheme_is_named_without_its_password() -> None:
    with pytest.raises(ValueError, match=r"mysql://root:\*\*\*@host/db") as info:
        open_store("mysql://root:hunter2@host/db", 2.0)
    assert "hunter2" not in str(info.value)


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql://u:p@h/db", "postgresql://u:***@h/db"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
        ("postgresql://h:5432/db", "postgresql://h:5432/db"),
        ("sqlite:///a.db", "sqlite:///a.db"),
    ],
)
def test_mask_password(url: str, masked: str) -> None:
    assert mask_password(url) == masked
