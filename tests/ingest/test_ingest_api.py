"""The full path through HTTP: webhook -> inbox -> decode -> entities, seen via NGSI-LD."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest
from admin_client import admin_client
from conftest import (
    CS,
    PARKING_EUI,
    TTS,
    assert_documented_chirpstack_events_applied,
    entity,
    fixture,
    protobuf,
    settle,
)
from starlette.testclient import TestClient

from bocage.api.app import create_app
from bocage.settings import Settings
from bocage.storage.base import Store

TTS_EUI = "0004A30B001C0530"           # the TTS docs' device


def register(client: TestClient, eui: str, model: str, **extra: Any) -> None:
    r = client.post("/api/devices", json={"devEui": eui, "model": model, **extra})
    assert r.status_code == 201, r.text


def post_cs(client: TestClient, event: str, body: object) -> Any:
    return client.post(f"/ingest/chirpstack?event={event}", json=body, headers=CS)


def snapshot(client: TestClient) -> list[Any]:
    r = client.get("/ngsi-ld/v1/entities", params={"type": "Device,ParkingSpot", "limit": 100})
    assert r.status_code == 200
    return sorted(r.json(), key=lambda e: e["id"])


def test_every_chirpstack_example_through_http(api: TestClient) -> None:
    register(api, PARKING_EUI, "bocage-ps1", name="Place 3, aire de covoiturage",
             location={"longitude": 5.3632, "latitude": 45.9555}, commune="01004")
    for event in ("up", "status", "join", "ack", "txack", "log", "location", "integration"):
        r = post_cs(api, event, fixture(f"chirpstack-v4/event-{event}.json"))
        assert r.status_code == 202, (event, r.text)
        assert r.json()["stored"] == 1
    settle(api)
    assert_documented_chirpstack_events_applied(api)
    spot = entity(api, f"urn:ngsi-ld:ParkingSpot:{PARKING_EUI}")
    assert spot["location"]["value"]["coordinates"] == [5.3632, 45.9555]
    device = entity(api, f"urn:ngsi-ld:Device:{PARKING_EUI}")
    assert device["dateLastValueReported"]["value"] == "2022-07-18T09:34:15.775Z"


def post_pb(client: TestClient, event: str, data: bytes,
            media: str = "application/octet-stream") -> Any:
    """As ChirpStack's HTTP integration posts with the Protobuf encoding."""
    return client.post(f"/ingest/chirpstack?event={event}", content=data,
                       headers={**CS, "Content-Type": media})


def test_every_chirpstack_example_through_http_in_protobuf(api: TestClient) -> None:
    register(api, PARKING_EUI, "bocage-ps1", location={"longitude": 5.3632,
                                                       "latitude": 45.9555})
    events = ("up", "status", "join", "ack", "txack", "log", "location")
    for event in events:
        r = post_pb(api, event, protobuf(event))
        assert r.status_code == 202, (event, r.text)
        assert r.json()["stored"] == 1
    settle(api)
    assert_documented_chirpstack_events_applied(api)
    # ChirpStack retrying: the same bytes again are duplicates, stored once
    for event in events:
        again = post_pb(api, event, protobuf(event), "application/x-protobuf").json()
        assert (again["stored"], again["duplicates"]) == (0, 1), event


def test_bad_protobuf_is_refused_and_changes_nothing(api: TestClient) -> None:
    register(api, PARKING_EUI, "bocage-ps1")
    assert post_pb(api, "up", protobuf("up")).status_code == 202
    settle(api)
    before = snapshot(api)
    r = post_pb(api, "up", b"\xff\xff\xff not protobuf")
    assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json"
    assert "not a ChirpStack UplinkEvent in Protobuf" in r.json()["detail"]
    r = post_pb(api, "integration", b"\x0a\x01x")
    assert r.status_code == 400 and "not read in Protobuf" in r.json()["detail"]
    r = post_pb(api, "up", b"")
    assert r.status_code == 400 and "empty" in r.json()["detail"]
    r = post_pb(api, "up", protobuf("up"), "text/plain")
    assert r.status_code == 415 and "application/octet-stream" in r.json()["detail"]
    r = api.post("/ingest/tts", content=protobuf("up"),
                 headers={**TTS, "Content-Type": "application/octet-stream"})
    assert r.status_code == 415  # The Things Stack's webhooks are JSON only
    settle(api)
    assert snapshot(api) == before
    assert api.get("/api/dead-letters").json() == []


