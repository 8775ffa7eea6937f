"""An app with both connectors enabled, and helpers to feed it recorded messages."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from admin_client import admin_client
from starlette.testclient import TestClient

from bocage.api.app import create_app
from bocage.settings import Settings
from bocage.storage.base import Store

FIXTURES = Path(__file__).parent.parent / "connectors" / "fixtures"
CS = {"Authorization": "Bearer cs-secret"}
TTS = {"Authorization": "Bearer tts-secret"}


def fixture(name: str) -> Any:
    return orjson.loads((FIXTURES / name).read_bytes())


@pytest.fixture
def ingest_settings(settings: Settings) -> Settings:
    return settings.replace(chirpstack_secret="cs-secret", tts_secret="tts-secret")


@pytest.fixture
def api(ingest_settings: Settings, store: Store) -> Iterator[TestClient]:
    with admin_client(create_app(ingest_settings, store)) as c:
        yield c


def settle(client: TestClient) -> None:
    assert client.app.state.ingestion.wait_idle(10.0)  # type: ignore[attr-defined]


def entity(client: TestClient, entity_id: str) -> dict[str, Any]:
    r = client.get(f"/ngsi-ld/v1/entities/{entity_id}")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body
