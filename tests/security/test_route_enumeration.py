"""Every route, tried by three callers: nobody, an administrator of another commune, and
the right one. Anonymous and foreign callers must learn nothing of commune A's data and
change none of it; the right caller is admitted everywhere and reads succeed.

The routes come from the app itself (its OpenAPI document and its route table, so the
UI pages are included): a route added later is tried without touching this file — unless
it has a path parameter no one has named yet, in which case this test fails and asks
for a value in PARAMS.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from starlette.routing import Route
from starlette.testclient import TestClient

from bocage.api.app import create_app
from bocage.api.policy import rule_for
from bocage.domain.access import ROOT, Grant
from bocage.jscodec.source import CodecSource
from bocage.settings import Settings
from bocage.storage.base import Store

UPLINKS = Path(__file__).parents[1] / "connectors" / "fixtures"
NGSI = "/ngsi-ld/v1"
EPCI = "/FR/01/240100883"
A, B = EPCI + "/01004", EPCI + "/01202"
A_ID = "urn:ngsi-ld:Streetlight:01004-secret"
A_EUI = "A1A2A3A4A5A6A7A8"
A_USER = "agent.ambe"
# values that exist only in commune A's stored data: a response containing one leaks it
SECRETS = ("SECRET-MARKER-7f3c", "SECRET-DEVICE-NAME", "SECRET-KEY-NAME", "SECRET-ACCOUNT",
           "SECRET-COMMAND-REASON", "SECRET-LIGHT-NAME", "SECRET-INTERVENTION",
           "SECRET-RECIPIENT", "SECRET-SUBSCRIPTION")
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def routes(client: TestClient) -> list[tuple[str, str, str]]:
    """(method, path template, body kind) of every route: OpenAPI first, then the rest."""
    found: dict[tuple[str, str], str] = {}
    spec = client.get("/openapi.json").json()
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            schema = (op.get("requestBody", {}).get("content", {})
                      .get("application/json", {}).get("schema", {}))
            found[(method.upper(), path)] = str(schema.get("type", ""))
    for route in client.app.routes:  # type: ignore[attr-defined]
        if isinstance(route, Route) and route.methods:
            path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)
            for method in route.methods - {"HEAD"}:
                found.setdefault((method, path), "")
    return sorted((m, p, kind) for (m, p), kind in found.items())


PARAMS = {
    "entity_id": A_ID, "attr": "marker", "type_name": "Streetlight", "dev_eui": A_EUI,
    "model_id": "bocage-sl1", "username": A_USER, "insee": "01004",
    "siren": "240100883", "slug": "eclairage",
}


def fill(path: str, extra: dict[str, str]) -> str:
    def value(m: re.Match[str]) -> str:
        name = m.group(1)
        known = {**PARAMS, **extra}
        if name not in known:
            pytest.fail(f"route {path}: no test value for path parameter {name!r}; "
                        "add one to PARAMS in tests/security/test_route_enumeration.py")
        return known[name]

    return re.sub(r"\{(\w+)\}", value, path)


def body_for(method: str, path: str, kind: str) -> Any:
    """A request body that would be valid, aimed at commune A's data."""
    if method not in UNSAFE or method == "DELETE":
        return None
    attack = {"id": A_ID, "type": "Streetlight", "scope": B,
              "marker": {"type": "Property", "value": "PWNED"}}
    if path.endswith("/entityOperations/delete"):
        return [A_ID]
    if path.endswith("/entityOperations/query"):
        return {"type": "Query", "entities": [{"type": "Streetlight"}]}
    if path == "/api/commands":
        return {"target": A_ID, "action": "on", "reason": "test"}
    if path.startswith(("/api/keys", "/api/accounts")):
        body = {"username": "intruder", "password": "x" * 12,
                "grants": [{"role": "admin", "scope": A}]}
        return [body["grants"][0]] if path.endswith("/grants") else body
    if path == "/auth/login":
        return {"username": A_USER, "password": "not the password"}
    if path.startswith("/api/alarm-recipients/"):
        return {"channel": "email", "address": "intruder@example.org", "scope": B}
    if path == "/api/devices":
        return {"devEui": "B1B2B3B4B5B6B7B8", "model": "bocage-sl1", "assetId": A_ID,
                "scope": B}
    if kind == "array":
        return [attack]
    if path.endswith("/attrs/{attr}"):
        return {"type": "Property", "value": "PWNED"}
    if path.endswith("/attrs"):
        return {"marker": {"type": "Property", "value": "PWNED"}}
    return attack


