"""An app with the ChirpStack connector enabled, fed JavaScript-decoded uplinks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from admin_client import admin_client
from starlette.testclient import TestClient

from bocage.api.app import create_app
from bocage.settings import Settings
from bocage.storage.base import Store

REPO = Path(__file__).parent.parent / "fixtures" / "lorawan-repo"


@pytest.fixture
def js_settings(settings: Settings) -> Settings:
    return settings.replace(chirpstack_secret="cs-secret", js_codec_time_limit_ms=50.0,
                            js_codec_memory_limit_mb=16)


@pytest.fixture
def js_api(js_settings: Settings, store: Store) -> Iterator[TestClient]:
    with admin_client(create_app(js_settings, store)) as c:
        yield c
