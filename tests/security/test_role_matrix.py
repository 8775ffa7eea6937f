"""Role × action: every role tried on every action through the HTTP API.

EXPECTED is the product's table (docs/security.md), written out here independently
of ``bocage.domain.access.ROLE_ACTIONS``; each action has a real request that needs it.
Scoped actions are tried with the role granted on commune A; instance-wide ones
(audit, platform configuration) with the role granted on ``/``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import count
from typing import Any

import pytest
from starlette.testclient import TestClient

from bocage.api.app import create_app
from bocage.domain.access import ROLE_ACTIONS, ROLES, ROOT, Action, Grant
from bocage.settings import Settings
from bocage.storage.base import Store

NGSI = "/ngsi-ld/v1"
A = "/FR/01/240100883/01004"
LIGHT = "urn:ngsi-ld:Streetlight:01004-0001"
EUI = "C0C0C0C0C0C0C000"

ALL = set(Action)
EXPECTED: dict[str, set[Action]] = {
    "admin": ALL,
    "agent": {Action.ENTITIES_READ, Action.ENTITIES_WRITE, Action.DEVICES_READ,
              Action.DEVICES_WRITE, Action.LIGHTING_COMMAND, Action.COMMANDS_READ},
    "elu": {Action.ENTITIES_READ, Action.COMMANDS_READ, Action.FIGURES_READ},
    "operator": {Action.ENTITIES_READ, Action.ENTITIES_WRITE, Action.DEVICES_READ,
                 Action.COMMANDS_READ},
    "police": {Action.LIGHTING_COMMAND},
    "dpo": {Action.AUDIT_READ, Action.ENTITIES_READ},
    "integrator": {Action.ENTITIES_READ, Action.ENTITIES_WRITE},
    "anonymous": set(),
}
INSTANCE_WIDE = {Action.AUDIT_READ, Action.PLATFORM}
_n = count()

Probe = Callable[[TestClient, dict[str, str]], Any]


def _probes() -> dict[Action, tuple[Probe, int]]:
    """action -> (a request that needs it, its success status)."""
    def entity_read(c: TestClient, h: dict[str, str]) -> Any:
        return c.get(f"{NGSI}/entities/{LIGHT}", headers=h)

    def entity_write(c: TestClient, h: dict[str, str]) -> Any:
        return c.patch(f"{NGSI}/entities/{LIGHT}/attrs", headers=h,
                       json={"powerState": {"type": "Property", "value": f"on-{next(_n)}"}})

    def devices_read(c: TestClient, h: dict[str, str]) -> Any:
        return c.get(f"/api/devices/{EUI}", headers=h)

    def devices_write(c: TestClient, h: dict[str, str]) -> Any:
        return c.post("/api/devices", headers=h, json={
            "devEui": f"D{next(_n):015X}", "model": "bocage-sl1", "assetId": LIGHT, "scope": A})

    def command(c: TestClient, h: dict[str, str]) -> Any:
        return c.post("/api/commands", headers=h, json={
            "target": LIGHT, "action": "on", "durationMinutes": 30, "reason": "incident"})

    def commands_read(c: TestClient, h: dict[str, str]) -> Any:
        return c.get("/api/commands", headers=h)

    def audit_read(c: TestClient, h: dict[str, str]) -> Any:
        return c.get("/api/audit", headers=h)

    def access_manage(c: TestClient, h: dict[str, str]) -> Any:
        return c.post("/api/keys", headers=h, json={"grants": [{"role": "elu", "scope": A}]})

    def figures_read(c: TestClient, h: dict[str, str]) -> Any:
        return c.get("/api/sobriety", headers=h)

    def platform(c: TestClient, h: dict[str, str]) -> Any:
        return c.post(f"{NGSI}/jsonldContexts", headers=h,
                      json={"@context": {f"t{next(_n)}": "urn:x"}})

    return {
        Action.ENTITIES_READ: (entity_read, 200), Action.ENTITIES_WRITE: (entity_write, 204),
        Action.DEVICES_READ: (devices_read, 200), Action.DEVICES_WRITE: (devices_write, 201),
        Action.LIGHTING_COMMAND: (command, 202), Action.COMMANDS_READ: (commands_read, 200),
        Action.AUDIT_READ: (audit_read, 200), Action.ACCESS_MANAGE: (access_manage, 201),
        Action.PLATFORM: (platform, 201), Action.FIGURES_READ: (figures_read, 200),
    }


def test_the_code_has_the_documented_table() -> None:
    assert set(ROLES) == set(EXPECTED) - {"anonymous"}
    assert {r: set(a) for r, a in ROLE_ACTIONS.items()} == {
        r: a for r, a in EXPECTED.items() if r != "anonymous"}


@pytest.fixture
def app_client(settings: Settings, store: Store) -> Iterator[tuple[Any, TestClient]]:
    app = create_app(settings, store)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield app, c


def test_every_role_on_every_action(app_client: tuple[Any, TestClient]) -> None:
    app, c = app_client
    security = app.state.security

    def key(role: str, scope: str) -> dict[str, str]:
        _, k = security.create_key([Grant(role, scope)], name=role, by="test")
        return {"Authorization": f"Bearer {k}"}

    root = key("admin", ROOT)
    assert c.post(f"{NGSI}/entities", headers=root, json={
        "id": LIGHT, "type": "Streetlight", "scope": A,
        "powerState": {"type": "Property", "value": "off"}}).status_code == 201
    assert c.post("/api/devices", headers=root, json={
        "devEui": EUI, "model": "bocage-sl1", "assetId": LIGHT, "scope": A}).status_code == 201
    probes = _probes()
    outcome: dict[str, set[Action]] = {}
    for role in EXPECTED:
        allowed = set()
        for action, (probe, success) in probes.items():
            scope = ROOT if action in INSTANCE_WIDE else A
            headers = {} if role == "anonymous" else key(role, scope)
            r = probe(c, headers)
            assert r.status_code < 500, f"{role} {action}: {r.text[:200]}"
            if r.status_code == success:
                allowed.add(action)
            else:  # refused, without saying more than "no"
                # (anonymous callers may read open data: a non-open entity is 404 to them)
                expected = {401, 404} if role == "anonymous" else {403, 404}
                assert r.status_code in expected, f"{role} {action}: {r.status_code} {r.text}"
        outcome[role] = allowed
    assert outcome == EXPECTED
    # subscribing needs entities.read (what is notified is what the subscriber may read:
    # tests/security/test_subscription_scopes.py)
    for role in EXPECTED:
        headers = {} if role == "anonymous" else key(role, A)
        r = c.post(f"{NGSI}/subscriptions", headers=headers, json={
            "type": "Subscription", "entities": [{"type": "Streetlight"}],
            "notification": {"endpoint": {"uri": "http://127.0.0.1:9/nowhere"}}})
        wanted = 201 if Action.ENTITIES_READ in EXPECTED[role] else (
            401 if role == "anonymous" else 403)
        assert r.status_code == wanted, f"{role} subscribes: {r.status_code} {r.text}"
    # what the police did is on record
    records = security.store.audit_records()
    assert any(rec.action == "command.lighting" and rec.actor.startswith("key:")
               and rec.detail["reason"] == "incident" for rec in records)


def test_the_incident_lighting_page_by_role(app_client: tuple[Any, TestClient]) -> None:
    """Question 14's page: exactly the roles with the lighting command may open and post
    it; the police, without entities.read, gets nothing more of the UI than open data."""
    app, c = app_client
    security = app.state.security

    def key(role: str) -> dict[str, str]:
        _, k = security.create_key([Grant(role, A)], name=role, by="test")
        return {"Authorization": f"Bearer {k}"}

    _, root_key = security.create_key([Grant("admin", ROOT)], name="root", by="test")
    root = {"Authorization": f"Bearer {root_key}"}
    assert c.post(f"{NGSI}/entities", headers=root, json={
        "id": LIGHT, "type": "Streetlight", "scope": A}).status_code == 201
    assert c.post("/api/devices", headers=root, json={
        "devEui": EUI, "model": "bocage-sl1", "assetId": LIGHT, "scope": A}).status_code == 201
    page = "/ui/eclairage-urgence"
    form = {"csrf": "t0k3n", "target": A, "duration": "30", "reason": "incident"}
    for role in ROLES:
        h = key(role)
        allowed = Action.LIGHTING_COMMAND in EXPECTED[role]
        got = c.get(page, headers=h)
        assert got.status_code == (200 if allowed else 403), f"{role}: {got.status_code}"
        assert ('href="/ui/eclairage-urgence"' in c.get("/ui/", headers=h).text) == allowed
        sent = c.post(page, headers={**h, "Cookie": "bocage_csrf=t0k3n"}, data=form,
                      follow_redirects=False)
        assert sent.status_code == (303 if allowed else 403), f"{role}: {sent.text[:200]}"
    anonymous = TestClient(app).get(page, follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith(
        "/ui/connexion")
    assert TestClient(app).post(page, data=form).status_code == 401
    # the police: nothing of the UI beyond this page but open data
    police = key("police")
    assert c.get(f"/ui/equipements/{LIGHT}", headers=police).status_code == 404
    assert c.post("/ui/demande-intervention", headers={**police, "Cookie": "bocage_csrf=t"},
                  data={"csrf": "t", "equipment": LIGHT, "description": "x"}).status_code == 403
    accepted = [r for r in security.store.audit_records() if r.action == "command.lighting"]
    assert len(accepted) == sum(Action.LIGHTING_COMMAND in EXPECTED[r] for r in ROLES)
