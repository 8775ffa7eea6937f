"""Open the Store a ``database_url`` names.

* ``sqlite:///relative/path.db`` (relative to the working directory),
  ``sqlite:////absolute/path.db``; the parent directory is created.
* ``postgresql://user:password@host:5432/dbname`` (also ``postgres://``,
  ``postgresql+psycopg://``): PostgreSQL with PostGIS, see docs/postgresql.md.

``sqlite:///:memory:`` is refused: the store reads through separate
connections, which cannot share a private in-memory database; point it at a
temporary file instead.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from bocage.storage.base import Store


def open_store(
    database_url: str, group_commit_ms: float = 2.0, *, history: bool = True,
    chunk_hours: int = 0,
) -> Store:
    """``history``: record attribute history (in chunks of ``chunk_hours``; 0: the
    backend's own choice, a day on SQLite, a week on PostgreSQL)."""
    sized = {} if chunk_hours <= 0 else {"chunk_ms": chunk_hours * 3_600_000}
    if database_url.startswith("sqlite://"):
        path = _sqlite_path(database_url)
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        from bocage.storage.sqlite import SQLiteStore

        return SQLiteStore(path, group_commit_ms, history=history, **sized)
    if database_url.startswith(("postgresql://", "postgres://", "postgresql+")):
        # an unreachable server raises DatabaseUnavailable (OSError), a database
        # bocage cannot use SchemaError (ValueError), both naming the masked URL
        from bocage.storage.postgres import PostgresStore

        return PostgresStore(database_url, group_commit_ms, history=history, **sized)
    raise ValueError(
        f"unsupported database_url {mask_password(database_url)!r}: "
        "expected sqlite:///relative/path.db or sqlite:////absolute/path.db"
    )


def _sqlite_path(url: str) -> str:
    if not url.startswith("sqlite:///"):
        raise ValueError(
            f"unsupported database_url {mask_password(url)!r}: a SQLite URL has three "
            "slashes (sqlite:///relative.db) or four (sqlite:////absolute.db)"
        )
    path = url[len("sqlite:///") :].split("?", 1)[0]
    if not path or path == ":memory:" or path.startswith("file::memory:"):
        raise ValueError(
            "sqlite:///:memory: is not supported: the store's reader connections "
            "cannot see a private in-memory database; use a file (e.g. in a temp directory)"
        )
    return os.path.abspath(path)


def mask_password(url: str) -> str:
    """``scheme://user:secret@host`` -> ``scheme://user:***@host``."""
    return re.sub(r"^([a-zA-Z][a-zA-Z0-9+.-]*://[^:/@]*:)[^@/]*@", r"\1***@", url)
