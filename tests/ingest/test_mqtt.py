"""The MQTT connectors against the real broker: broker -> inbox -> entities.

Each test subscribes to its own application's topics with its own client id:
other runs share the broker.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mqtt_broker
import orjson
import pytest
from admin_client import admin_client
from conftest import (
    PARKING_EUI,
    assert_documented_chirpstack_events_applied,
    entity,
    fixture,
    protobuf,
    settle,
)
from mqtt_broker import Publisher, unique, wait_for
from starlette.testclient import TestClient

from bocage.api.app import create_app
from bocage.ingest.inbox_sqlite import inbox_path
from bocage.settings import Settings
from bocage.storage.sqlite import SQLiteStore

TTS_EUI = "0004A30B001C0530"
TTS_EVENTS = ["up", "join", "down/queued", "down/sent", "down/ack", "down/nack",
              "down/failed", "location/solved"]


@pytest.fixture
def broker() -> Iterator[Publisher]:
    mqtt_broker.require()
    pub = Publisher()
    yield pub
    pub.close()


@pytest.fixture
def app_id() -> Iterator[str]:
    """This test's application: its topics and its client ids."""
    name = unique("bocage-test")
    yield name
    for connector in ("cs", "tts"):
        mqtt_broker.forget_session(f"{name}-{connector}")


def mqtt_settings(settings: Settings, app_id: str, **extra: Any) -> Settings:
    return settings.replace(
        chirpstack_mqtt_url=mqtt_broker.URL,
        chirpstack_mqtt_topics=f"application/{app_id}/device/+/event/+",
        chirpstack_mqtt_client_id=f"{app_id}-cs",
        tts_mqtt_url=mqtt_broker.URL,
        tts_mqtt_topics=",".join(f"v3/{app_id}@ttn/devices/+/{e}" for e in TTS_EVENTS),
        tts_mqtt_client_id=f"{app_id}-tts",
        mqtt_session_expiry=300,
        **extra)


def serve(settings: Settings, tmp_path: Path) -> TestClient:
    store = SQLiteStore(str(tmp_path / "bocage.db"))
    client = admin_client(create_app(settings, store))
    client.__enter__()
    mqtt = client.app.state.mqtt  # type: ignore[attr-defined]
    wait_for(lambda: all(s.subscribed.is_set() for s in mqtt.subscribers), what="subscribed")
    client.store = store  # type: ignore[attr-defined]
    return client


def stop(client: TestClient) -> None:
    client.__exit__(None, None, None)
    client.store.close()  # type: ignore[attr-defined]


@pytest.fixture
def api(settings: Settings, app_id: str, tmp_path: Path, broker: Publisher,
        ) -> Iterator[TestClient]:
    client = serve(mqtt_settings(settings, app_id), tmp_path)
    yield client
    stop(client)


def cs_topic(app_id: str, eui: str, event: str) -> str:
    return f"application/{app_id}/device/{eui.lower()}/event/{event}"


def tts_topic(app_id: str, device: str, event: str) -> str:
    return f"v3/{app_id}@ttn/devices/{device}/{event}"


def counted(client: TestClient, connector: str, outcome: str) -> float:
    text = client.get("/metrics").text
    label = f'{{connector="{connector}",outcome="{outcome}"}}'
    m = re.search(re.escape("bocage_ingest_mqtt_messages_total" + label) + r" (\S+)", text)
    return float(m.group(1)) if m else 0.0


def inbox_rows(settings: Settings) -> list[tuple[str, dict[str, Any]]]:
    """(dedup key, record) of every record in the inbox file, read as it is on disk."""
    path = inbox_path(settings.database_url, settings.inbox_path)
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT dedup_key, body FROM records ORDER BY seq").fetchall()
    return [(key, orjson.loads(body)) for key, body in rows]


def register(client: TestClient, eui: str, model: str, **extra: Any) -> None:
    r = client.post("/api/devices", json={"devEui": eui, "model": model, **extra})
    assert r.status_code == 201, r.text


