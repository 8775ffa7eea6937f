"""API keys in the web UI (/ui/acces): create (shown once), list, revoke, within the
manager's scopes only; CSRF; French messages; audited."""

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

EPCI = "/FR/01/240100883"
AMBE = EPCI + "/01004"


@pytest.fixture
def app(settings: Settings, store: Store) -> Any:
    return create_app(settings, store)


def browser(app: Any, *grants: tuple[str, str]) -> TestClient:
    _, key = app.state.security.create_key([Grant(r, s) for r, s in grants], name="ui",
                                           by="test")
    return TestClient(app, raise_server_exceptions=False,
                      headers={"Authorization": f"Bearer {key}"})


def csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found
    return found.group(1)


@pytest.fixture
def manager(app: Any) -> Iterator[TestClient]:
    with browser(app, ("admin", EPCI)) as c:
        yield c


def test_create_a_key_use_it_then_revoke_it(app: Any, manager: TestClient) -> None:
    page = manager.get("/ui/acces")
    assert page.status_code == 200 and "Créer une clé" in page.text
    assert 'href="/ui/acces"' in page.text  # in the navigation of an access manager
    r = manager.post("/ui/acces/cles", data={"csrf": csrf(page.text), "name": "GMAO commune",
                                             "role": "integrator", "scope": AMBE})
    assert r.status_code == 201, r.text
    assert r.headers["cache-control"] == "no-store"
    token = re.search(r'<code id="new-key-value">([^<]+)</code>', r.text)
    assert token is not None and "ne sera plus jamais affichée" in r.text
    key = token.group(1)
    with TestClient(app) as machine:
        ok = machine.get("/ngsi-ld/v1/entities", params={"type": "Streetlight"},
                         headers={"Authorization": f"Bearer {key}"})
        assert ok.status_code == 200
        key_id = key.split("_")[1]
        assert f'id="key-{key_id}"' in manager.get("/ui/acces").text
        assert key not in manager.get("/ui/acces").text  # never shown again
        out = manager.post(f"/ui/acces/cles/{key_id}/revoquer", data={"csrf": csrf(page.text)},
                           follow_redirects=False)
        assert out.status_code == 303
        gone = machine.get("/ngsi-ld/v1/entities",
                           headers={"Authorization": f"Bearer {key}"})
        assert gone.status_code == 401
    actions = [(e.action, e.target) for e in app.state.security.store.audit_records()]
    assert ("key.create", key_id) in actions and ("key.revoke", key_id) in actions


@pytest.mark.parametrize(("form", "message"), [
    ({"name": "", "role": "agent", "scope": AMBE}, "Donnez un nom à la clé"),
    ({"name": "x", "role": "agent", "scope": "FR01"}, "Ce périmètre n’est pas valide"),
    ({"name": "x", "role": "king", "scope": AMBE}, "Ce périmètre n’est pas valide"),
    ({"name": "x", "role": "agent", "scope": "/FR/01/200029999"}, "dans vos propres périmètres"),
    ({"name": "x", "role": "agent", "scope": AMBE, "expires": "2001-01-01T10:00"},
     "doit être dans le futur"),
])
def test_bad_input_says_so_next_to_the_field_and_creates_nothing(
        app: Any, manager: TestClient, form: dict[str, str], message: str) -> None:
    before = len(app.state.security.store.list_keys())
    page = manager.get("/ui/acces")
    r = manager.post("/ui/acces/cles", data={"csrf": csrf(page.text), **form})
    assert r.status_code == 400 and message in r.text and 'aria-invalid="true"' in r.text
    assert len(app.state.security.store.list_keys()) == before


def test_only_access_managers_and_only_their_scopes(app: Any, manager: TestClient) -> None:
    _, other = app.state.security.create_key([Grant("agent", "/FR/01/200029999/01304")],
                                             name="elsewhere", by="t")
    listing = manager.get("/ui/acces").text
    assert "elsewhere" not in listing  # a key of another EPCI is not theirs to see
    other_id = other.split("_")[1]
    r = manager.post(f"/ui/acces/cles/{other_id}/revoquer",
                     data={"csrf": csrf(listing)})
    assert r.status_code == 404
    assert not app.state.security.store.get_key(other_id).revoked_at
    with browser(app, ("agent", AMBE)) as agent:
        page = agent.get("/ui/acces")
        assert page.status_code == 403 and "réservée aux administrateurs" in page.text
        assert 'href="/ui/acces"' not in page.text
    forged = manager.post("/ui/acces/cles", data={"csrf": "forged", "name": "x",
                                                  "role": "agent", "scope": AMBE})
    assert forged.status_code == 403


def test_english(manager: TestClient) -> None:
    page = manager.get("/ui/acces?lang=en")
    assert "Access: API keys and accounts" in page.text and "Create the key" in page.text