def test_tts_examples_through_http(api: TestClient) -> None:
    # this device's network server decodes; our model maps its keys to Smart Data Model terms
    model = {"id": "uno-ns", "vendor": "The Things Products", "model": "The Things Uno",
             "codec": "network-server", "targetType": "IndoorEnvironmentObserved",
             "quantities": [
                 {"key": "temperature", "attribute": "temperature", "unit": "CEL",
                  "min": -40, "max": 85},
                 {"key": "luminosity", "attribute": "illuminance", "unit": "LUX", "min": 0}]}
    assert api.post("/api/device-models", json=model).status_code == 201
    register(api, TTS_EUI, "uno-ns")
    for name in ("uplink-messages-0", "join-accept-messages-0",
                 "downlink-events-messages-0", "downlink-events-messages-1"):
        r = api.post("/ingest/tts", json=fixture(f"tts-v3/{name}.json"), headers=TTS)
        assert r.status_code == 202, (name, r.text)
    r = api.post("/ingest/tts", json=fixture("tts-v3/downlink-messages-0.json"), headers=TTS)
    assert r.status_code == 400 and "downlink push" in r.json()["detail"]
    settle(api)
    room = entity(api, f"urn:ngsi-ld:IndoorEnvironmentObserved:{TTS_EUI}")
    assert room["temperature"] == {"type": "Property", "value": 1.0, "unitCode": "CEL",
                                   "observedAt": "2020-02-12T15:15:45.789Z"}
    assert room["illuminance"]["value"] == 0.64
    assert entity(api, f"urn:ngsi-ld:Device:{TTS_EUI}")["rssi"]["value"] == -35
    assert api.get("/api/dead-letters").json() == []


def test_duplicates_are_stored_once(api: TestClient) -> None:
    register(api, PARKING_EUI, "bocage-ps1")
    up = fixture("chirpstack-v4/event-up.json")
    first = post_cs(api, "up", up).json()
    again = post_cs(api, "up", up).json()   # a retry, or a second integration delivery
    assert (first["stored"], first["duplicates"]) == (1, 0)
    assert (again["stored"], again["duplicates"]) == (0, 1)
    settle(api)
    inbox = api.app.state.ingestion.inbox  # type: ignore[attr-defined]
    assert len(inbox.pending(10)) == 0 and inbox.backlog() == 0


def test_unknown_device_dead_letter_then_replay(api: TestClient) -> None:
    up = fixture("chirpstack-v4/event-up.json")
    assert post_cs(api, "up", up).status_code == 202
    settle(api)
    [letter] = api.get("/api/dead-letters", params={"status": "open"}).json()
    assert letter["reason"] == "unknown-device" and letter["record"]["devEui"] == PARKING_EUI
    assert letter["record"]["payloadHex"] == "aa"
    full = api.get(f"/api/dead-letters/{letter['id']}").json()
    assert full["envelope"] == up
    # still unknown: the replay fails, says why, and the letter stays open
    r = api.post(f"/api/dead-letters/{letter['id']}/replay")
    assert r.status_code == 409 and "unknown-device" in r.json()["detail"]
    register(api, PARKING_EUI, "bocage-ps1")
    r = api.post(f"/api/dead-letters/{letter['id']}/replay")
    assert r.status_code == 200 and r.json()["status"] == "replayed"
    assert r.json()["attempts"] == 3  # the first run and two replays
    spot = entity(api, f"urn:ngsi-ld:ParkingSpot:{PARKING_EUI}")
    assert spot["status"]["value"] == "occupied"
    assert api.get("/api/dead-letters", params={"status": "open"}).json() == []
    assert api.get("/api/dead-letters", params={"reason": "unknown-device"}).json()


@pytest.mark.parametrize("payload,reason,detail", [
    ("/w==", "codec-error", "not a percentage"),      # 0xff: battery 127 %
    ("qgA=", "codec-error", "1 byte"),                # two bytes
])
def test_codec_errors_are_dead_letters_and_change_nothing(
        api: TestClient, payload: str, reason: str, detail: str) -> None:
    register(api, PARKING_EUI, "bocage-ps1")
    before = snapshot(api)
    up = fixture("chirpstack-v4/event-up.json")
    up["data"] = payload
    assert post_cs(api, "up", up).status_code == 202
    settle(api)
    [letter] = api.get("/api/dead-letters").json()
    assert letter["reason"] == reason and detail in letter["detail"]
    assert snapshot(api) == before


