"""Data quality and live updates in a real browser against a real bocage process:
replay a dead letter from the UI once its device is registered and see the reading
arrive; a status changes server-side and the open page shows it without a reload."""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from bocage_process import cli_key, running_bocage
from browser import chromium

API = "/ngsi-ld/v1"
A = "/FR/01/240100883/01004"
CS = {"Authorization": "Bearer cs-secret"}
UP = orjson.loads((Path(__file__).parents[1] / "connectors" / "fixtures" /
                   "chirpstack-v4/event-up.json").read_bytes())
EUI = "E2E0E2E0E2E0E2E1"


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("quality")


@pytest.fixture(scope="module")
def admin(data: Path) -> dict[str, str]:
    return {"Authorization": f"Bearer {cli_key(data)}"}


@pytest.fixture(scope="module")
def site(data: Path, admin: dict[str, str]) -> Iterator[str]:
    env = {"BOCAGE_CHIRPSTACK_SECRET": "cs-secret", "BOCAGE_UI_LIVE_SECONDS": "1",
           "BOCAGE_UI_CACHE_SECONDS": "0.5"}
    with running_bocage("serve", data, env=env) as base:
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


def wait_for(check: Any, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)
    return found


def light(ident: str, status: str) -> dict[str, Any]:
    return {"id": ident, "type": "Streetlight", "scope": A,
            "name": {"type": "Property", "value": ident.rsplit(":", 1)[1]},
            "location": {"type": "GeoProperty",
                         "value": {"type": "Point", "coordinates": [5.36, 45.95]}},
            "status": {"type": "Property", "value": status}}


def test_replay_a_dead_letter_from_the_ui_after_registering_its_device(
        site: str, browser: Any, admin: dict[str, str]) -> None:
    up = copy.deepcopy(UP)
    up["deviceInfo"]["devEui"] = EUI.lower()
    r = httpx.post(f"{site}/ingest/chirpstack?event=up", json=up, headers=CS)
    assert r.status_code == 202, r.text
    [letter] = wait_for(lambda: httpx.get(f"{site}/api/dead-letters", headers=admin,
                                          params={"devEui": EUI}).json())
    assert letter["reason"] == "unknown-device"
    page = browser.new_page(extra_http_headers=admin, viewport={"width": 1280, "height": 800})
    page.goto(f"{site}/ui/qualite?motif=unknown-device")
    row = page.locator("#letters tbody tr", has_text=EUI)
    assert "Capteur inconnu" in row.inner_text()
    # the cause is fixed: the device is registered (the agent's job, through the API)
    r = httpx.post(f"{site}/api/devices", headers=admin, json={
        "devEui": EUI, "model": "bocage-ps1", "scope": A, "name": "Place du marché"})
    assert r.status_code == 201, r.text
    row.get_by_role("button", name=f"Rejouer la lettre {letter['id']}").click()
    page.wait_for_selector("#replay-result")
    assert "1 lettre(s) rejouée(s)" in page.inner_text("#replay-result")
    assert page.locator("#letters tbody tr", has_text=EUI).count() == 0
    # the reading has arrived: the parking spot says what the sensor said
    page.goto(f"{site}/ui/equipements/urn:ngsi-ld:ParkingSpot:{EUI}")
    assert "occupied" in page.inner_text("#equipment-live")
    page.close()


def test_a_status_change_shows_without_a_reload(site: str, browser: Any,
                                                admin: dict[str, str]) -> None:
    ident = "urn:ngsi-ld:Streetlight:01004-live"
    r = httpx.post(f"{site}{API}/entities", headers=admin, json=light(ident, "ok"))
    assert r.status_code == 201, r.text
    page = browser.new_page(extra_http_headers=admin)
    page.goto(f"{site}/ui/equipements/{ident}")
    assert page.locator("#equipment-live .st-ok").count() == 1
    page.evaluate("window.stillTheSamePage = true")
    r = httpx.patch(f"{site}{API}/entities/{ident}/attrs", headers=admin,
                    json={"status": {"type": "Property", "value": "defectiveLamp"}})
    assert r.status_code == 204, r.text
    page.wait_for_selector("#equipment-live .st-alarm", timeout=10_000)
    assert "En alarme" in page.inner_text("#equipment-live")
    assert page.evaluate("window.stillTheSamePage") is True  # no reload happened
    # the overview's counter of equipment in alarm follows too
    page.goto(f"{site}/ui/")
    before = int(page.inner_text("#kpi-alarm"))
    page.evaluate("window.stillTheSamePage = true")
    r = httpx.post(f"{site}{API}/entities", headers=admin,
                   json=light("urn:ngsi-ld:Streetlight:01004-live-2", "defectiveLamp"))
    assert r.status_code == 201, r.text
    wait_for(lambda: int(page.inner_text("#kpi-alarm")) > before, timeout=10.0)
    wait_for(lambda: "01004-live-2" in page.inner_text("#overview-alarms"), timeout=10.0)
    assert page.evaluate("window.stillTheSamePage") is True
    page.close()


def test_a_hidden_tab_stops_polling_and_catches_up_when_shown(site: str, browser: Any,
                                                               admin: dict[str, str]) -> None:
    page = browser.new_page(extra_http_headers=admin)
    polls: list[str] = []
    page.on("request", lambda req: polls.append(req.url) if "/ui/fragments/" in req.url
            else None)
    page.goto(f"{site}/ui/")
    page.wait_for_timeout(2500)
    assert polls, "the overview does not poll"
    page.evaluate("""() => {
        Object.defineProperty(document, "hidden", {configurable: true, get: () => true});
        document.dispatchEvent(new Event("visibilitychange"));
    }""")
    page.wait_for_timeout(300)
    polls.clear()
    page.wait_for_timeout(3000)
    assert polls == []  # nothing asked while hidden
    page.evaluate("""() => {
        Object.defineProperty(document, "hidden", {configurable: true, get: () => false});
        document.dispatchEvent(new Event("visibilitychange"));
    }""")
    page.wait_for_timeout(500)
    assert len(polls) >= 2  # both live parts, at once
    page.close()


def test_the_new_pages_stay_on_loopback_and_raise_no_script_error(
        site: str, browser: Any, admin: dict[str, str]) -> None:
    errors: list[str] = []
    seen: list[str] = []
    page = browser.new_page(extra_http_headers=admin, viewport={"width": 390, "height": 844})
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("request", lambda req: seen.append(req.url))
    for path in ("/ui/qualite", "/ui/sobriete", "/ui/alarmes", "/ui/"):
        page.goto(site + path)
        page.wait_for_load_state("networkidle")
    page.wait_for_timeout(1500)  # a poll or two
    page.goto(site + "/ui/sobriete")
    assert "relevés collectés" in page.inner_text("#sobriety-kpis")
    page.close()
    assert errors == []
    assert [url for url in seen if not url.startswith("http://127.0.0.1:")] == []
    assert any("/ui/fragments/apercu" in url for url in seen)
