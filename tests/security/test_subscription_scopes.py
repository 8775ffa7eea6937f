"""Subscriptions under access control: a subscriber is notified only of what it may read
(its grants when it subscribed, and now), sees and changes only its own subscriptions (or
those it manages), and a revoked key stops receiving anything. Real writes, a real HTTP
receiver per commune, the real outbox."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from receivers import HttpReceiver, http_receiver
from starlette.testclient import TestClient

from bocage.api.app import create_app
from bocage.domain.access import ROOT, Grant
from bocage.settings import Settings
from bocage.storage.base import Store

NGSI = "/ngsi-ld/v1"
EPCI = "/FR/01/240100883"
A, B = EPCI + "/01004", EPCI + "/01202"


@pytest.fixture
def world(settings: Settings, store: Store) -> Iterator[dict[str, Any]]:
    app = create_app(settings.replace(notification_retry_base=0.2), store)
    with TestClient(app, raise_server_exceptions=False) as c:
        security = app.state.security

        def key(*grants: tuple[str, str]) -> tuple[str, dict[str, str]]:
            made, k = security.create_key([Grant(r, s) for r, s in grants], name="t", by="t")
            return made.key_id, {"Authorization": f"Bearer {k}"}

        yield {"app": app, "client": c, "key": key, "root": key(("admin", ROOT))[1]}


def light(n: int, scope: str, power: float = 1.0) -> dict[str, Any]:
    return {"id": f"urn:ngsi-ld:Streetlight:{scope[-5:]}-{n}", "type": "Streetlight",
            "scope": scope, "powerConsumption": {"type": "Property", "value": power}}


def subscribe(c: TestClient, headers: dict[str, str], url: str, **extra: Any) -> str:
    r = c.post(f"{NGSI}/subscriptions", headers=headers, json={
        "type": "Subscription", "entities": [{"type": "Streetlight"}],
        "notification": {"endpoint": {"uri": url}}, **extra})
    assert r.status_code == 201, r.text
    return str(r.headers["Location"]).rsplit("/", 1)[1]


def ids(rec: HttpReceiver) -> set[str]:
    return {d["id"] for d in rec.data()}


def idle(world: dict[str, Any]) -> None:
    assert world["app"].state.notifier.wait_idle(10)


def test_a_foreign_communes_subscriber_receives_nothing_of_another_commune(
        world: dict[str, Any]) -> None:
    c, key, root = world["client"], world["key"], world["root"]
    _, integrator_a = key(("integrator", A))
    key_b, agent_b = key(("agent", B))
    _, epci = key(("elu", EPCI))
    with http_receiver() as rec_a, http_receiver() as rec_b, http_receiver() as rec_epci, \
            http_receiver() as rec_root:
        sub_a = subscribe(c, integrator_a, rec_a.url)
        sub_b = subscribe(c, agent_b, rec_b.url)
        subscribe(c, epci, rec_epci.url)
        subscribe(c, root, rec_root.url)
        for n in range(3):
            for scope in (A, B):
                r = c.post(f"{NGSI}/entities", headers=root, json=light(n, scope))
                assert r.status_code == 201, r.text
        r = c.post(f"{NGSI}/entities", headers=root,
                   json={**light(9, "/open/eclairage"), "scope": "/open/eclairage"})
        assert r.status_code == 201, r.text
        r = c.post(f"{NGSI}/entities", headers=root, json={
            "id": "urn:ngsi-ld:Streetlight:unscoped", "type": "Streetlight",
            "powerConsumption": {"type": "Property", "value": 3.0}})
        assert r.status_code == 201, r.text
        idle(world)
        a_ids = {f"urn:ngsi-ld:Streetlight:01004-{n}" for n in range(3)}
        b_ids = {f"urn:ngsi-ld:Streetlight:01202-{n}" for n in range(3)}
        open_id = "urn:ngsi-ld:Streetlight:irage-9"
        rec_root.wait_for_data(8)
        assert ids(rec_root) == a_ids | b_ids | {open_id, "urn:ngsi-ld:Streetlight:unscoped"}
        rec_epci.wait_for_data(7)
        assert ids(rec_epci) == a_ids | b_ids | {open_id}
        rec_a.wait_for_data(4)
        rec_b.wait_for_data(4)
        assert ids(rec_a) == a_ids | {open_id}  # its commune and open data, nothing else
        assert ids(rec_b) == b_ids | {open_id}
        for r in (*rec_a.received, *rec_b.received):
            assert all(A in str(d) or "/open" in str(d) for d in r.body["data"]) or all(
                B in str(d) or "/open" in str(d) for d in r.body["data"])

        # an entity moved from B to A: B's subscriber is not told where it went
        r = c.post(f"{NGSI}/entityOperations/upsert", headers=root,
                   json=[light(0, A, power=2.0) | {"id": "urn:ngsi-ld:Streetlight:01202-0"}])
        assert r.status_code in (201, 204), r.text
        idle(world)
        time.sleep(0.2)
        assert len(rec_b.data()) == 4
        assert any(d["id"] == "urn:ngsi-ld:Streetlight:01202-0" for d in rec_a.data())

        # each sees and changes only its own subscription
        listed = c.get(f"{NGSI}/subscriptions", headers=agent_b).json()
        assert [s["id"] for s in listed] == [sub_b]
        assert c.get(f"{NGSI}/subscriptions/{sub_a}", headers=agent_b).status_code == 404
        r = c.patch(f"{NGSI}/subscriptions/{sub_a}", headers=agent_b,
                    json={"notification": {"endpoint": {"uri": rec_b.url}}})
        assert r.status_code == 404
        assert c.delete(f"{NGSI}/subscriptions/{sub_a}", headers=agent_b).status_code == 404
        assert c.get(f"{NGSI}/subscriptions/{sub_a}", headers=integrator_a).status_code == 200
        assert len(c.get(f"{NGSI}/subscriptions", headers=root).json()) == 4
        # commune A's administrator manages its integrator's subscription, not B's
        _, admin_a = key(("admin", A))
        managed = [s["id"] for s in c.get(f"{NGSI}/subscriptions", headers=admin_a).json()]
        assert managed == [sub_a]

        # B's key revoked: its subscription stops delivering at once
        r = c.delete(f"/api/keys/{key_b}", headers=root)
        assert r.status_code in (200, 204), r.text
        for n in (5, 6):
            assert c.post(f"{NGSI}/entities", headers=root,
                          json=light(n, B)).status_code == 201
        idle(world)
        rec_root.wait_for_data(11)
        time.sleep(0.3)
        assert len(rec_b.data()) == 4  # nothing more
        sub = c.get(f"{NGSI}/subscriptions/{sub_b}", headers=root).json()
        assert sub["notification"]["timesSent"] == len(rec_b.received)


def test_subscriptions_and_alarm_recipients_are_on_record_without_secrets(
        world: dict[str, Any]) -> None:
    c, key = world["client"], world["key"]
    key_id, integrator = key(("integrator", A))
    sub = subscribe(c, integrator, "mqtt://bocage:s3cret@127.0.0.1:1883/alarmes?token=abc")
    assert c.patch(f"{NGSI}/subscriptions/{sub}", headers=integrator,
                   json={"isActive": False}).status_code == 204
    assert c.delete(f"{NGSI}/subscriptions/{sub}", headers=integrator).status_code == 204
    _, agent = key(("agent", A))
    r = c.put("/api/alarm-recipients/mairie", headers=agent, json={
        "channel": "webhook", "address": "https://hooks.example.fr/in?key=SECRETKEY",
        "scope": A})
    assert r.status_code == 200, r.text
    assert c.delete("/api/alarm-recipients/mairie", headers=agent).status_code == 204
    records = world["app"].state.security.store.audit_records()
    mine = [(x.actor, x.action, x.target) for x in records
            if x.action.startswith(("subscription.", "recipient."))]
    assert [a for _, a, _ in mine] == ["subscription.create", "subscription.update",
                                       "subscription.delete", "recipient.put",
                                       "recipient.delete"]
    assert all(actor.startswith("key:") for actor, _, _ in mine)
    assert mine[0] == (f"key:{key_id}", "subscription.create", sub)
    details = str([x.detail for x in records])
    assert "mqtt://127.0.0.1:1883/alarmes" in details
    assert "s3cret" not in details and "token=abc" not in details
    assert "SECRETKEY" not in details and "https://hooks.example.fr/in" in details