@pytest.fixture
def world(settings: Settings, store: Store) -> Iterator[dict[str, Any]]:
    app = create_app(settings.replace(chirpstack_secret="cs-secret", tts_secret="tts-secret"),
                     store)
    security = app.state.security
    with TestClient(app, raise_server_exceptions=False) as c:
        def key(*grants: tuple[str, str]) -> dict[str, str]:
            _, k = security.create_key([Grant(r, s) for r, s in grants], name="t", by="t")
            return {"Authorization": f"Bearer {k}"}

        root, admin_a, admin_b = key(("admin", ROOT)), key(("admin", A)), key(("admin", B))
        r = c.post(f"{NGSI}/entities", headers=admin_a, json={
            "id": A_ID, "type": "Streetlight", "scope": A,
            "marker": {"type": "Property", "value": SECRETS[0]},
            "name": {"type": "Property", "value": SECRETS[5]},
            # a lit lamp drawing no power: the default lighting rule raises an alarm
            "powerState": {"type": "Property", "value": "on",
                           "observedAt": "2099-01-01T20:00:00Z"},
            "powerConsumption": {"type": "Property", "value": 0.0,
                                 "observedAt": "2099-01-01T20:00:00Z"},
            "location": {"type": "GeoProperty",
                         "value": {"type": "Point", "coordinates": [5.36, 45.95]}}})
        assert r.status_code == 201, r.text
        r = c.post("/api/devices", headers=admin_a, json={
            "devEui": A_EUI, "model": "bocage-sl1", "name": SECRETS[1], "assetId": A_ID,
            "scope": A})
        assert r.status_code == 201, r.text
        made = c.post("/api/keys", headers=admin_a, json={
            "name": SECRETS[2], "grants": [{"role": "integrator", "scope": A}]})
        assert made.status_code == 201, made.text
        r = c.post("/api/accounts", headers=admin_a, json={
            "username": A_USER, "password": "a long password", "displayName": SECRETS[3],
            "grants": [{"role": "agent", "scope": A}]})
        assert r.status_code == 201, r.text
        r = c.post("/api/commands", headers=admin_a, json={
            "target": A_ID, "action": "dim", "level": 30, "reason": SECRETS[4]})
        assert r.status_code == 202, r.text
        command_id = r.json()["id"]
        ctx = c.post(f"{NGSI}/jsonldContexts", headers=root, json={"@context": {"x": "urn:x"}})
        assert ctx.status_code == 201, ctx.text
        # an uplink of A's device on a port its codec does not know: a dead letter of A
        up = orjson.loads((UPLINKS / "chirpstack-v4/event-up.json").read_bytes())
        up["deviceInfo"]["devEui"] = A_EUI.lower()
        up["fPort"] = 99
        r = c.post("/ingest/chirpstack?event=up", json=up,
                   headers={"Authorization": "Bearer cs-secret"})
        assert r.status_code == 202, r.text
        assert app.state.ingestion.wait_idle(10.0)
        [letter] = c.get("/api/dead-letters", headers=admin_a).json()
        supervisor = app.state.supervisor
        supervisor.evaluate_entities("", [store.get("", A_ID)])
        [alarm] = c.get("/api/alarms", headers=admin_a).json()
        work = c.post("/api/interventions", headers=admin_a, json={
            "equipment": A_ID, "description": SECRETS[6]})
        assert work.status_code == 201, work.text
        rule = c.get("/api/rules", headers=root).json()[0]["id"]
        r = c.put("/api/alarm-recipients/mairie-a", headers=admin_a, json={
            "channel": "email", "address": "mairie@example.org", "scope": A,
            "name": SECRETS[7]})
        assert r.status_code == 200, r.text
        app.state.ingestion.js_codecs.put(CodecSource(
            id="tests.noop", files={"c.js": "function decodeUplink(i) { return {data: {}}; }"},
            roles={"uplinkDecoder": "c.js"}))
        # commune A's own subscription: commune B's administrator must not see it
        sub = c.post(f"{NGSI}/subscriptions", headers=admin_a, json={
            "type": "Subscription", "entities": [{"type": "Streetlight"}],
            "subscriptionName": SECRETS[8],
            "notification": {"endpoint": {"uri": "http://127.0.0.1:9/nowhere"}}})
        assert sub.status_code == 201, sub.text
        history = c.get(f"{NGSI}/temporal/entities/{A_ID}", headers=admin_a)
        assert history.status_code == 200, history.text
        instance = history.json()["marker"][0]["instanceId"]
        yield {"client": c, "root": root, "a": admin_a, "b": admin_b,
               "params": {"key_id": made.json()["id"], "letter_id": str(letter["id"]),
                          "instance_id": instance, "alarm_id": alarm["id"],
                          "ident": work.json()["id"], "rule_id": rule,
                          "recipient_id": "mairie-a",
                          "codec_id": "tests.noop", "command_id": command_id,
                          "sub_id": sub.headers["location"].rsplit("/", 1)[1],
                          "context_id": ctx.headers["location"].rsplit("/", 1)[1]}}


