"""The web UI in a real browser against a real bocage process."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from bocage_process import cli_key, running_bocage
from browser import chromium

API = "/ngsi-ld/v1"
COMMUNES = ["01004", "01202", "01032"]


def entity(n: int) -> dict[str, Any]:
    commune = COMMUNES[n % len(COMMUNES)]
    kind = ["Streetlight", "WasteContainer", "ParkingSpot"][(n // 3) % 3]
    body: dict[str, Any] = {
        "id": f"urn:ngsi-ld:{kind}:{commune}-{n}", "type": kind,
        "scope": f"/FR/01/240100883/{commune}",
        "location": {"type": "GeoProperty", "value": {
            "type": "Point", "coordinates": [5.30 + (n % 17) / 100, 45.90 + (n % 13) / 100]}},
        "name": {"type": "Property", "value": f"{kind} {n}"},
        "status": {"type": "Property", "value": "ok"},
        "dateObserved": {"type": "Property", "value": "2099-01-01T00:00:00Z",
                         "observedAt": "2099-01-01T00:00:00Z"},
    }
    return body


@pytest.fixture(scope="module")
def ui_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ui")


@pytest.fixture(scope="module")
def admin(ui_data: Path) -> dict[str, str]:
    """A platform administrator's key (the UI shows what its visitor may see)."""
    return {"Authorization": f"Bearer {cli_key(ui_data)}"}


@pytest.fixture(scope="module")
def site(ui_data: Path, admin: dict[str, str]) -> Iterator[str]:
    with running_bocage("serve", ui_data) as base:
        bodies = [entity(n) for n in range(60)]
        failed = entity(60)
        failed.update(id="urn:ngsi-ld:Streetlight:01004-panne", type="Streetlight",
                      name={"type": "Property", "value": "Lampadaire rue de la Gare"},
                      status={"type": "Property", "value": "defectiveLamp"})
        bodies.append(failed)
        r = httpx.post(f"{base}{API}/entityOperations/create", json=bodies, headers=admin)
        assert r.status_code == 201, r.text
        yield base


@pytest.fixture(scope="module")
def browser(admin: dict[str, str]) -> Iterator[Any]:
    """Pages open as the platform administrator (the key sent with every request)."""

    class AsAdmin:
        def __init__(self, b: Any) -> None:
            self.b = b

        def new_page(self, **options: Any) -> Any:
            return self.b.new_page(extra_http_headers=admin, **options)

    with chromium() as b:
        yield AsAdmin(b)


def test_find_the_failed_street_light_on_the_map_and_open_it(site: str, browser: Any) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(f"{site}/ui/carte")
    page.wait_for_selector("#map[data-ready=true]")
    assert page.get_attribute("#map", "data-shown") == "61"
    # keep only the alarms
    for status in ("ok", "offline", "maintenance"):
        page.uncheck(f"#map-filters input[name=status][value={status}]")
    assert page.get_attribute("#map", "data-shown") == "1"
    assert page.inner_text("#map-count").startswith("1 ")
    page.wait_for_selector("#map[data-ready=true]")
    marker = page.locator(".leaflet-marker-icon.mk-alarm")
    marker.click()
    page.get_by_role("link", name="Ouvrir la fiche").click()
    page.wait_for_url("**/ui/equipements/**")
    assert page.inner_text("h1") == "Lampadaire rue de la Gare"
    assert "En alarme" in page.inner_text("main")
    page.close()


def test_filters_by_network_and_commune(site: str, browser: Any) -> None:
    page = browser.new_page()
    page.goto(f"{site}/ui/carte?commune=01202")
    page.wait_for_selector("#map[data-ready=true]")
    assert page.get_attribute("#map", "data-shown") == "20"
    page.uncheck("#map-filters input[name=domain][value=lighting]")
    page.wait_for_function("document.querySelector('#map').dataset.shown !== '20'")
    shown = int(page.get_attribute("#map", "data-shown") or "-1")
    assert 0 < shown < 20
    page.close()


def test_switch_to_english_and_back(site: str, browser: Any) -> None:
    page = browser.new_page()
    page.goto(f"{site}/ui/")
    assert page.inner_text("h1") == "Vue d'ensemble du territoire"
    page.click(".langs a[lang=en]")
    page.wait_for_selector("html[lang=en]")
    assert page.inner_text("h1") == "Territory overview"
    page.goto(f"{site}/ui/carte")  # the choice sticks (cookie)
    assert page.get_by_role("link", name="Map").count() == 1
    page.click(".langs a[lang=fr]")
    page.wait_for_selector("html[lang=fr]")
    assert page.get_by_role("link", name="Carte").count() == 1
    page.close()


def test_every_request_of_every_page_stays_on_loopback(site: str, browser: Any) -> None:
    seen: list[str] = []
    page = browser.new_page()
    page.on("request", lambda request: seen.append(request.url))
    for path in ("/ui/", "/ui/carte", "/ui/equipements/urn:ngsi-ld:Streetlight:01004-panne",
                 "/ui/communes/01004", "/ui/epci/240100883", "/ui/qualite", "/ui/?lang=en",
                 "/ui/tableaux", "/ui/tableaux/eclairage", "/ui/tableaux/reseaux"):
        page.goto(site + path)
        page.wait_for_load_state("networkidle")
        if path == "/ui/carte":
            page.wait_for_selector("#map[data-ready=true]")
    page.close()
    assert len(seen) > 10
    foreign = [url for url in seen if not url.startswith("http://127.0.0.1:")]
    assert foreign == []