def test_wrong_fport_and_out_of_range_are_dead_letters(api: TestClient) -> None:
    register(api, "00000000000000C1", "bocage-ce1")
    up = fixture("chirpstack-v4/event-up.json")
    up["deviceInfo"]["devEui"] = "00000000000000c1"
    up["fPort"] = 4
    up["data"] = "JxAIuzBf"     # 10000 ppm is in range
    assert post_cs(api, "up", up).status_code == 202
    bad = copy.deepcopy(up)
    bad["deduplicationId"] = "another"
    bad["data"] = "J3UIuzBf"    # 10101 ppm: beyond the sensor's physical range
    assert post_cs(api, "up", bad).status_code == 202
    port = copy.deepcopy(up)
    port["deduplicationId"] = "yet-another"
    port["fPort"] = 9
    assert post_cs(api, "up", port).status_code == 202
    settle(api)
    reasons = sorted(d["reason"] for d in api.get("/api/dead-letters").json())
    assert reasons == ["out-of-range", "unsupported-fport"]
    room = entity(api, "urn:ngsi-ld:IndoorEnvironmentObserved:00000000000000C1")
    assert room["co2"]["value"] == 10000 and room["co2"]["unitCode"] == "59"


def test_an_older_reading_does_not_overwrite_a_newer_one(api: TestClient) -> None:
    register(api, PARKING_EUI, "bocage-ps1")
    new = fixture("chirpstack-v4/event-up.json")
    old = copy.deepcopy(new)
    old["deduplicationId"], old["time"], old["data"] = "old", "2022-07-18T08:00:00Z", "Kg=="
    post_cs(api, "up", new)
    post_cs(api, "up", old)
    settle(api)
    spot = entity(api, f"urn:ngsi-ld:ParkingSpot:{PARKING_EUI}")
    assert spot["status"]["value"] == "occupied"


BAD_BODIES = [
    ("up", b"{not json", "application/json", 400, "InvalidRequest"),
    ("up", b'{"a": 1}', "text/plain", 415, "UnsupportedMediaType"),
    ("up", b"[]", "application/json", 400, "BadRequestData"),
    ("up", orjson.dumps({**fixture("chirpstack-v4/event-up.json"), "data": "%%%"}),
     "application/json", 400, "BadRequestData"),
    ("up", orjson.dumps({k: v for k, v in fixture("chirpstack-v4/event-up.json").items()
                         if k != "deviceInfo"}), "application/json", 400, "BadRequestData"),
    ("upload", orjson.dumps(fixture("chirpstack-v4/event-up.json")), "application/json", 400,
     "BadRequestData"),
]


@pytest.mark.parametrize("event,body,ctype,status,kind", BAD_BODIES)
def test_bad_input_answers_a_problem_and_stores_nothing(
        api: TestClient, event: str, body: bytes, ctype: str, status: int, kind: str) -> None:
    register(api, PARKING_EUI, "bocage-ps1")
    before = snapshot(api)
    r = api.post(f"/ingest/chirpstack?event={event}", content=body,
                 headers={**CS, "Content-Type": ctype})
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"].endswith(kind)
    settle(api)
    inbox = api.app.state.ingestion.inbox  # type: ignore[attr-defined]
    assert inbox.pending(10) == [] and api.get("/api/dead-letters").json() == []
    assert snapshot(api) == before


def test_missing_event_parameter(api: TestClient) -> None:
    r = api.post("/ingest/chirpstack", json={}, headers=CS)
    assert r.status_code == 400 and "event" in r.json()["detail"]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nope"},
                                     {"Authorization": "Basic cs-secret"}, TTS])
def test_a_wrong_secret_is_401(api: TestClient, headers: dict[str, str]) -> None:
    r = api.post("/ingest/chirpstack?event=up", json=fixture("chirpstack-v4/event-up.json"),
                 headers=headers)
    assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"


def test_connectors_without_a_secret_are_disabled(client: TestClient) -> None:
    r = client.post("/ingest/tts", json=fixture("tts-v3/uplink-messages-0.json"), headers=TTS)
    assert r.status_code == 404 and "BOCAGE_TTS_SECRET" in r.json()["detail"]
    r = client.post("/ingest/chirpstack?event=up", json={}, headers=CS)
    assert r.status_code == 404 and "BOCAGE_CHIRPSTACK_SECRET" in r.json()["detail"]


