"""The pipeline keeps devices and models in memory: every catalogue change still counts."""

from __future__ import annotations

import copy
from typing import Any

from conftest import CS, entity, fixture, settle
from starlette.testclient import TestClient

from bocage.devices.catalogue import TENANT
from bocage.devices.records import DeviceRecord
from bocage.ingest.catalogue_cache import CatalogueCache
from bocage.ingest.record import Uplink
from bocage.ingest.worker import Pipeline

EUI = "0101010101010101"


def uplink(n: int, data: str = "qg==") -> dict[str, Any]:
    body: dict[str, Any] = copy.deepcopy(fixture("chirpstack-v4/event-up.json"))
    body["deduplicationId"] = f"cache-{n}"
    body["fCnt"] = n
    body["data"] = data
    body["time"] = f"2026-01-01T00:00:{n:02d}Z"
    return body


def post(api: TestClient, n: int) -> None:
    r = api.post("/ingest/chirpstack?event=up", json=uplink(n), headers=CS)
    assert r.status_code == 202, r.text


def letters(api: TestClient) -> list[dict[str, Any]]:
    body: list[dict[str, Any]] = api.get("/api/dead-letters").json()
    return body


def test_a_device_deleted_then_registered_again_is_seen_at_once(api: TestClient) -> None:
    assert api.post("/api/devices", json={"devEui": EUI, "model": "bocage-ps1"}).status_code == 201
    post(api, 1)
    settle(api)
    assert letters(api) == []
    assert api.delete(f"/api/devices/{EUI}").status_code == 204
    post(api, 2)
    settle(api)
    [letter] = letters(api)
    assert letter["reason"] == "unknown-device"
    # the deleted Device entity was not brought back by the uplink
    assert api.get(f"/ngsi-ld/v1/entities/urn:ngsi-ld:Device:{EUI}").status_code == 404
    # registered again, with another equipment: the next uplink feeds the new one
    asset = "urn:ngsi-ld:ParkingSpot:moved"
    r = api.post("/api/devices", json={"devEui": EUI, "model": "bocage-ps1", "assetId": asset})
    assert r.status_code == 201, r.text
    post(api, 3)
    settle(api)
    assert entity(api, asset)["status"]["value"] == "occupied"
    assert len(letters(api)) == 1


def test_a_model_replaced_is_seen_by_the_next_uplink(api: TestClient) -> None:
    """A device moved to another model through NGSI-LD: decoded by the new model."""
    assert api.post("/api/devices", json={"devEui": EUI, "model": "bocage-ps1"}).status_code == 201
    post(api, 1)
    settle(api)
    r = api.patch(f"/ngsi-ld/v1/entities/urn:ngsi-ld:Device:{EUI}/attrs", json={
        "refDeviceModel": {"type": "Relationship",
                           "object": "urn:ngsi-ld:DeviceModel:no-such-model"}})
    assert r.status_code == 204, r.text
    post(api, 2)
    settle(api)
    [letter] = letters(api)
    assert letter["reason"] == "unknown-model"


def test_a_stale_entry_never_recreates_a_deleted_device(api: TestClient) -> None:
    """Another process deleted the device: this process's cache does not know yet.
    The uplink becomes a dead letter; the Device entity is not re-created."""
    assert api.post("/api/devices", json={"devEui": EUI, "model": "bocage-ps1"}).status_code == 201
    ingestion = api.app.state.ingestion  # type: ignore[attr-defined]
    live: Pipeline = ingestion.pipeline
    # a cache no listener tells about changes: as one of another process would be
    blind = CatalogueCache(live.catalogue, live.terms)
    pipeline = Pipeline(live.store, live.catalogue, live.codecs, live.terms, live.now, blind)
    assert isinstance(blind.device(EUI), DeviceRecord)
    live.catalogue.delete_device(EUI)
    record = Uplink(source="chirpstack", event="up", dev_eui=EUI, application="a",
                    dedup_key="stale-1", received_at="2026-01-01T00:00:00.000Z",
                    f_port=1, f_cnt=1, payload=b"\xaa")
    [dead] = pipeline.run([(1, record)])
    assert dead.reason == "store-rejected"
    assert live.store.get(TENANT, f"urn:ngsi-ld:Device:{EUI}") is None


def test_entries_are_read_again_after_their_time(api: TestClient) -> None:
    assert api.post("/api/devices", json={"devEui": EUI, "model": "bocage-ps1"}).status_code == 201
    catalogue = api.app.state.ingestion.catalogue  # type: ignore[attr-defined]
    now = [0.0]
    cache = CatalogueCache(catalogue, api.app.state.ingestion.pipeline.terms,  # type: ignore[attr-defined]
                           ttl=10.0, clock=lambda: now[0])
    first = cache.device(EUI.lower())
    assert first is not None and cache.device(EUI) is first  # kept
    now[0] = 11.0
    again = cache.device(EUI)
    assert again is not None and again is not first  # read again
    assert cache.device("FFFFFFFFFFFFFFFF") is None
