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


#: the device of the ChirpStack documentation's examples
PARKING_EUI = "0101010101010101"


def protobuf(event: str) -> bytes:
    """A documented ChirpStack event in the integrations' Protobuf encoding."""
    from chirpstack_api.integration import integration_pb2
    from google.protobuf import json_format

    from bocage.connectors.chirpstack.protobuf import MESSAGES

    message = getattr(integration_pb2, MESSAGES[event])()
    return json_format.ParseDict(fixture(f"chirpstack-v4/event-{event}.json"),
                                 message).SerializeToString()


def assert_documented_chirpstack_events_applied(client: TestClient) -> None:
    """What the ChirpStack examples (up, status, location) leave on the parking spot
    and its device, whichever way they came."""
    spot = entity(client, f"urn:ngsi-ld:ParkingSpot:{PARKING_EUI}")
    # 0xAA: bit 7 occupied, battery 42 %
    assert spot["status"]["value"] == "occupied"
    assert spot["status"]["observedAt"] == "2022-07-18T09:34:15.775Z"
    assert spot["refDevice"]["object"] == f"urn:ngsi-ld:Device:{PARKING_EUI}"
    device = entity(client, f"urn:ngsi-ld:Device:{PARKING_EUI}")
    # the status event (later than the uplink) wins over the frame's battery
    assert device["batteryLevel"]["value"] == pytest.approx(0.883)
    assert device["rssi"]["value"] == -36
    assert device["location"]["value"]["coordinates"] == [-8.839375, 37.344214]
    assert client.get("/api/dead-letters").json() == []