def test_backlog_full_is_503_with_retry_after(
        ingest_settings: Settings, store: Store) -> None:
    app = create_app(ingest_settings.replace(ingest_max_backlog=0), store)
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.post("/ingest/chirpstack?event=up", json=fixture("chirpstack-v4/event-up.json"),
                   headers=CS)
        assert r.status_code == 503 and r.headers["retry-after"] == "2"
        assert c.app.state.ingestion.inbox.pending(10) == []  # type: ignore[attr-defined]


def test_restart_processes_pending_records_once(
        ingest_settings: Settings, store: Store) -> None:
    """Records accepted but not processed when the app stopped are processed at the next
    start, once."""
    app = create_app(ingest_settings, store)
    with admin_client(app) as c:
        register(c, PARKING_EUI, "bocage-ps1")
        settle(c)
        ingestion = c.app.state.ingestion  # type: ignore[attr-defined]
        ingestion._worker.stop()  # the process "dies" before the pipeline ran
        for i in range(5):
            up = fixture("chirpstack-v4/event-up.json")
            up["deduplicationId"] = f"dedup-{i}"
            up["time"] = f"2022-07-18T09:3{i}:00Z"
            up["data"] = "qg==" if i % 2 == 0 else "Kg=="
            assert post_cs(c, "up", up).status_code == 202
        assert ingestion.inbox.backlog() == 5
    with admin_client(create_app(ingest_settings, store)) as c:
        settle(c)
        spot = entity(c, f"urn:ngsi-ld:ParkingSpot:{PARKING_EUI}")
        assert spot["status"]["value"] == "occupied"            # the last one, i = 4
        assert spot["status"]["observedAt"] == "2022-07-18T09:34:00.000Z"
        inbox = c.app.state.ingestion.inbox  # type: ignore[attr-defined]
        assert inbox.backlog() == 0 and inbox.pending(10) == []
        assert c.get("/api/dead-letters").json() == []


def test_device_events_list_what_the_device_sent(api: TestClient) -> None:
    register(api, PARKING_EUI, "bocage-ps1")
    for event in ("join", "up", "status"):
        assert post_cs(api, event, fixture(f"chirpstack-v4/event-{event}.json")).status_code == 202
    settle(api)
    r = api.get(f"/api/devices/{PARKING_EUI.lower()}/events")
    assert r.status_code == 200, r.text
    events = r.json()
    assert [e["event"] for e in events] == ["status", "up", "join"]
    up = events[1]
    assert (up["fPort"], up["fCnt"], up["payloadHex"], up["processed"]) == (1, 0, "aa", True)
    assert up["radio"] == {"rssi": -36.0, "snr": 10.5, "gateways": 1}
    assert up["receivedAt"] == "2022-07-18T09:34:15.775Z" and up["source"] == "chirpstack"
    assert events[0]["battery"] == pytest.approx(0.883)
    assert "joined" in events[2]["note"]
    older = api.get(f"/api/devices/{PARKING_EUI}/events",
                    params={"before": events[0]["seq"], "limit": 1}).json()
    assert [e["event"] for e in older] == ["up"]
    assert api.get("/api/devices/0202020202020202/events").json() == []
    bad = api.get("/api/devices/not-an-eui/events")
    assert bad.status_code == 400 and "DevEUI" in bad.json()["detail"]
    assert api.get(f"/api/devices/{PARKING_EUI}/events", params={"limit": "x"}).status_code == 400


def test_processed_records_are_pruned_after_the_retention(
        ingest_settings: Settings, store: Store) -> None:
    clock = ["2022-07-18T10:00:00.000Z"]
    app = create_app(ingest_settings.replace(ingest_retention_days=1), store)
    app.state.ingestion._now = lambda: clock[0]  # type: ignore[attr-defined]
    with admin_client(app) as client:
        register(client, PARKING_EUI, "bocage-ps1")
        assert post_cs(client, "up", fixture("chirpstack-v4/event-up.json")).status_code == 202
        settle(client)
        ingestion = client.app.state.ingestion  # type: ignore[attr-defined]
        assert ingestion.prune() == 0                   # accepted today: kept
        clock[0] = "2022-07-19T10:00:00.001Z"
        assert ingestion.prune() == 1                   # a day and a millisecond later
        assert client.get(f"/api/devices/{PARKING_EUI}/events").json() == []
        # the entity keeps what the record brought
        assert entity(client, f"urn:ngsi-ld:ParkingSpot:{PARKING_EUI}")["status"]["value"] == (
            "occupied")