def test_every_chirpstack_example_through_mqtt(api: TestClient, broker: Publisher,
                                               app_id: str, settings: Settings) -> None:
    register(api, PARKING_EUI, "bocage-ps1", location={"longitude": 5.3632, "latitude": 45.9555})
    events = ("up", "status", "join", "ack", "txack", "log", "location", "integration")
    for event in events:
        body = fixture(f"chirpstack-v4/event-{event}.json")
        broker.publish(cs_topic(app_id, body["deviceInfo"]["devEui"], event), orjson.dumps(body))
    wait_for(lambda: counted(api, "chirpstack", "stored") == len(events), what="8 stored")
    settle(api)
    assert_documented_chirpstack_events_applied(api)
    rows = inbox_rows(settings)
    # the event kind comes from the topic
    assert sorted(r["event"] for _, r in rows) == sorted(events)
    assert {r["source"] for _, r in rows} == {"chirpstack"}
    assert api.get("/api/dead-letters").json() == []


def test_chirpstack_protobuf_events_through_mqtt(api: TestClient, broker: Publisher,
                                                 app_id: str, settings: Settings) -> None:
    """ChirpStack with ``json = false``: the same events in Protobuf, same entities."""
    register(api, PARKING_EUI, "bocage-ps1")
    events = ("up", "status", "location")
    for event in events:
        broker.publish(cs_topic(app_id, PARKING_EUI, event), protobuf(event))
    wait_for(lambda: counted(api, "chirpstack", "stored") == len(events), what="3 stored")
    settle(api)
    assert_documented_chirpstack_events_applied(api)
    # the inbox keeps the event's JSON form: what a dead letter shows and a replay reads
    [(_, up)] = [row for row in inbox_rows(settings) if row[1]["event"] == "up"]
    assert up["raw"]["deviceInfo"]["devEui"] == PARKING_EUI


def test_every_tts_example_through_mqtt(api: TestClient, broker: Publisher, app_id: str,
                                        settings: Settings) -> None:
    model = {"id": "uno-ns", "vendor": "The Things Products", "model": "The Things Uno",
             "codec": "network-server", "targetType": "IndoorEnvironmentObserved",
             "quantities": [
                 {"key": "temperature", "attribute": "temperature", "unit": "CEL",
                  "min": -40, "max": 85},
                 {"key": "luminosity", "attribute": "illuminance", "unit": "LUX", "min": 0}]}
    assert api.post("/api/device-models", json=model).status_code == 201
    register(api, TTS_EUI, "uno-ns")
    for name, event in (("uplink-messages-0", "up"), ("join-accept-messages-0", "join"),
                        ("downlink-events-messages-0", "down/ack"),
                        ("downlink-events-messages-1", "down/failed"),
                        # a downlink push request is not a message TTS sends
                        ("downlink-messages-0", "down/queued")):
        broker.publish(tts_topic(app_id, "dev1", event),
                       orjson.dumps(fixture(f"tts-v3/{name}.json")))
    wait_for(lambda: counted(api, "tts", "stored") == 4
             and counted(api, "tts", "rejected") == 1, what="4 stored, 1 rejected")
    settle(api)
    room = entity(api, f"urn:ngsi-ld:IndoorEnvironmentObserved:{TTS_EUI}")
    assert room["temperature"]["value"] == 1.0
    assert room["temperature"]["observedAt"] == "2020-02-12T15:15:45.789Z"
    assert room["illuminance"]["value"] == 0.64
    assert sorted(r["event"] for _, r in inbox_rows(settings)) == [
        "downlink_ack", "downlink_failed", "join", "up"]


def test_duplicates_over_mqtt_are_stored_once(api: TestClient, broker: Publisher,
                                              app_id: str, settings: Settings) -> None:
    register(api, PARKING_EUI, "bocage-ps1")
    body = fixture("chirpstack-v4/event-up.json")
    broker.publish(cs_topic(app_id, PARKING_EUI, "up"), orjson.dumps(body))
    broker.publish(cs_topic(app_id, PARKING_EUI, "up"), orjson.dumps(body))  # redelivered
    wait_for(lambda: counted(api, "chirpstack", "duplicate") == 1, what="the duplicate")
    assert counted(api, "chirpstack", "stored") == 1
    assert [key for key, _ in inbox_rows(settings)] == [
        f"chirpstack:up:{body['deduplicationId']}"]


