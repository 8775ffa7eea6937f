"""Lighting commands end to end against the real Mosquitto: accept -> queue -> MQTT
downlink -> acknowledgement -> confirmation by telemetry; retries and restarts.

Each test has its own application id (topics, client ids): other runs share the broker.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mqtt_broker
import orjson
import paho.mqtt.client as paho
import pytest
from admin_client import admin_client
from lit_territory import (
    CABINET,
    EUI1,
    EUI2,
    GROUP,
    L1,
    LB,
    TTS_DEVICE,
    A,
    B,
    build,
    cs_event,
    cs_uplink,
    key,
    now_iso,
)
from mqtt_broker import Publisher, unique, wait_for
from starlette.testclient import TestClient

from bocage.api.app import create_app
from bocage.codecs.registry import builtin_registry, encoder_for
from bocage.settings import Settings
from bocage.storage.sqlite import SQLiteStore

TTS_EVENTS = ["up", "down/sent", "down/ack", "down/nack", "down/failed"]
SL1 = builtin_registry().get("bocage-sl1")
assert SL1 is not None and SL1.decode_downlink is not None


class Downlinks:
    """What a network server would receive: every downlink published for this test."""

    def __init__(self, app_id: str) -> None:
        self.messages: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()
        self._client = paho.Client(paho.CallbackAPIVersion.VERSION2,
                                   client_id=unique("bocage-test-ns"))
        self._client.on_message = self._on_message
        topics = [(f"application/{app_id}/device/+/command/down", 1),
                  (f"v3/{app_id}@ttn/devices/+/down/push", 1)]
        subscribed = threading.Event()
        self._client.on_subscribe = lambda *a: subscribed.set()
        self._client.connect(mqtt_broker.HOST, mqtt_broker.PORT)
        self._client.loop_start()
        self._client.subscribe(topics)
        assert subscribed.wait(10), "the test network server could not subscribe"

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        with self._lock:
            self.messages.append((msg.topic, orjson.loads(msg.payload)))

    def wait(self, n: int) -> list[tuple[str, dict[str, Any]]]:
        wait_for(lambda: len(self.messages) >= n, 20, f"{n} downlink(s)")
        with self._lock:
            return list(self.messages)

    def close(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()


@pytest.fixture
def app_id() -> Iterator[str]:
    name = unique("bocage-cmd")
    yield name
    for suffix in ("cs", "tts", "cs-commands", "tts-commands"):
        mqtt_broker.forget_session(f"{name}-{suffix}")


def mqtt_settings(settings: Settings, app_id: str, url: str = mqtt_broker.URL) -> Settings:
    return settings.replace(
        chirpstack_mqtt_url=url,
        chirpstack_mqtt_topics=f"application/{app_id}/device/+/event/+",
        chirpstack_mqtt_client_id=f"{app_id}-cs",
        tts_mqtt_url=url,
        tts_mqtt_topics=",".join(f"v3/{app_id}@ttn/devices/+/{e}" for e in TTS_EVENTS),
        tts_mqtt_client_id=f"{app_id}-tts",
        mqtt_session_expiry=300, commands_tick_seconds=0.2, commands_retry_max_seconds=1.0)


@dataclasses.dataclass
class World:
    admin: TestClient
    police: dict[str, str]
    app_id: str
    downlinks: Downlinks
    publisher: Publisher

    def command(self, headers: dict[str, str] | None = None, **body: Any) -> Any:
        return self.admin.post("/api/commands", json=body,
                               headers=self.police if headers is None else headers)

    def status(self, command_id: str) -> dict[str, Any]:
        r = self.admin.get(f"/api/commands/{command_id}")  # police reads it on the UI page
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    def wait_status(self, command_id: str, status: str) -> dict[str, Any]:
        wait_for(lambda: self.status(command_id)["status"] == status, 20,
                 f"command {status} (now {self.status(command_id)})")
        return self.status(command_id)

    def publish(self, message: tuple[str, bytes]) -> None:
        self.publisher.publish(*message)


def start(settings: Settings, tmp_path: Path) -> TestClient:
    store = SQLiteStore(str(tmp_path / "bocage.db"))
    client = admin_client(create_app(settings, store))
    client.__enter__()
    client.store = store  # type: ignore[attr-defined]
    return client


def stop(client: TestClient) -> None:
    client.__exit__(None, None, None)
    client.store.close()  # type: ignore[attr-defined]


@pytest.fixture
def world(settings: Settings, app_id: str, tmp_path: Path) -> Iterator[World]:
    mqtt_broker.require()
    client = start(mqtt_settings(settings, app_id), tmp_path)
    mqtt = client.app.state.mqtt  # type: ignore[attr-defined]
    wait_for(lambda: all(s.subscribed.is_set() for s in mqtt.subscribers), what="subscribed")
    build(client, app_id)
    downlinks, publisher = Downlinks(app_id), Publisher()
    try:
        yield World(client, key(client.app, "police", A), app_id, downlinks, publisher)
    finally:
        downlinks.close()
        publisher.close()
        stop(client)


def audited(client: TestClient) -> list[Any]:
    records = client.app.state.security.store.audit_records()  # type: ignore[attr-defined]
    return [r for r in records if r.action == "command.lighting"]


def test_a_light_switched_on_is_sent_acknowledged_then_confirmed(world: World) -> None:
    r = world.command(target=L1, action="on", durationMinutes=30, reason="accident RD 1075")
    assert r.status_code == 202, r.text
    ident = r.json()["id"]
    assert r.headers["Location"] == f"/api/commands/{ident}"
    ((topic, body),) = world.downlinks.wait(1)
    # ChirpStack v4's MQTT downlink command
    assert topic == f"application/{world.app_id}/device/{EUI1.lower()}/command/down"
    assert set(body) == {"id", "devEui", "confirmed", "fPort", "data"}
    assert body["devEui"] == EUI1.lower() and body["confirmed"] is True
    assert SL1.decode_downlink is not None
    order = SL1.decode_downlink(base64.b64decode(body["data"]), body["fPort"])
    assert order == {"action": "on", "durationMinutes": 30}
    sent = world.wait_status(ident, "sent")
    assert sent["progress"] == {"sent": 1}
    assert sent["deliveries"][0]["devEui"] == EUI1
    # ChirpStack's ack event names the queue item we gave
    world.publish(cs_event(world.app_id, EUI1, kind="ack", queueItemId=body["id"],
                           acknowledged=True, fCntDown=7))
    world.wait_status(ident, "acknowledged")
    # a later status frame shows the lamp on
    f_port, frame = encoder_for("bocage-sl1")({"powerState": "on", "lampStatus": "ok",
                                               "dimmingLevel": 100, "power": 40.0,
                                               "energy": 12.0})
    world.publish(cs_uplink(world.app_id, EUI1, f_port, frame, 42))
    done = world.wait_status(ident, "confirmed")
    assert "ordered state" in done["detail"]
    (record,) = audited(world.admin)
    assert record.target == L1 and record.detail["reason"] == "accident RD 1075"
    assert record.detail["devices"] == [EUI1]


def test_a_zone_fans_out_to_chirpstack_and_the_things_stack(world: World) -> None:
    r = world.command(target=GROUP, action="dim", level=40, reason="fête de village")
    assert r.status_code == 202, r.text
    ident = r.json()["id"]
    messages = dict(world.downlinks.wait(2))
    cs = messages[f"application/{world.app_id}/device/{EUI1.lower()}/command/down"]
    tts = messages[f"v3/{world.app_id}@ttn/devices/{TTS_DEVICE}/down/push"]
    (down,) = tts["downlinks"]
    assert set(down) == {"f_port", "frm_payload", "priority", "confirmed", "correlation_ids"}
    assert down["confirmed"] is True
    for port, data in ((cs["fPort"], cs["data"]), (down["f_port"], down["frm_payload"])):
        assert SL1.decode_downlink is not None
        assert SL1.decode_downlink(base64.b64decode(data), port) == {"action": "dim",
                                                                     "level": 40}
    world.wait_status(ident, "sent")
    # The Things Stack's down/ack carries our correlation id back
    ack = {"end_device_ids": {"device_id": TTS_DEVICE, "dev_eui": EUI2,
                              "application_ids": {"application_id": world.app_id}},
           "correlation_ids": ["as:downlink:01HX", *down["correlation_ids"]],
           "received_at": now_iso(),
           "downlink_ack": {**down, "f_cnt": 3}}
    world.publish((f"v3/{world.app_id}@ttn/devices/{TTS_DEVICE}/down/ack", orjson.dumps(ack)))
    wait_for(lambda: world.status(ident)["progress"] == {"sent": 1, "acknowledged": 1},
             20, "the TTS light acknowledged")
    assert world.status(ident)["status"] == "sent"  # the zone waits for its slowest light
    world.publish(cs_event(world.app_id, EUI1, kind="ack", queueItemId=cs["id"],
                           acknowledged=True, fCntDown=1))
    world.wait_status(ident, "acknowledged")


def test_a_cabinet_without_a_controller_reaches_its_lights(world: World) -> None:
    r = world.command(target=CABINET, action="off", reason="fuite de gaz")
    assert r.status_code == 202, r.text
    devices = sorted(d["devEui"] for d in r.json()["deliveries"])
    assert devices == [EUI1, EUI2]  # the cabinet's meter takes no orders


def test_a_commune_by_its_scope_and_nothing_beyond_the_callers_scopes(world: World) -> None:
    r = world.command(target=A, action="on", durationMinutes=60, reason="recherche de personne")
    assert r.status_code == 202, r.text
    assert sorted(d["devEui"] for d in r.json()["deliveries"]) == [EUI1, EUI2]
    world.downlinks.wait(2)
    # another commune: its light and its scope do not exist for this police officer
    for target in (LB, B, "/FR"):
        r = world.command(target=target, action="on", reason="hors périmètre")
        assert r.status_code == 404, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
    r = world.command(target="/FR/01/#", action="on", reason="bad")
    assert r.status_code == 400, r.text
    # a role without the lighting command is refused before anything
    elu = key(world.admin.app, "elu", A)
    assert world.command(elu, target=L1, action="on", reason="x").status_code == 403
    # nothing else was sent, and only the accepted command is on record
    assert len(world.downlinks.messages) == 2
    assert [a.target for a in audited(world.admin)] == [A]
    listed = world.admin.get("/api/commands").json()
    assert [c["target"] for c in listed] == [A]
    # an elected official of commune B sees none of commune A's commands
    elu_b = key(world.admin.app, "elu", B)
    assert world.admin.get("/api/commands", headers=elu_b).json() == []
    cid = listed[0]["id"]
    assert world.admin.get(f"/api/commands/{cid}", headers=elu_b).status_code == 404


def test_the_duration_ends_expired_and_back_to_schedule(world: World) -> None:
    r = world.command(target=L1, action="on", durationMinutes=30, reason="accident")
    ident = r.json()["id"]
    world.downlinks.wait(1)
    world.wait_status(ident, "sent")
    lighting = world.admin.app.state.commands  # type: ignore[attr-defined]
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=31)).strftime(
        "%Y-%m-%dT%H:%M:%S.000Z")
    lighting._now = lambda: later  # the clock moves past the order's end
    lighting.sweep()
    done = world.status(ident)
    assert done["status"] == "expired"
    messages = world.downlinks.wait(2)
    topic, body = messages[1]
    assert topic.endswith(f"{EUI1.lower()}/command/down")
    assert SL1.decode_downlink is not None
    assert SL1.decode_downlink(base64.b64decode(body["data"]), body["fPort"]) == {
        "action": "schedule"}
    kinds = sorted(d["kind"] for d in world.status(ident)["deliveries"])
    assert kinds == ["order", "resume"]


def test_no_acknowledgement_within_the_deadline_expires(world: World) -> None:
    r = world.command(target=L1, action="off", reason="essai")
    ident = r.json()["id"]
    world.wait_status(ident, "sent")
    lighting = world.admin.app.state.commands  # type: ignore[attr-defined]
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=61)).strftime(
        "%Y-%m-%dT%H:%M:%S.000Z")
    lighting._now = lambda: later
    lighting.sweep()
    done = world.status(ident)
    assert done["status"] == "expired"
    assert "no acknowledgement within 60 min" in done["deliveries"][0]["detail"]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_broker_is_retried_and_a_restart_still_sends(
        settings: Settings, app_id: str, tmp_path: Path) -> None:
    mqtt_broker.require()
    down = mqtt_settings(settings, app_id, url=f"mqtt://127.0.0.1:{closed_port()}")
    client = start(down, tmp_path)
    try:
        build(client, app_id)
        police = key(client.app, "police", A)
        r = client.post("/api/commands", headers=police,
                        json={"target": L1, "action": "on", "reason": "panne réseau"})
        assert r.status_code == 202, r.text
        ident = r.json()["id"]

        def attempts() -> dict[str, Any]:
            body: dict[str, Any] = client.get(f"/api/commands/{ident}").json()
            return body

        wait_for(lambda: attempts()["deliveries"][0]["attempts"] >= 2, 20, "two tries")
        seen = attempts()
        assert seen["status"] == "pending"
        assert "broker unreachable" in seen["detail"] and "next at" in seen["detail"]
        assert seen["deliveries"][0]["nextAttemptAt"]
    finally:
        stop(client)
    # the server comes back with the broker reachable: the queued order goes out
    downlinks = Downlinks(app_id)
    client = start(mqtt_settings(settings, app_id), tmp_path)
    try:
        ((topic, body),) = downlinks.wait(1)
        assert topic == f"application/{app_id}/device/{EUI1.lower()}/command/down"
        assert SL1.decode_downlink is not None
        assert SL1.decode_downlink(base64.b64decode(body["data"]), body["fPort"]) == {
            "action": "on"}
        wait_for(lambda: client.get(f"/api/commands/{ident}").json()[
            "status"] == "sent", 20, "sent after the restart")
        assert len(audited(client)) == 1
    finally:
        downlinks.close()
        stop(client)
