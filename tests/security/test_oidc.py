"""OpenID Connect login against a tiny identity provider of our own on loopback: discovery,
authorization code with PKCE, a signed ID token checked against the published keys."""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from starlette.testclient import TestClient

from bocage.api.app import create_app
from bocage.domain.access import Grant
from bocage.settings import Settings
from bocage.storage.base import Store

CLIENT, SECRET = "bocage-test", "client-secret"
CALLBACK = "https://testserver/auth/oidc/callback"


class Provider:
    """Issues codes at /authorize (the user 'consents' at once) and ID tokens at /token."""

    def __init__(self) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": "k1"})
        self.user = "alice"
        self.codes: dict[str, dict[str, str]] = {}
        self.tamper: dict[str, Any] = {}  # claims to override in the next ID token
        self.sign_with: RSAKey | None = None
        provider = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                for k, v in {"Content-Type": "application/json", **(headers or {})}.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                if url.path == "/.well-known/openid-configuration":
                    self.reply(200, {"issuer": provider.issuer,
                                     "authorization_endpoint": provider.issuer + "/authorize",
                                     "token_endpoint": provider.issuer + "/token",
                                     "jwks_uri": provider.issuer + "/jwks"})
                elif url.path == "/jwks":
                    self.reply(200, KeySet([provider.key]).as_dict(private=False))
                elif url.path == "/authorize":
                    q = {k: v[0] for k, v in parse_qs(url.query).items()}
                    code = f"code-{len(provider.codes)}"
                    provider.codes[code] = q
                    back = q["redirect_uri"] + "?" + urlencode({"code": code,
                                                                "state": q["state"]})
                    self.reply(302, {}, {"Location": back})
                else:
                    self.reply(404, {})

            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                asked = provider.codes.pop(form.get("code", ""), None)
                challenge = base64.urlsafe_b64encode(hashlib.sha256(
                    form.get("code_verifier", "").encode()).digest()).rstrip(b"=").decode()
                if (asked is None or form.get("client_secret") != SECRET
                        or challenge != asked["code_challenge"]
                        or form.get("redirect_uri") != asked["redirect_uri"]):
                    self.reply(400, {"error": "invalid_grant"})
                    return
                claims = {"iss": provider.issuer, "aud": CLIENT, "sub": "s-1",
                          "preferred_username": provider.user, "nonce": asked["nonce"],
                          "iat": int(time.time()), "exp": int(time.time()) + 300,
                          **provider.tamper}
                token = jwt.encode({"alg": "RS256", "kid": "k1"}, claims,
                                   provider.sign_with or provider.key)
                self.reply(200, {"id_token": token, "token_type": "Bearer"})

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def provider() -> Iterator[Provider]:
    p = Provider()
    yield p
    p.server.shutdown()
    p.server.server_close()


@pytest.fixture
def app(settings: Settings, store: Store, provider: Provider) -> Any:
    app = create_app(settings.replace(oidc_issuer=provider.issuer, oidc_client_id=CLIENT,
                                      oidc_client_secret=SECRET, oidc_redirect_url=CALLBACK),
                     store)
    app.state.security.create_account("alice", "a long password",
                                      [Grant("elu", "/FR/01/240100883")], by="test")
    return app


def login(c: TestClient) -> Any:
    """Browser steps: to the provider, back to bocage's callback."""
    import httpx

    r = c.get("/auth/oidc/login", follow_redirects=False)
    assert r.status_code == 302, r.text
    at_provider = httpx.get(r.headers["location"], follow_redirects=False)
    assert at_provider.status_code == 302
    back = urlsplit(at_provider.headers["location"])
    return c.get(f"{back.path}?{back.query}", follow_redirects=False)


def test_oidc_login_opens_a_session_for_the_local_account(app: Any) -> None:
    with TestClient(app, base_url="https://testserver") as c:
        r = login(c)
        assert r.status_code == 303 and r.headers["location"] == "/ui/"
        assert "HttpOnly" in r.headers["set-cookie"]
        me = c.get("/auth/me").json()
        assert me["name"] == "alice" and me["grants"] == [
            {"role": "elu", "scope": "/FR/01/240100883"}]
    actions = [(r.action, r.detail.get("method")) for r in
               app.state.security.store.audit_records()]
    assert ("login", "oidc") in actions


@pytest.mark.parametrize("tamper,why", [
    ({"aud": "someone-else"}, "aud"), ({"nonce": "replayed"}, "nonce"),
    ({"iss": "https://evil.example"}, "iss"), ({"exp": 1000}, "exp")])
def test_a_wrong_id_token_is_refused(app: Any, provider: Provider, tamper: dict[str, Any],
                                     why: str) -> None:
    provider.tamper = tamper
    with TestClient(app, base_url="https://testserver", raise_server_exceptions=False) as c:
        r = login(c)
        assert r.status_code == 401, r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert c.get("/auth/me").json()["kind"] == "anonymous"


def test_a_token_signed_by_another_key_is_refused(app: Any, provider: Provider) -> None:
    provider.sign_with = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    with TestClient(app, base_url="https://testserver", raise_server_exceptions=False) as c:
        assert login(c).status_code == 401


def test_unknown_users_and_foreign_states_are_refused(app: Any, provider: Provider) -> None:
    provider.user = "mallory"
    with TestClient(app, base_url="https://testserver", raise_server_exceptions=False) as c:
        r = login(c)
        assert r.status_code == 403 and "no bocage account mallory" in r.json()["detail"]
        assert ("login.failed", "mallory") in [
            (r.action, r.target) for r in app.state.security.store.audit_records()]
        provider.user = "alice"
        start = c.get("/auth/oidc/login", follow_redirects=False)
        state = parse_qs(urlsplit(start.headers["location"]).query)["state"][0]
        c.cookies.clear()  # another browser comes back with this state
        r = c.get(f"/auth/oidc/callback?code=x&state={state}")
        assert r.status_code == 401


def test_without_configuration_oidc_is_absent(settings: Settings, store: Store) -> None:
    with TestClient(create_app(settings, store), raise_server_exceptions=False) as c:
        assert c.get("/auth/oidc/login").status_code == 404
