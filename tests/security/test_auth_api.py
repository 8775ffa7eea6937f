"""Authentication over HTTP: API keys, accounts and sessions, CSRF, lockout, rate limits,
security headers, BOCAGE_AUTH=off (both backends)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from bocage.api.app import create_app
from bocage.cli import app as cli
from bocage.domain.access import ROOT, Grant
from bocage.security.access_store import ApiKey
from bocage.security.service import token_hash
from bocage.settings import Settings
from bocage.storage.base import Store

NGSI = "/ngsi-ld/v1"
EPCI = "/FR/01/240100883"
AMBE, LAGN = EPCI + "/01004", EPCI + "/01202"
PASSWORD = "correct horse battery"


@pytest.fixture
def app(settings: Settings, store: Store) -> Any:
    return create_app(settings, store)


@pytest.fixture
def anon(app: Any) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False, base_url="https://testserver") as c:
        yield c


def key_for(app: Any, *grants: tuple[str, str]) -> dict[str, str]:
    _, key = app.state.security.create_key([Grant(r, s) for r, s in grants], name="t", by="t")
    return {"Authorization": f"Bearer {key}"}


def problem(r: Any, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = r.json()
    assert body["status"] == status and "Traceback" not in r.text
    return body


def test_anonymous_and_bad_credentials_are_401(app: Any, anon: TestClient) -> None:
    r = anon.post(f"{NGSI}/entities", json={"id": "urn:x:1", "type": "T"})
    problem(r, 401)
    assert r.headers["www-authenticate"].startswith("Bearer")
    for header in ("Bearer bck_nope_nope", "Bearer something", "Basic dXNlcjpwYXNz", "Bearer"):
        problem(anon.get(f"{NGSI}/entities", headers={"Authorization": header}), 401)
    # a real key id with a wrong secret
    _, key = app.state.security.create_key([Grant("admin", ROOT)], name="k", by="t")
    problem(anon.get(f"{NGSI}/entities", headers={"Authorization": key[:-3] + "xyz"}), 401)
    assert anon.get(f"{NGSI}/entities", headers={"Authorization": f"Bearer {key}"}).is_success


def test_revoked_and_expired_keys_are_refused(app: Any, anon: TestClient) -> None:
    security = app.state.security
    admin = key_for(app, ("admin", ROOT))
    made = anon.post("/api/keys", headers=admin, json={
        "name": "gateway", "grants": [{"role": "integrator", "scope": AMBE}],
        "expiresAt": "2099-01-01T00:00:00Z"})
    assert made.status_code == 201 and made.headers["cache-control"] == "no-store"
    key = made.json()["key"]
    assert key.startswith("bck_") and made.json()["expiresAt"] == "2099-01-01T00:00:00.000Z"
    own = {"Authorization": f"Bearer {key}"}
    assert anon.get(f"{NGSI}/entities", headers=own).status_code == 200
    listed = anon.get("/api/keys", headers=admin).json()
    assert made.json()["id"] in [k["id"] for k in listed]
    assert key not in str(listed) and "secret" not in str(listed).lower()
    assert anon.delete(f"/api/keys/{made.json()['id']}", headers=admin).status_code == 204
    problem(anon.get(f"{NGSI}/entities", headers=own), 401)
    problem(anon.delete(f"/api/keys/{made.json()['id']}", headers=admin), 404)
    # an expired key (stored directly: the API refuses a past expiry)
    security.store.create_key(ApiKey("old", "old", token_hash("s3cret"),
                                     (Grant("admin", ROOT),), "2020-01-01T00:00:00.000Z", "t",
                                     expires_at="2021-01-01T00:00:00.000Z"))
    problem(anon.get(f"{NGSI}/entities", headers={"Authorization": "Bearer bck_old_s3cret"}),
            401)
    problem(anon.post("/api/keys", headers=admin, json={
        "grants": [{"role": "elu", "scope": AMBE}], "expiresAt": "2020-01-01T00:00:00Z"}), 400)


def test_a_subtree_admin_manages_keys_in_its_subtree_only(app: Any, anon: TestClient) -> None:
    root = key_for(app, ("admin", ROOT))
    epci = key_for(app, ("admin", EPCI))
    other = anon.post("/api/keys", headers=root, json={
        "grants": [{"role": "agent", "scope": "/FR/01/200029999"}]}).json()
    ok = anon.post("/api/keys", headers=epci, json={"grants": [{"role": "agent", "scope": AMBE}]})
    assert ok.status_code == 201
    for scope in (ROOT, "/FR/01", "/FR/01/200029999"):
        problem(anon.post("/api/keys", headers=epci,
                          json={"grants": [{"role": "agent", "scope": scope}]}), 403)
    seen = [k["id"] for k in anon.get("/api/keys", headers=epci).json()]
    assert ok.json()["id"] in seen and other["id"] not in seen
    problem(anon.delete(f"/api/keys/{other['id']}", headers=epci), 404)
    for bad in ({"grants": []}, {"grants": [{"role": "king", "scope": AMBE}]},
                {"grants": [{"role": "agent", "scope": "FR"}]}, [1]):
        problem(anon.post("/api/keys", headers=root, json=bad), 400)


def make_account(app: Any, name: str = "alice", *grants: tuple[str, str]) -> None:
    app.state.security.create_account(name, PASSWORD,
                                      [Grant(r, s) for r, s in grants or (("agent", AMBE),)],
                                      by="test")


def test_login_session_cookie_csrf_logout(app: Any, anon: TestClient) -> None:
    make_account(app)
    r = anon.post("/auth/login", json={"username": "alice", "password": PASSWORD})
    assert r.status_code == 200, r.text
    cookie = r.headers["set-cookie"]
    for attribute in ("HttpOnly", "SameSite=Lax", "Secure", "Path=/"):
        assert attribute in cookie
    csrf = r.json()["csrfToken"]
    assert r.json()["grants"] == [{"role": "agent", "scope": AMBE}]
    me = anon.get("/auth/me")
    assert me.json()["name"] == "alice" and me.json()["kind"] == "account"
    body = {"id": "urn:ngsi-ld:Streetlight:a1", "type": "Streetlight", "scope": AMBE}
    problem(anon.post(f"{NGSI}/entities", json=body), 403)  # no CSRF token
    problem(anon.post(f"{NGSI}/entities", json=body, headers={"X-CSRF-Token": "x"}), 403)
    assert anon.post(f"{NGSI}/entities", json=body,
                     headers={"X-CSRF-Token": csrf}).status_code == 201
    assert anon.get(f"{NGSI}/entities/urn:ngsi-ld:Streetlight:a1").status_code == 200
    assert anon.post("/auth/logout").status_code == 204
    assert anon.get("/auth/me").json()["kind"] == "anonymous"
    problem(anon.get(f"{NGSI}/entities/urn:ngsi-ld:Streetlight:a1"), 404)
    # a form post logs in too
    r = anon.post("/auth/login", data={"username": "alice", "password": PASSWORD})
    assert r.status_code == 200 and r.json()["name"] == "alice"


def test_lockout_after_repeated_failures(app: Any, settings: Settings, store: Store) -> None:
    make_account(app, "bob")
    with TestClient(app, raise_server_exceptions=False) as c:
        for _ in range(settings.login_max_failures):
            problem(c.post("/auth/login", json={"username": "bob", "password": "wrong" * 3}),
                    401)
        # locked: even the right password is refused, with the same answer
        r = c.post("/auth/login", json={"username": "bob", "password": PASSWORD})
        assert problem(r, 401)["detail"] == (
            "wrong username or password, or the account is locked")
        problem(c.post("/auth/login", json={"username": "nobody", "password": PASSWORD}), 401)
        records = app.state.security.store.audit_records()
    actions = [(rec.action, rec.target) for rec in records]
    assert actions.count(("login.failed", "bob")) == settings.login_max_failures + 1
    assert ("login.locked", "bob") in actions and ("login.failed", "nobody") in actions
    assert not [a for a in actions if a == ("login", "bob")]


def test_login_is_rate_limited(settings: Settings, store: Store) -> None:
    app = create_app(settings.replace(login_rate_per_minute=3), store)
    with TestClient(app, raise_server_exceptions=False) as c:
        for _ in range(3):
            problem(c.post("/auth/login", json={"username": "x", "password": "y" * 12}), 401)
        r = c.post("/auth/login", json={"username": "x", "password": "y" * 12})
        problem(r, 429)
        assert int(r.headers["retry-after"]) >= 1


def test_security_headers_on_every_response(app: Any, anon: TestClient) -> None:
    admin = key_for(app, ("admin", ROOT))
    for r in (anon.get("/healthz"), anon.get(f"{NGSI}/entities", headers=admin),
              anon.get(f"{NGSI}/entities/urn:x:nope", headers=admin),  # fast path, 404
              anon.post(f"{NGSI}/entities", json={}),  # 401
              anon.get("/nowhere")):
        csp = r.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["strict-transport-security"].startswith("max-age=")
        assert "x-bocage-auth" not in r.headers
    with TestClient(app) as plain:  # plain HTTP: no HSTS
        assert "strict-transport-security" not in plain.get("/healthz").headers


def test_request_size_limit(settings: Settings, store: Store) -> None:
    app = create_app(settings.replace(max_body_bytes=1000), store)
    with TestClient(app, raise_server_exceptions=False) as c:
        headers = key_for(app, ("admin", ROOT))
        big = b'{"id": "urn:x:1", "type": "T", "a": "' + b"x" * 2000 + b'"}'
        problem(c.post(f"{NGSI}/entities", content=big,
                       headers={**headers, "Content-Type": "application/json"}), 413)

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
            yield big[:600]
            yield big[600:]

        problem(c.post(f"{NGSI}/entities", content=chunks(),
                       headers={**headers, "Content-Type": "application/json"}), 413)


def test_auth_off_sees_everything_and_says_so(settings: Settings, store: Store) -> None:
    app = create_app(settings.replace(auth="off"), store)
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.post(f"{NGSI}/entities", json={"id": "urn:x:1", "type": "T", "scope": LAGN})
        assert r.status_code == 201 and r.headers["x-bocage-auth"] == "off"
        for path in (f"{NGSI}/entities", "/healthz", "/api/keys", "/nowhere"):
            assert c.get(path).headers["x-bocage-auth"] == "off"
        assert [e["id"] for e in c.get(f"{NGSI}/entities?type=T").json()] == ["urn:x:1"]


def test_auth_off_refuses_to_listen_beyond_loopback(settings: Settings) -> None:
    env = {"BOCAGE_AUTH": "off", "BOCAGE_DATABASE_URL": settings.database_url}
    out = CliRunner().invoke(cli, ["serve", "--host", "0.0.0.0"], env=env)
    assert out.exit_code == 2 and "loopback only" in out.output


def test_ui_pages_say_who_is_looking_and_when_auth_is_off(settings: Settings,
                                                          store: Store) -> None:
    app = create_app(settings, store)
    with TestClient(app, raise_server_exceptions=False) as c:
        assert "Visiteur : données ouvertes" in c.get("/ui/").text
        page = c.get("/ui/", headers=key_for(app, ("elu", EPCI)))
        assert "key:" in page.text and "BOCAGE_AUTH=off" not in page.text
    with TestClient(create_app(settings.replace(auth="off"), store)) as c:
        page = c.get("/ui/carte")
        assert "BOCAGE_AUTH=off" in page.text and page.headers["x-bocage-auth"] == "off"
