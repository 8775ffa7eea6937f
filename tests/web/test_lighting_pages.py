"""The incident lighting page (question 14) through the HTTP stack: targets within the
caller's scopes, French messages next to refused fields with nothing sent, the
command's status page and its htmx fragment."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from admin_client import admin_client
from lit_territory import CABINET, EUI1, EUI2, GROUP, LB, A, B, build, key
from mqtt_broker import wait_for
from starlette.testclient import TestClient

from bocage.api.app import create_app
from bocage.settings import Settings
from bocage.storage.base import Store

PAGE = "/ui/eclairage-urgence"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def site(settings: Settings, store: Store) -> Iterator[TestClient]:
    """On both backends (the command queue's SQL runs on each); a broker nobody
    listens on: orders stay queued and retried (no broker needed here)."""
    url = f"mqtt://127.0.0.1:{closed_port()}"
    with admin_client(create_app(settings.replace(
            chirpstack_mqtt_url=url, tts_mqtt_url=url, commands_tick_seconds=0.2), store)) as c:
        build(c, "app-ui")
        yield c


def as_role(site: TestClient, role: str, scope: str = A) -> dict[str, str]:
    return key(site.app, role, scope)


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "the form carries a CSRF token"
    return m.group(1)


def post(site: TestClient, headers: dict[str, str], token: str, **form: str) -> Any:
    return site.post(PAGE, headers={**headers, "Cookie": f"bocage_csrf={token}"},
                     data={"csrf": token, **form}, follow_redirects=False)


def commands(site: TestClient) -> list[Any]:
    return site.app.state.commands.queue.recent()  # type: ignore[attr-defined]


def test_the_police_sees_its_communes_and_zones_only(site: TestClient) -> None:
    police = as_role(site, "police")
    r = site.get(PAGE, headers=police)
    assert r.status_code == 200, r.text
    targets = r.text.split('id="c-target"')[1].split("</select>")[0]
    options = re.findall(r'<option value="([^"]+)"', targets)
    assert set(options) == {A, GROUP, CABINET}
    assert LB not in r.text and B not in options
    assert "Allumer" in r.text and 'href="/ui/eclairage-urgence"' in r.text  # nav link
    assert "<script>" not in r.text  # no inline script (strict CSP)
    english = site.get(PAGE + "?lang=en", headers=police)
    assert "Switch on" in english.text and "Incident lighting" in english.text


def test_refused_fields_say_why_in_french_and_nothing_is_sent(site: TestClient) -> None:
    police = as_role(site, "police")
    token = csrf_of(site.get(PAGE, headers=police).text)
    r = post(site, police, token, target=A, duration="60", reason="  ")
    assert r.status_code == 400
    assert re.search(r'id="c-reason-error"[^>]*>Indiquez le motif', r.text)
    assert 'aria-describedby="c-reason-error"' in r.text
    r = post(site, police, token, target=LB, duration="60", reason="hors périmètre")
    assert r.status_code == 400
    assert re.search(r'id="c-target-error"[^>]*>Choisissez une commune', r.text)
    r = post(site, police, token, target=GROUP, duration="99999", reason="trop long")
    assert r.status_code == 400 and 'id="c-duration-error"' in r.text
    # a form without its token is refused outright
    r = site.post(PAGE, headers=police, data={"target": A, "duration": "60", "reason": "x"},
                  follow_redirects=False)
    assert r.status_code == 403
    assert commands(site) == []
    audit = site.app.state.security.store.audit_records()  # type: ignore[attr-defined]
    assert not [a for a in audit if a.action == "command.lighting"]


def test_switch_on_a_zone_then_follow_its_status(site: TestClient) -> None:
    police = as_role(site, "police")
    token = csrf_of(site.get(PAGE, headers=police).text)
    r = post(site, police, token, target=GROUP, duration="30", reason="accident RD 1075")
    assert r.status_code == 303, r.text
    location = r.headers["location"]
    assert location.startswith(PAGE + "/commande/urn:bocage:Command:")
    (record,) = commands(site)
    assert record.command.target == GROUP and record.command.action == "on"
    assert record.command.duration_minutes == 30 and record.actor.startswith("key:")
    status = site.get(location, headers=police)
    assert status.status_code == 200
    assert "accident RD 1075" in status.text and "2 lampadaire(s)" in status.text
    assert 'hx-trigger="every 2s"' in status.text  # polled while it moves
    assert "/ui/static/vendor/htmx/htmx.min.js" in status.text
    # the broker cannot be reached: the status says the order waits and is retried
    fragment = site.get(f"{PAGE}/etat/{record.id}", headers=police)
    assert fragment.status_code == 200
    assert 'data-state="pending"' in fragment.text and "En attente d’envoi" in fragment.text
    # ... and it is retried, as the technical detail says
    wait_for(lambda: all(d.attempts >= 1 for d in site.app.state.commands.queue.of_command(
        record.id)), 10, "a first try")  # type: ignore[attr-defined]
    fragment = site.get(f"{PAGE}/etat/{record.id}", headers=police)
    assert "broker unreachable" in fragment.text
    assert "<html" not in fragment.text
    page = site.get(PAGE, headers=police)
    assert quote(record.id, safe="") in page.text  # among the latest commands
    deliveries = site.app.state.commands.queue.of_command(record.id)  # type: ignore[attr-defined]
    assert sorted(d.dev_eui for d in deliveries) == [EUI1, EUI2]


def test_other_callers(site: TestClient) -> None:
    anonymous = TestClient(site.app).get(PAGE, follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == "/ui/connexion?suivant=/ui/eclairage-urgence"
    elu = as_role(site, "elu")
    r = site.get(PAGE, headers=elu)
    assert r.status_code == 403 and "Votre rôle ne permet pas" in r.text
    assert 'href="/ui/eclairage-urgence"' not in site.get("/ui/", headers=elu).text
    # another commune's police does not see this commune's command
    police = as_role(site, "police")
    token = csrf_of(site.get(PAGE, headers=police).text)
    post(site, police, token, target=A, duration="15", reason="recherche")
    (record,) = commands(site)
    other = as_role(site, "police", B)
    assert site.get(f"{PAGE}/commande/{record.id}", headers=other).status_code == 404
    assert site.get(f"{PAGE}/etat/{record.id}", headers=other).status_code == 404
