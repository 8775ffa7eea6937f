"""Notifications end to end in-process: real writes, a real HTTP receiver on a
free loopback port, the local Mosquitto for MQTT, the real outbox."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from admin_client import admin_client
from receivers import HttpReceiver, free_port, http_receiver, mqtt_subscriber
from starlette.testclient import TestClient

from bocage.api.app import create_app
from bocage.settings import Settings
from bocage.storage.base import Store
from bocage.storage.sqlite import SQLiteStore

SUBS = "/ngsi-ld/v1/subscriptions"
ENTITIES = "/ngsi-ld/v1/entities"


@pytest.fixture
def fast_settings(settings: Settings) -> Settings:
    return settings.replace(notification_retry_base=0.2, notification_retry_max=2.0,
                            notification_timeout=2.0)


@pytest.fixture
def api(fast_settings: Settings, tmp_path: Path) -> Iterator[TestClient]:
    store = SQLiteStore(str(tmp_path / "bocage.db"))
    with admin_client(create_app(fast_settings, store)) as c:
        yield c
    store.close()


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    with http_receiver() as rec:
        yield rec


def subscribe(client: TestClient, uri: str, headers: dict[str, str] | None = None,
              **members: Any) -> str:
    note = members.pop("notification", {})
    endpoint = {"uri": uri, **note.pop("endpoint", {})}
    body = {"type": "Subscription", "entities": [{"type": "Bin"}], **members,
            "notification": {**note, "endpoint": endpoint}}
    r = client.post(SUBS, json=body, headers=headers or {})
    assert r.status_code == 201, r.text
    return str(r.headers["Location"])


def bin_(n: int, fill: float, **extra: Any) -> dict[str, Any]:
    return {"id": f"urn:ngsi-ld:Bin:{n}", "type": "Bin",
            "fill": {"type": "Property", "value": fill}, **extra}


def create(client: TestClient, entity: dict[str, Any],
           headers: dict[str, str] | None = None) -> None:
    r = client.post(ENTITIES, json=entity, headers=headers or {})
    assert r.status_code == 201, r.text


def idle(client: TestClient) -> None:
    assert client.app.state.notifier.wait_idle(10)  # type: ignore[attr-defined]


def status(client: TestClient, location: str) -> dict[str, Any]:
    body: dict[str, Any] = client.get(location).json()
    return body


# ------------------------------------------------------------------------ HTTP

def test_matching_write_notifies_on_both_backends(settings: Settings, store: Store,
                                                  receiver: HttpReceiver) -> None:
    with admin_client(create_app(settings, store)) as client:
        tenant = {"NGSILD-Tenant": "commune-a"}
        loc = subscribe(client, receiver.url + "/hook", tenant, q="fill>50",
                        notification={"endpoint": {"receiverInfo": [
                            {"key": "X-Api-Key", "value": "s3cret"}]}})
        create(client, bin_(1, 80), tenant)
        create(client, bin_(2, 10), tenant)  # q does not match
        create(client, bin_(3, 90))  # another tenant
        [got] = receiver.wait_for(1)
        idle(client)
        assert len(receiver.received) == 1
        assert got.path == "/hook"
        assert got.headers["X-Api-Key"] == "s3cret"
        assert got.headers["NGSILD-Tenant"] == "commune-a"
        assert got.headers["Content-Type"] == "application/json"
        assert "json-ld#context" in got.headers["Link"]
        assert got.body["type"] == "Notification"
        assert got.body["subscriptionId"] == loc.rsplit("/", 1)[1]
        assert got.body["data"] == [{"id": "urn:ngsi-ld:Bin:1", "type": "Bin",
                                     "fill": {"type": "Property", "value": 80}}]
        note = client.get(loc, headers=tenant).json()["notification"]
        assert (note["timesSent"], note["timesFailed"], note["status"]) == (1, 0, "ok")
        assert note["lastSuccess"] == note["lastNotification"]


def test_batch_operations_notify_once_per_group(api: TestClient, receiver: HttpReceiver) -> None:
    subscribe(api, receiver.url)
    r = api.post("/ngsi-ld/v1/entityOperations/upsert",
                 json=[bin_(n, n) for n in range(5)])
    assert r.status_code == 201, r.text
    [got] = receiver.wait_for(1)
    assert sorted(e["id"] for e in got.body["data"]) == [f"urn:ngsi-ld:Bin:{n}"
                                                         for n in range(5)]
    api.post("/ngsi-ld/v1/entityOperations/update",
             json=[{"id": "urn:ngsi-ld:Bin:1", "fill": {"type": "Property", "value": 7}}])
    receiver.wait_for(2)
    assert receiver.received[1].body["data"][0]["fill"]["value"] == 7


def test_fast_path_updates_notify(api: TestClient, receiver: HttpReceiver) -> None:
    subscribe(api, receiver.url, watchedAttributes=["fill"],
              notification={"format": "keyValues"})
    create(api, bin_(1, 1))
    r = api.patch(f"{ENTITIES}/urn:ngsi-ld:Bin:1/attrs",
                  json={"fill": {"type": "Property", "value": 2}})
    assert r.status_code == 204
    r = api.patch(f"{ENTITIES}/urn:ngsi-ld:Bin:1/attrs/fill", json={"value": 3})
    assert r.status_code == 204
    assert [e["fill"] for e in receiver.wait_for_data(3)] == [1, 2, 3]  # in order


def test_entity_selectors_watched_attributes_and_filters(api: TestClient,
                                                         receiver: HttpReceiver) -> None:
    subscribe(api, receiver.url + "/id", entities=[{"id": "urn:ngsi-ld:Bin:2"}])
    subscribe(api, receiver.url + "/pattern", entities=[{"idPattern": ".*:Bin:[13]"}])
    subscribe(api, receiver.url + "/watched", entities=[{"type": "Bin"}],
              watchedAttributes=["temp"])
    subscribe(api, receiver.url + "/geo", geoQ={
        "georel": "near;maxDistance==2000", "geometry": "Point", "coordinates": [5.0, 45.0]})
    subscribe(api, receiver.url + "/scope", scopeQ="/FR/01/#")
    here = {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [5.001, 45.001]}}
    create(api, bin_(1, 1, location=here))
    create(api, bin_(2, 1, scope="/FR/01/villars"))
    create(api, bin_(3, 1, temp={"type": "Property", "value": 20}))
    idle(api)
    seen: dict[str, list[str]] = {}
    for r in receiver.received:
        seen.setdefault(r.path, []).extend(e["id"] for e in r.body["data"])
    assert {path: sorted(ids) for path, ids in seen.items()} == {
        "/id": ["urn:ngsi-ld:Bin:2"],
        "/pattern": ["urn:ngsi-ld:Bin:1", "urn:ngsi-ld:Bin:3"],
        "/watched": ["urn:ngsi-ld:Bin:3"],
        "/geo": ["urn:ngsi-ld:Bin:1"],
        "/scope": ["urn:ngsi-ld:Bin:2"],
    }


def test_triggers_for_deletions(api: TestClient, receiver: HttpReceiver) -> None:
    subscribe(api, receiver.url + "/entity", notificationTrigger=["entityDeleted"])
    subscribe(api, receiver.url + "/attr", notificationTrigger=["attributeDeleted"],
              notification={"format": "concise"})
    subscribe(api, receiver.url + "/created", notificationTrigger=["entityCreated"])
    create(api, bin_(1, 1, temp={"type": "Property", "value": 3}))
    assert api.delete(f"{ENTITIES}/urn:ngsi-ld:Bin:1/attrs/temp").status_code == 204
    assert api.delete(f"{ENTITIES}/urn:ngsi-ld:Bin:1").status_code == 204
    idle(api)
    by_path = {r.path: r.body["data"] for r in receiver.received}
    assert by_path["/created"][0]["id"] == "urn:ngsi-ld:Bin:1"
    assert by_path["/attr"][0]["temp"] == "urn:ngsi-ld:null"
    assert by_path["/entity"][0]["id"] == "urn:ngsi-ld:Bin:1"
    assert "deletedAt" in by_path["/entity"][0]
    assert len(receiver.received) == 3


def test_formats_attributes_show_changes_sys_attrs_and_json_ld(api: TestClient,
                                                               receiver: HttpReceiver) -> None:
    subscribe(api, receiver.url + "/kv", notification={"format": "keyValues",
                                                       "attributes": ["fill"]})
    subscribe(api, receiver.url + "/concise", notification={"format": "concise",
                                                            "showChanges": True})
    subscribe(api, receiver.url + "/sys", notification={"sysAttrs": True,
                                                        "attributes": ["temp"]})
    subscribe(api, receiver.url + "/ld", notification={
        "endpoint": {"accept": "application/ld+json"}})
    create(api, bin_(1, 10, temp={"type": "Property", "value": 3}))
    idle(api)
    r = api.patch(f"{ENTITIES}/urn:ngsi-ld:Bin:1/attrs",
                  json={"fill": {"type": "Property", "value": 20}})
    assert r.status_code == 204
    idle(api)
    last: dict[str, Any] = {r.path: r for r in receiver.received}
    assert last["/kv"].body["data"] == [{"id": "urn:ngsi-ld:Bin:1", "type": "Bin", "fill": 20}]
    assert last["/concise"].body["data"][0]["fill"] == {"value": 20, "previousValue": 10}
    sys_ = last["/sys"].body["data"][0]
    assert set(sys_) == {"id", "type", "createdAt", "modifiedAt", "temp"}
    assert "modifiedAt" in sys_["temp"]
    ld = last["/ld"]
    assert ld.headers["Content-Type"] == "application/ld+json"
    assert "@context" in ld.body and "Link" not in ld.headers


def test_throttling_drops_notifications_within_the_period(api: TestClient,
                                                          receiver: HttpReceiver) -> None:
    subscribe(api, receiver.url, throttling=3600)
    create(api, bin_(1, 1))
    idle(api)
    create(api, bin_(2, 1))
    idle(api)
    assert len(receiver.received) == 1


def test_paused_then_resumed(api: TestClient, receiver: HttpReceiver) -> None:
    loc = subscribe(api, receiver.url, isActive=False)
    create(api, bin_(1, 1))
    idle(api)
    assert receiver.received == []
    assert status(api, loc)["status"] == "paused"
    assert api.patch(loc, json={"isActive": True}).status_code == 204
    create(api, bin_(2, 1))
    receiver.wait_for(1)
    assert receiver.data()[0]["id"] == "urn:ngsi-ld:Bin:2"


def test_expired_subscription_stops(api: TestClient, receiver: HttpReceiver) -> None:
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1.5)
    loc = subscribe(api, receiver.url, expiresAt=soon.isoformat())
    create(api, bin_(1, 1))
    receiver.wait_for(1)
    while dt.datetime.now(dt.UTC) <= soon:
        time.sleep(0.1)
    create(api, bin_(2, 1))
    idle(api)
    assert len(receiver.received) == 1
    assert status(api, loc)["status"] == "expired"


def test_time_interval_sends_the_current_state_periodically(api: TestClient,
                                                            receiver: HttpReceiver) -> None:
    create(api, bin_(1, 1))
    subscribe(api, receiver.url, timeInterval=0.5, q="fill>0")
    first = receiver.wait_for(1)[0]
    assert [e["id"] for e in first.body["data"]] == ["urn:ngsi-ld:Bin:1"]
    api.patch(f"{ENTITIES}/urn:ngsi-ld:Bin:1/attrs", json={"fill": {"type": "Property",
                                                                      "value": 5}})
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # a later period carries the new value
        if any(r.body["data"][0]["fill"]["value"] == 5 for r in receiver.received):
            break
        time.sleep(0.05)
    else:
        raise AssertionError("no periodic notification with the new value")
    # the write itself did not notify: a periodic subscription ignores changes
    assert all(len(r.body["data"]) == 1 for r in receiver.received)


# ---------------------------------------------------------- failure and retry

def test_receiver_down_is_retried_with_backoff_and_status_shows_it(
        api: TestClient) -> None:
    port = free_port()  # nothing listens there yet
    loc = subscribe(api, f"http://127.0.0.1:{port}/n")
    create(api, bin_(1, 1))
    deadline = time.monotonic() + 10
    while status(api, loc)["notification"]["timesFailed"] < 2:
        assert time.monotonic() < deadline, "no retries recorded"
        time.sleep(0.05)
    note = status(api, loc)["notification"]
    assert note["status"] == "failed" and "lastFailure" in note and "lastSuccess" not in note
    with http_receiver(port) as rec:  # the receiver comes back: the queued one arrives
        rec.wait_for(1)
        idle(api)
        assert rec.data()[0]["id"] == "urn:ngsi-ld:Bin:1"
    note = status(api, loc)["notification"]
    assert note["status"] == "ok" and note["timesSent"] == note["timesFailed"] + 1


def test_backoff_doubles_between_attempts(api: TestClient, receiver: HttpReceiver) -> None:
    receiver.statuses = [503, 503, 503]
    subscribe(api, receiver.url)
    create(api, bin_(1, 1))
    receiver.wait_for(1, timeout=15)
    gaps = [b - a for a, b in zip(receiver.refused, [*receiver.refused[1:],
                                                     receiver.received[0].at], strict=True)]
    # retry_base 0.2 s: waits of at least 0.2, 0.4, 0.8 s (never shorter)
    for n, gap in enumerate(gaps):
        assert gap >= 0.2 * 2 ** n * 0.95, gaps


def test_a_refusal_is_not_retried(api: TestClient, receiver: HttpReceiver) -> None:
    receiver.statuses = [400]
    loc = subscribe(api, receiver.url)
    create(api, bin_(1, 1))
    idle(api)
    time.sleep(0.5)  # a retry would come after 0.2 s
    assert len(receiver.refused) == 1 and receiver.received == []
    assert status(api, loc)["notification"]["timesFailed"] == 1


def test_a_slow_receiver_blocks_neither_writes_nor_other_receivers(
        api: TestClient, receiver: HttpReceiver) -> None:
    release = threading.Event()
    with http_receiver() as slow:
        slow.before_answer = lambda: release.wait(10)
        subscribe(api, slow.url)
        subscribe(api, receiver.url)
        for n in range(20):  # more than the slow endpoint's concurrency
            create(api, bin_(n, 1))
        receiver.wait_for_data(20)
        assert slow.received == [] and not release.is_set()  # still stuck
        release.set()
        assert [e["id"] for e in slow.wait_for_data(20)] == [
            f"urn:ngsi-ld:Bin:{n}" for n in range(20)]  # in order, once released


# ------------------------------------------------------------------------ MQTT

@pytest.mark.parametrize("version", ["mqtt3.1.1", "mqtt5.0"])
def test_mqtt_notification(api: TestClient, version: str) -> None:
    with mqtt_subscriber() as (topic, got):
        loc = subscribe(api, f"mqtt://127.0.0.1:1883/{topic}", notification={
            "format": "keyValues",
            "endpoint": {"receiverInfo": [{"key": "X-Site", "value": "villars"}],
                         "notifierInfo": [{"key": "MQTT-QoS", "value": "1"},
                                          {"key": "MQTT-Version", "value": version}]}})
        create(api, bin_(1, 42))
        qos, message = got.get(timeout=10)
        assert qos == 1
        assert message["metadata"]["X-Site"] == "villars"
        assert message["metadata"]["Content-Type"] == "application/json"
        assert message["body"]["type"] == "Notification"
        assert message["body"]["data"] == [{"id": "urn:ngsi-ld:Bin:1", "type": "Bin",
                                            "fill": 42}]
        idle(api)
        assert status(api, loc)["notification"]["timesSent"] == 1


def test_mqtt_broker_down_is_retried(api: TestClient) -> None:
    loc = subscribe(api, f"mqtt://127.0.0.1:{free_port()}/bocage-test/nobody")
    create(api, bin_(1, 1))
    deadline = time.monotonic() + 10
    while status(api, loc)["notification"]["timesFailed"] < 2:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert status(api, loc)["notification"]["status"] == "failed"


# ----------------------------------------------------------- durability

def test_queued_notifications_survive_a_restart(fast_settings: Settings,
                                                tmp_path: Path) -> None:
    port = free_port()
    store = SQLiteStore(str(tmp_path / "bocage.db"))
    with admin_client(create_app(fast_settings, store)) as client:
        subscribe(client, f"http://127.0.0.1:{port}/n")
        create(client, bin_(1, 1))
    store.close()
    store = SQLiteStore(str(tmp_path / "bocage.db"))
    with http_receiver(port) as rec, admin_client(create_app(fast_settings, store)):
        rec.wait_for(1)
        assert rec.data()[0]["id"] == "urn:ngsi-ld:Bin:1"
    store.close()
