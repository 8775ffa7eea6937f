"""Alarm notifications to people, in-process and end to end: real writes raise real
alarms; a real SMTP server (aiosmtpd), a real HTTP receiver and the local Mosquitto
receive the messages through the real outbox."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from admin_client import admin_client
from receivers import HttpReceiver, free_port, http_receiver, mqtt_subscriber
from smtp_sink import Sink, body, smtp_sink
from starlette.testclient import TestClient

from bocage.api.app import create_app
from bocage.domain.access import Grant
from bocage.settings import Settings
from bocage.storage.sqlite import SQLiteStore

EPCI = "/FR/01/240100883"
A, B = EPCI + "/01004", EPCI + "/01202"
RECIPIENTS = "/api/alarm-recipients"


@pytest.fixture
def sink() -> Iterator[Sink]:
    with smtp_sink() as s:
        yield s


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    with http_receiver() as rec:
        yield rec


def alarm_settings(settings: Settings, smtp_port: int, **extra: Any) -> Settings:
    return settings.replace(smtp_host="127.0.0.1", smtp_port=smtp_port, smtp_security="none",
                            smtp_sender="alarmes@bocage.example.fr",
                            alarm_digest_minutes=0.0, public_url="https://bocage.example.fr",
                            notification_retry_base=0.2, notification_retry_max=1.0,
                            notification_timeout=2.0, **extra)


@pytest.fixture
def app_for(settings: Settings, tmp_path: Path) -> Iterator[Any]:
    opened: list[tuple[TestClient, SQLiteStore]] = []

    def start(smtp_port: int, **extra: Any) -> TestClient:
        store = SQLiteStore(str(tmp_path / "bocage.db"))
        client = admin_client(create_app(alarm_settings(settings, smtp_port, **extra), store))
        client.__enter__()
        opened.append((client, store))
        return client

    yield start
    for client, store in opened:
        client.__exit__(None, None, None)
        store.close()


def put(c: TestClient, ident: str, **members: Any) -> dict[str, Any]:
    r = c.put(f"{RECIPIENTS}/{ident}", json=members)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def failing_light(c: TestClient, n: int, scope: str = A) -> str:
    ident = f"urn:ngsi-ld:Streetlight:{scope[-5:]}-{n}"
    at = "2026-11-26T17:30:00Z"
    r = c.post("/ngsi-ld/v1/entities", json={
        "id": ident, "type": "Streetlight", "scope": scope,
        "name": {"type": "Property", "value": f"rue de la Gare n°{n}"},
        "powerState": {"type": "Property", "value": "on", "observedAt": at},
        "powerConsumption": {"type": "Property", "value": 0.0, "observedAt": at}})
    assert r.status_code == 201, r.text
    return ident


def settle(c: TestClient, timeout: float = 10.0) -> None:
    """Rules evaluated, their alarms written (so their messages queued), then sent."""
    app: Any = c.app
    assert app.state.supervisor.wait_idle(timeout)
    assert app.state.notifier.wait_idle(timeout)


def test_raised_and_cleared_alarms_reach_matching_recipients_on_every_channel(
        app_for: Any, sink: Sink, receiver: HttpReceiver) -> None:
    c = app_for(sink.port)
    with mqtt_subscriber() as (topic, got):
        put(c, "mairie-a", channel="email", address="mairie@ambe.example.fr", scope=A,
            name="Mairie d'Ambérieu")
        put(c, "epci", channel="webhook", address=receiver.url + "/alarmes", scope=EPCI,
            min_severity="major")
        put(c, "supervision-a", channel="mqtt", address=f"mqtt://127.0.0.1:1883/{topic}",
            scope=A)
        put(c, "mairie-b", channel="email", address="mairie@b.example.fr", scope=B)
        put(c, "water-a", channel="email", address="eau@ambe.example.fr", scope=A,
            domains=["water"])
        put(c, "critical-a", channel="email", address="astreinte@ambe.example.fr", scope=A,
            min_severity="critical")
        light = failing_light(c, 7)
        settle(c)
        [mail] = sink.wait_for(1)
        assert str(mail["To"]) == "mairie@ambe.example.fr"
        assert str(mail["From"]) == "alarmes@bocage.example.fr"
        assert str(mail["Subject"]) == ("[bocage] Nouvelle alarme (majeure) : Panne de lampe – "
                                        "Point lumineux rue de la Gare n°7 (Ambérieu-en-Bugey)")
        text = body(mail)
        assert "Commune : Ambérieu-en-Bugey (01004)" in text
        assert "Gravité : majeure" in text
        assert "Heure (Paris) : " in text
        [alarm] = c.get("/api/alarms").json()
        assert alarm["source"] == light
        link = "https://bocage.example.fr/ui/alarmes/" + alarm["id"]
        assert link in text
        [hook] = receiver.wait_for(1)
        assert hook.path == "/alarmes"
        assert hook.body["type"] == "AlarmNotification" and hook.body["recipient"] == "epci"
        [ev] = hook.body["events"]
        assert (ev["event"], ev["alarm"], ev["severity"], ev["link"]) == (
            "raised", alarm["id"], "major", link)
        assert ev["equipment"] == {"id": light, "name": "rue de la Gare n°7",
                                   "type": "Streetlight"}
        assert ev["commune"] == {"code": "01004", "name": "Ambérieu-en-Bugey"}
        qos, message = got.get(timeout=10)
        assert qos == 1 and message["recipient"] == "supervision-a"
        assert message["subject"] == str(mail["Subject"])

        r = c.post(f"/api/alarms/{alarm['id']}/clear", json={"reason": "lampe changée"})
        assert r.status_code == 200, r.text
        settle(c)
        sink.wait_for(2)
        [cleared] = [m for m in sink.messages if "levée" in str(m["Subject"])]
        assert str(cleared["Subject"]).startswith("[bocage] Alarme levée (majeure)")
        assert receiver.wait_for(2)[1].body["events"][0]["event"] == "cleared"
        assert got.get(timeout=10)[1]["events"][0]["event"] == "cleared"
    # nobody outside the subtree, the domain or the severity was told anything
    assert {str(m["To"]) for m in sink.messages} == {"mairie@ambe.example.fr"}
    deadline = time.monotonic() + 10  # a success is recorded once the server answered
    while (shown := c.get(f"{RECIPIENTS}/mairie-a").json())["status"]["timesSent"] < 2:
        assert time.monotonic() < deadline, shown["status"]
        time.sleep(0.1)
    assert shown["status"]["timesSent"] == 2 and shown["status"]["timesFailed"] == 0
    assert c.get(f"{RECIPIENTS}/mairie-b").json()["status"]["timesSent"] == 0


def test_a_flood_of_alarms_becomes_one_digest_per_window(app_for: Any, sink: Sink) -> None:
    c = app_for(sink.port)
    put(c, "mairie-a", channel="email", address="mairie@ambe.example.fr", scope=A,
        digest_minutes=0.05)  # 3 s
    start = time.monotonic()
    failing_light(c, 1)
    settle(c)
    [first] = sink.wait_for(1, timeout=2.5)  # the first goes at once
    assert time.monotonic() - start < 2.5
    assert "Nouvelle alarme" in str(first["Subject"])
    for n in (2, 3, 4, 5):
        failing_light(c, n)
    assert c.app.state.supervisor.wait_idle(10)  # type: ignore[attr-defined]
    time.sleep(1.0)
    assert len(sink.messages) == 1  # the others wait for the end of the window
    digest = sink.wait_for(2, timeout=10)[1]
    assert str(digest["Subject"]) == "[bocage] 4 changements d'alarmes : 4 nouvelle(s)"
    text = body(digest)
    for n in (2, 3, 4, 5):
        assert f"rue de la Gare n°{n}" in text
    time.sleep(1.0)
    assert len(sink.messages) == 2


def test_escalation_is_notified(app_for: Any, sink: Sink) -> None:
    c = app_for(sink.port, escalate_after_minutes=0.0)
    put(c, "astreinte", channel="email", address="astreinte@ambe.example.fr", scope=EPCI,
        min_severity="critical")
    failing_light(c, 1)
    settle(c)
    assert sink.messages == []  # major: below this recipient's threshold
    c.app.state.supervisor.tick()  # type: ignore[attr-defined]
    settle(c)
    [mail] = sink.wait_for(1)
    assert str(mail["Subject"]).startswith("[bocage] Alarme aggravée (critique) : Panne de lampe")
    assert "critique (auparavant : majeure)" in body(mail)


def test_messages_wait_for_a_dead_smtp_server_across_a_restart(app_for: Any) -> None:
    port = free_port()  # nothing listens there yet
    c = app_for(port)
    put(c, "mairie-a", channel="email", address="mairie@ambe.example.fr", scope=A)
    failing_light(c, 1)
    assert c.app.state.supervisor.wait_idle(10)  # type: ignore[attr-defined]
    deadline = time.monotonic() + 10
    while c.get(f"{RECIPIENTS}/mairie-a").json()["status"]["timesFailed"] < 2:
        assert time.monotonic() < deadline, "the dead server was not retried"
        time.sleep(0.1)
    status = c.get(f"{RECIPIENTS}/mairie-a").json()["status"]
    assert status["lastError"].startswith("SMTP") and status["lastSuccess"] is None
    c.__exit__(None, None, None)  # the server stops with the message queued
    with smtp_sink(port) as sink:
        c = app_for(port)
        [mail] = sink.wait_for(1, timeout=15)
        assert "Nouvelle alarme" in str(mail["Subject"])
        # the outbox records the success once the server has answered: a moment later
        deadline = time.monotonic() + 10
        while c.get(f"{RECIPIENTS}/mairie-a").json()["status"]["lastSuccess"] is None:
            assert time.monotonic() < deadline, "the delivery was never recorded"
            time.sleep(0.1)


def test_recipients_are_managed_through_the_callers_scopes(app_for: Any, sink: Sink) -> None:
    c = app_for(sink.port)
    security: Any = c.app.state.security  # type: ignore[attr-defined]
    _, key_b = security.create_key([Grant("agent", B)], name="agent b", by="t")
    agent_b = {"Authorization": f"Bearer {key_b}"}
    put(c, "mairie-a", channel="email", address="mairie@ambe.example.fr", scope=A)
    r = c.put(f"{RECIPIENTS}/mairie-b", headers=agent_b,
              json={"channel": "email", "address": "mairie@b.example.fr", "scope": B})
    assert r.status_code == 200, r.text
    # another commune's subtree, or A's recipient under the same id: refused, unchanged
    r = c.put(f"{RECIPIENTS}/spy", headers=agent_b,
              json={"channel": "email", "address": "spy@b.example.fr", "scope": A})
    assert r.status_code in (403, 404), r.text
    assert r.headers["content-type"] == "application/problem+json"
    r = c.put(f"{RECIPIENTS}/mairie-a", headers=agent_b,
              json={"channel": "email", "address": "spy@b.example.fr", "scope": B})
    assert r.status_code in (403, 404, 409), r.text
    assert c.get(f"{RECIPIENTS}/mairie-a").json()["address"] == "mairie@ambe.example.fr"
    assert [x["id"] for x in c.get(RECIPIENTS, headers=agent_b).json()] == ["mairie-b"]
    assert c.get(f"{RECIPIENTS}/mairie-a", headers=agent_b).status_code == 404
    assert c.delete(f"{RECIPIENTS}/mairie-a", headers=agent_b).status_code == 404
    assert sorted(x["id"] for x in c.get(RECIPIENTS).json()) == ["mairie-a", "mairie-b"]
    # bad input: problem details saying why, nothing stored
    r = c.put(f"{RECIPIENTS}/broken", json={"channel": "pigeon", "address": "x", "scope": A})
    assert r.status_code == 400 and "channel must be one of" in r.json()["detail"]
    assert r.headers["content-type"] == "application/problem+json"
    assert c.get(f"{RECIPIENTS}/broken").status_code == 404
    assert c.delete(f"{RECIPIENTS}/mairie-b").status_code == 204
    assert [x["id"] for x in c.get(RECIPIENTS).json()] == ["mairie-a"]
    # the commune B agent's failing light tells A's recipient nothing
    failing_light(c, 9, scope=B)
    settle(c)
    time.sleep(0.3)
    assert sink.messages == []


def test_recipients_written_elsewhere_are_picked_up(app_for: Any, sink: Sink) -> None:
    """Recipients written past the observed store (the CLI writes into the database)
    raise no change event here: the notifier reloads its recipients after a while."""
    from bocage.alerting.service import put_recipient
    from bocage.api.services import utc_now

    c = app_for(sink.port)
    app: Any = c.app
    app.state.alerting.cache_seconds = 0.5
    assert c.get(RECIPIENTS).json() == []  # (no recipient yet: the cache holds an empty list)
    failing_light(c, 1)
    settle(c)
    backend = app.state.services.store.raw.inner  # under the listeners: no change event
    put_recipient(backend, app.state.alerting.terms, "", {
        "id": "cli", "channel": "email", "address": "cli@ambe.example.fr", "scope": A},
        utc_now())
    time.sleep(0.6)
    failing_light(c, 2)
    settle(c)
    [mail] = sink.wait_for(1)
    assert str(mail["To"]) == "cli@ambe.example.fr" and "n°2" in str(mail["Subject"])
