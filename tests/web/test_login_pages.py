"""Logging in and out through the web UI: the form, its CSRF token, French messages,
the session bar, the lockout, and where the visitor lands afterwards."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from bocage.api.app import create_app
from bocage.domain.access import Grant
from bocage.settings import Settings
from bocage.storage.base import Store
from bocage.web.login_pages import safe_next

NGSI = "/ngsi-ld/v1"
AMBE = "/FR/01/240100883/01004"
LAGN = "/FR/01/240100883/01202"
PASSWORD = "correct horse battery"


@pytest.fixture
def app(settings: Settings, store: Store) -> Any:
    app = create_app(settings, store)
    return app


@pytest.fixture
def browser(app: Any) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False, base_url="https://testserver") as c:
        yield c


def csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field in the form"
    return found.group(1)


def light(app: Any, browser: TestClient, ident: str, scope: str, name: str) -> None:
    _, key = app.state.security.create_key([Grant("admin", "/")], name="seed", by="t")
    body = {"id": ident, "type": "Streetlight", "scope": scope,
            "name": {"type": "Property", "value": name},
            "location": {"type": "GeoProperty",
                         "value": {"type": "Point", "coordinates": [5.36, 45.95]}}}
    r = browser.post(f"{NGSI}/entities", json=body, headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 201, r.text


def log_in(browser: TestClient, username: str, password: str, next_page: str = "/ui/") -> Any:
    form = browser.get(f"/ui/connexion?suivant={next_page}")
    assert form.status_code == 200
    return browser.post("/ui/connexion", follow_redirects=False, data={
        "csrf": csrf(form.text), "username": username, "password": password,
        "suivant": next_page})


def test_log_in_see_own_commune_only_then_log_out(app: Any, browser: TestClient) -> None:
    light(app, browser, "urn:ngsi-ld:Streetlight:ambe-1", AMBE, "Lampadaire de la mairie")
    light(app, browser, "urn:ngsi-ld:Streetlight:lagn-1", LAGN, "Lampadaire du lavoir")
    app.state.security.create_account("claire", PASSWORD, [Grant("agent", AMBE)], by="test")
    anonymous = browser.get("/ui/")
    assert "Se connecter" in anonymous.text and 'href="/ui/connexion?suivant=' in anonymous.text
    r = log_in(browser, "claire", PASSWORD, "/ui/carte")
    assert r.status_code == 303 and r.headers["location"] == "/ui/carte"
    cookie = next(v for k, v in r.headers.multi_items()
                  if k == "set-cookie" and v.startswith("bocage_session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie
    page = browser.get("/ui/")
    bar = re.search(r'<div class="session".*?</div>', page.text, re.S)
    assert bar is not None
    assert "claire" in bar.group(0) and f"agent communal sur {AMBE}" in bar.group(0)
    assert "Se déconnecter" in bar.group(0)
    ids = {m[0] for m in browser.get("/ui/carte/equipements.json").json()["markers"]}
    assert ids == {"urn:ngsi-ld:Streetlight:ambe-1"}  # the other commune's light is not seen
    # log out: the session ends on the server too
    token = browser.cookies.get("bocage_session")
    out = browser.post("/ui/deconnexion", data={"csrf": csrf(page.text)},
                       follow_redirects=False)
    assert out.status_code == 303
    assert app.state.security.session(token) is None
    assert "Se connecter" in browser.get("/ui/").text
    actions = [e.action for e in app.state.security.store.audit_records()]
    assert "login" in actions and "logout" in actions


def test_wrong_password_says_so_in_french_and_opens_nothing(app: Any,
                                                            browser: TestClient) -> None:
    app.state.security.create_account("claire", PASSWORD, [Grant("agent", AMBE)], by="test")
    r = log_in(browser, "claire", "not the password")
    assert r.status_code == 401
    assert "Identifiant ou mot de passe incorrect" in r.text
    assert 'aria-invalid="true"' in r.text and 'value="claire"' in r.text
    assert "bocage_session" not in browser.cookies
    empty = log_in(browser, "claire", "")
    assert empty.status_code == 400 and "Saisissez votre identifiant" in empty.text
    assert "login.failed" in [e.action for e in app.state.security.store.audit_records()]


def test_lockout_after_repeated_failures_holds_even_with_the_right_password(
        app: Any, browser: TestClient) -> None:
    app.state.security.create_account("claire", PASSWORD, [Grant("agent", AMBE)], by="test")
    for _ in range(app.state.services.settings.login_max_failures):
        assert log_in(browser, "claire", "wrong").status_code == 401
    assert log_in(browser, "claire", PASSWORD).status_code == 401


def test_a_form_without_its_token_is_refused(app: Any, browser: TestClient) -> None:
    app.state.security.create_account("claire", PASSWORD, [Grant("agent", AMBE)], by="test")
    browser.get("/ui/connexion")
    r = browser.post("/ui/connexion", data={"csrf": "forged", "username": "claire",
                                            "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 403 and "Le formulaire a expiré" in r.text
    assert "bocage_session" not in browser.cookies


def test_english_form(browser: TestClient) -> None:
    page = browser.get("/ui/connexion?lang=en")
    assert "Log in" in page.text and "Username" in page.text
    assert '<label for="login-password">Password</label>' in page.text


@pytest.mark.parametrize(("given", "expected"), [
    ("/ui/carte", "/ui/carte"), ("/ui/equipements/urn:x?lang=en", "/ui/equipements/urn:x?lang=en"),
    ("https://evil.example/ui", "/ui/"), ("//evil.example/ui", "/ui/"), ("/api/keys", "/ui/"),
    ("/ui/connexion", "/ui/"), ("/ui\\\\evil", "/ui/"), (None, "/ui/"), ("", "/ui/")])
def test_safe_next(given: object, expected: str) -> None:
    assert safe_next(given) == expected