def test_malformed_messages_are_rejected_counted_and_the_connector_goes_on(
        api: TestClient, broker: Publisher, app_id: str, settings: Settings,
        caplog: pytest.LogCaptureFixture) -> None:
    register(api, PARKING_EUI, "bocage-ps1")
    up = fixture("chirpstack-v4/event-up.json")
    garbage = {**up, "data": "%%%"}
    other = {**up, "deviceInfo": {**up["deviceInfo"], "devEui": "0202020202020202"}}
    bad = [
        (cs_topic(app_id, PARKING_EUI, "up"), b"{not json"),
        (cs_topic(app_id, PARKING_EUI, "up"), orjson.dumps(garbage)),      # base64 garbage
        (cs_topic(app_id, PARKING_EUI, "up"), b"[]"),
        (cs_topic(app_id, PARKING_EUI, "upload"), orjson.dumps(up)),       # unknown kind
        (cs_topic(app_id, PARKING_EUI, "up"), orjson.dumps(other)),        # topic != body
        (tts_topic(app_id, "dev1", "up"), b"\xff\xfe"),
    ]
    for topic, payload in bad:
        broker.publish(topic, payload)
    broker.publish(cs_topic(app_id, PARKING_EUI, "up"), orjson.dumps(up))
    wait_for(lambda: counted(api, "chirpstack", "stored") == 1, what="the good one")
    assert counted(api, "chirpstack", "rejected") == 5
    wait_for(lambda: counted(api, "tts", "rejected") == 1, what="the TTS rejection")
    settle(api)
    assert [r["dedupKey"] for _, r in inbox_rows(settings)] == [
        f"chirpstack:up:{up['deduplicationId']}"]
    assert entity(api, f"urn:ngsi-ld:ParkingSpot:{PARKING_EUI}")["status"]["value"] == "occupied"
    rejected = [r.getMessage() for r in caplog.records if "rejected" in r.getMessage()]
    assert any("not valid base64" in m for m in rejected)
    assert any("names device" in m for m in rejected)


def test_a_message_published_while_bocage_is_down_arrives_after_restart(
        settings: Settings, app_id: str, tmp_path: Path, broker: Publisher) -> None:
    cfg = mqtt_settings(settings, app_id)
    first = serve(cfg, tmp_path)  # creates the persistent session and its subscription
    register(first, PARKING_EUI, "bocage-ps1")
    stop(first)
    up = fixture("chirpstack-v4/event-up.json")
    broker.publish(cs_topic(app_id, PARKING_EUI, "up"), orjson.dumps(up))  # nobody listens
    again = serve(cfg, tmp_path)
    try:
        wait_for(lambda: counted(again, "chirpstack", "stored") == 1, what="the queued one")
        settle(again)
        spot = entity(again, f"urn:ngsi-ld:ParkingSpot:{PARKING_EUI}")
        assert spot["status"]["value"] == "occupied"
    finally:
        stop(again)


def test_a_message_the_inbox_refuses_is_not_acknowledged(
        settings: Settings, app_id: str, tmp_path: Path, broker: Publisher,
        caplog: pytest.LogCaptureFixture) -> None:
    # a backlog limit of 0 makes the inbox refuse everything, as a full one would
    full = serve(mqtt_settings(settings, app_id, ingest_max_backlog=0), tmp_path)
    up = fixture("chirpstack-v4/event-up.json")
    try:
        broker.publish(cs_topic(app_id, PARKING_EUI, "up"), orjson.dumps(up))
        wait_for(lambda: any("the inbox refused" in r.getMessage() for r in caplog.records),
                 what="the refusal")
        assert counted(full, "chirpstack", "stored") == 0
    finally:
        stop(full)
    # never acknowledged, so the broker still holds it for this session
    ok = serve(mqtt_settings(settings, app_id), tmp_path)
    try:
        wait_for(lambda: counted(ok, "chirpstack", "stored") == 1, what="the redelivery")
        assert [r["dedupKey"] for _, r in inbox_rows(settings)] == [
            f"chirpstack:up:{up['deduplicationId']}"]
    finally:
        stop(ok)


def test_connected_gauge(api: TestClient) -> None:
    text = api.get("/metrics").text
    assert 'bocage_ingest_mqtt_connected{connector="chirpstack"} 1.0' in text
    assert 'bocage_ingest_mqtt_connected{connector="tts"} 1.0' in text
