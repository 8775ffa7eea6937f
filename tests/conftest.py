"""Shared fixtures: a real SQLite store in a temp dir, the app, a loopback @context server."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import postgres_server
import pytest
from admin_client import admin_client
from starlette.testclient import TestClient

from bocage.api.app import create_app
from bocage.settings import Settings
from bocage.storage.base import Store
from bocage.storage.sqlite import SQLiteStore

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(database_url=f"sqlite:///{tmp_path}/bocage.db", context_fetch_timeout=2.0)


@pytest.fixture(scope="session")
def postgres_db() -> Iterator[postgres_server.Throwaway]:
    """One throwaway PostgreSQL database for the whole run (see postgres_server)."""
    db = postgres_server.create()
    yield db
    postgres_server.drop(db)


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """Every API test runs on both backends; the PostgreSQL one on the run's
    database, emptied before each test."""
    s: Store
    if request.param == "postgres":
        from bocage.storage.postgres import PostgresStore

        db = request.getfixturevalue("postgres_db")
        postgres_server.empty(db)
        s = PostgresStore(db.url)
    else:
        s = SQLiteStore(str(tmp_path / "bocage.db"))
    yield s
    s.close()


@pytest.fixture
def client(settings: Settings, store: SQLiteStore) -> Iterator[TestClient]:
    with admin_client(create_app(settings, store)) as c:
        yield c


class _Handler(http.server.SimpleHTTPRequestHandler):
    hits: dict[str, int]

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, directory=str(FIXTURES), **kwargs)  # type: ignore[arg-type]

    def guess_type(self, path: str | Path) -> str:
        return "application/ld+json" if str(path).endswith(".jsonld") else super().guess_type(path)

    def log_message(self, format: str, *args: object) -> None:
        self.server.hits[self.path] = self.server.hits.get(self.path, 0) + 1  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def context_server() -> Iterator[str]:
    """Serves tests/fixtures/ on loopback, as a user's own @context server would."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.hits = {}  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