def snapshot(c: TestClient, root: dict[str, str]) -> list[Any]:
    """Commune A's state as the platform administrator sees it."""
    return [c.get(f"{NGSI}/entities/{A_ID}", headers=root).json(),
            c.get(f"/api/devices/{A_EUI}", headers=root).json(),
            c.get("/api/keys", headers=root).json(),
            c.get("/api/accounts", headers=root).json(),
            c.get("/api/commands", headers=root).json(),
            c.get("/api/alarms", headers=root).json(),
            c.get("/api/interventions", headers=root).json(),
            c.get("/api/alarm-recipients", headers=root).json(),
            [(x["id"], x.get("subscriptionName"), x["entities"], x["notification"]["endpoint"],
              x.get("isActive")) for x in c.get(f"{NGSI}/subscriptions", headers=root).json()],
            c.get(f"{NGSI}/entities", headers=root, params={"limit": 1000}).json()]


def test_no_route_leaks_to_anonymous_or_foreign_callers(world: dict[str, Any]) -> None:
    c: TestClient = world["client"]
    all_routes = routes(c)
    assert len(all_routes) > 40  # the enumeration itself works
    before = snapshot(c, world["root"])
    assert SECRETS[0] in str(before) and SECRETS[1] in str(before)
    # the platform administrator reads everything first: nothing it was shown (and
    # any cache filled for it) may reach the others
    for method, template, _ in all_routes:
        if method == "GET":
            c.get(fill(template, world["params"]), headers=world["root"])
    assert SECRETS[5] in c.get("/ui/carte/equipements.json", headers=world["root"]).text
    tried = 0
    for caller, headers in (("anonymous", {}), ("foreign admin", world["b"])):
        for method, template, kind in all_routes:
            path = fill(template, world["params"])
            r = c.request(method, path, headers=headers, json=body_for(method, template, kind))
            tried += 1
            where = f"{caller}: {method} {template} -> {r.status_code}"
            assert r.status_code < 500, where + " " + r.text[:300]
            leaked = [s for s in SECRETS if s in r.text]
            assert not leaked, f"{where} leaks {leaked}: {r.text[:300]}"
            if r.status_code >= 400 and not template.startswith("/ui"):
                assert r.headers["content-type"] == "application/problem+json", where
            if (caller == "foreign admin" and method == "GET" and "{entity_id}" in template
                    and r.status_code != 405):
                # outside the caller's scopes: not found, as if it did not exist
                assert r.status_code == 404, where
            if r.status_code in (401, 403) and not template.startswith("/ui"):
                detail = r.json()["detail"]
                assert A_ID not in detail and A not in detail, where
    after = snapshot(c, world["root"])
    for x, y in zip(before, after, strict=True):
        assert x == y, "an unauthorised request changed A's data"
    assert tried == 2 * len(all_routes)


def test_the_right_caller_is_admitted_everywhere(world: dict[str, Any]) -> None:
    """Commune A's administrator (or the platform's, for instance-wide routes) passes the
    front door of every route, and every read answers."""
    c: TestClient = world["client"]
    # reads first, then writes, deletions last
    order = {"GET": 0, "POST": 1, "PUT": 1, "PATCH": 1, "DELETE": 2}
    for method, template, kind in sorted(routes(c), key=lambda r: order.get(r[0], 1)):
        path = fill(template, world["params"])
        rule = rule_for(method, path)
        headers = world["root"] if rule.root else world["a"]
        if rule.own_auth:  # a network server, with its connector's own secret
            secret = "cs-secret" if "chirpstack" in path else "tts-secret"
            headers = {"Authorization": f"Bearer {secret}"}
        body = body_for(method, template, kind)
        if isinstance(body, dict) and body.get("scope") == B:
            body = {**body, "scope": A}
        if isinstance(body, list) and body and isinstance(body[0], dict) and "scope" in body[0]:
            body = [{**body[0], "scope": A}]
        if template.startswith("/ui") and method in UNSAFE:
            # a UI form: the UI's own double-submit token (cookie = field)
            r = c.request(method, path, headers={**headers, "Cookie": "bocage_csrf=t0k3n"},
                          data={"csrf": "t0k3n"})
        else:
            r = c.request(method, path, headers=headers, json=body)
        where = f"{method} {template} -> {r.status_code}: {r.text[:200]}"
        assert r.status_code < 500, where
        if template.startswith("/auth/oidc"):
            continue  # needs an identity provider: tests/security/test_oidc.py
        if template.startswith("/auth/login"):
            assert r.status_code == 401, where  # the body's password is wrong on purpose
            continue
        assert r.status_code not in (401, 403), where
        if method == "GET" and r.status_code != 405:
            assert r.status_code in (200, 307), where
            if "{entity_id}" in template and "/attrs/" not in template:
                assert SECRETS[0] in r.text or template.startswith("/ui"), where