def test_pages_raise_no_script_error(site: str, browser: Any, tmp_path: Path) -> None:
    errors: list[str] = []
    page = browser.new_page(viewport={"width": 390, "height": 844})  # a phone
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    for path in ("/ui/", "/ui/carte", "/ui/equipements/urn:ngsi-ld:Streetlight:01004-panne"):
        page.goto(site + path)
        page.wait_for_load_state("networkidle")
    page.close()
    assert errors == []


def test_equipment_page_charts_its_history(site: str, browser: Any,
                                           admin: dict[str, str]) -> None:
    import datetime as dt

    room = "urn:ngsi-ld:IndoorEnvironmentObserved:01004-classe-1"
    now = dt.datetime.now(dt.UTC)

    def at(hours: int) -> str:
        return (now - dt.timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")

    r = httpx.post(f"{site}{API}/entities", headers=admin, json={
        "id": room, "type": "IndoorEnvironmentObserved", "scope": "/FR/01/240100883/01004",
        "co2": {"type": "Property", "value": 600, "unitCode": "59", "observedAt": at(6)}})
    assert r.status_code == 201, r.text
    for hours, ppm in ((5, 900), (4, 1300), (3, 1600), (2, 1100)):
        r = httpx.patch(f"{site}{API}/entities/{room}/attrs", headers=admin, json={
            "co2": {"type": "Property", "value": ppm, "unitCode": "59",
                    "observedAt": at(hours)}})
        assert r.status_code == 204, r.text
    page = browser.new_page()
    page.goto(f"{site}/ui/equipements/{room}")
    page.wait_for_selector("#chart[data-points]")
    assert int(page.get_attribute("#chart", "data-points") or "0") >= 5
    assert page.locator("#chart canvas").count() >= 1
    page.close()


def test_failed_light_request_an_intervention_then_acknowledge_its_alarm(
        site: str, browser: Any) -> None:
    light = "urn:ngsi-ld:Streetlight:01004-panne"
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(f"{site}/ui/equipements/{light}")
    # the lamp-failure rule saw the write and raised its alarm
    page.wait_for_selector("text=Panne de lampe")
    page.fill("#r-desc", "Remplacer la lampe du mât 12")
    page.select_option("#r-sev", "minor")
    page.click("text=Envoyer la demande")
    page.wait_for_url("**/ui/interventions/**")
    assert "Remplacer la lampe du mât 12" in page.inner_text("main")
    page.goto(f"{site}/ui/interventions")
    assert "Remplacer la lampe du mât 12" in page.inner_text("#work-table")
    page.goto(f"{site}/ui/alarmes")
    row = page.locator("#alarm-table tr", has_text="Panne de lampe")
    row.get_by_role("button", name="Acquitter").click()
    page.wait_for_url("**/ui/alarmes/**")
    assert "Acquittée" in page.inner_text("main")
    page.close()


def test_log_in_as_a_commune_agent_see_only_the_commune_then_log_out(
        site: str, ui_data: Path, browser: Any) -> None:
    env = {**os.environ, "BOCAGE_DATABASE_URL": f"sqlite:///{ui_data}/bocage.db"}
    subprocess.run([sys.executable, "-m", "bocage.cli", "users", "create", "agent.ambe",
                    "--role", "agent", "--scope", "/FR/01/240100883/01004",
                    "--password", "un mot de passe assez long"],
                   env=env, check=True, capture_output=True)
    page = browser.b.new_page(viewport={"width": 1280, "height": 800})  # no key: a visitor
    page.goto(f"{site}/ui/carte")
    page.get_by_role("link", name="Se connecter").click()
    page.wait_for_url("**/ui/connexion**")
    page.fill("#login-username", "agent.ambe")
    page.fill("#login-password", "pas le bon")
    page.click("#login-form button[type=submit]")
    assert "Identifiant ou mot de passe incorrect" in page.inner_text("#login-error")
    page.fill("#login-password", "un mot de passe assez long")
    page.click("#login-form button[type=submit]")
    page.wait_for_url("**/ui/carte")  # back where the visitor was
    assert page.inner_text("#session-user").strip() == "agent.ambe"
    assert "agent communal sur /FR/01/240100883/01004" in page.inner_text("#session-grants")
    page.wait_for_selector("#map[data-ready=true]")
    assert page.get_attribute("#map", "data-shown") == "21"  # the commune 01004 only
    page.goto(f"{site}/ui/equipements/urn:ngsi-ld:Streetlight:01202-1")
    assert "Rien ne correspond" in page.inner_text("main")  # another commune: not found
    page.get_by_role("button", name="Se déconnecter").click()
    page.wait_for_url("**/ui/")
    assert page.get_by_role("link", name="Se connecter").count() == 1
    page.close()


def test_api_docs_render_from_vendored_files_only(site: str, browser: Any) -> None:
    seen: list[str] = []
    problems: list[str] = []
    page = browser.b.new_page()
    page.on("request", lambda request: seen.append(request.url))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.goto(f"{site}/docs")
    page.wait_for_selector(".swagger-ui .info .title")
    assert "bocage" in page.inner_text(".swagger-ui .info .title")
    # the operations of the document are listed (NGSI-LD entities among them)
    page.wait_for_selector(".opblock-tag-section")
    assert page.locator(".opblock").count() > 20
    page.close()
    assert [url for url in seen if not url.startswith("http://127.0.0.1:")] == []
    assert problems == []  # no CSP violation, no script error
