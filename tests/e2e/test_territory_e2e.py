"""The web UI's main flow in Chromium against `bocage demo`, the simulated territory (with
authentication on): log in with the demo's account, find the failed street light on the
map, open it, see its chart, request an intervention, find it in the queue, acknowledge
the alarm, switch to English and back."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from bocage_process import running_bocage
from browser import chromium

EPCI = "200029999"  # 14 communes: quick to start


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    data = tmp_path_factory.mktemp("territory")
    # the last hour replayed 120 x faster: the scripted lamp failure (15 min in) shows at once
    args = ("--epci", EPCI, "--seed", "5", "--speed", "120", "--catch-up", "1h")
    with running_bocage("demo", data, args=args) as base:
        saved = dict(re.findall(r"export (BOCAGE_\w+)=(\S+)",
                                (data / "demo-keys.env").read_text()))
        admin = {"Authorization": f"Bearer {saved['BOCAGE_ADMIN_KEY']}"}
        deadline = time.monotonic() + 120
        alarm: dict[str, Any] | None = None
        while alarm is None:
            assert time.monotonic() < deadline, "no lamp failure alarm within two minutes"
            found = httpx.get(f"{base}/api/alarms", headers=admin).json()
            alarm = next((a for a in found if a["rule"] == "lamp-failure"), None)
            time.sleep(1)
        yield {"base": base, "login": saved["BOCAGE_ADMIN_LOGIN"],
               "password": saved["BOCAGE_ADMIN_PASSWORD"], "alarm": alarm, "admin": admin}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


def test_the_whole_flow_on_the_simulated_territory(demo: dict[str, Any], browser: Any,
                                                   tmp_path: Path) -> None:
    base, light = demo["base"], demo["alarm"]["source"]
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(f"{base}/ui/carte")
    # log in (the visitor sees open data only until then)
    page.get_by_role("link", name="Se connecter").click()
    page.fill("#login-username", demo["login"])
    page.fill("#login-password", demo["password"])
    page.click("#login-form button[type=submit]")
    page.wait_for_url("**/ui/carte")
    assert page.inner_text("#session-user").strip() == demo["login"]
    assert "administration sur tout le territoire" in page.inner_text("#session-grants")
    # the map: only the lighting network's alarms
    page.wait_for_selector("#map[data-ready=true]")
    assert int(page.get_attribute("#map", "data-shown") or "0") > 500
    for status in ("ok", "offline", "maintenance"):
        page.uncheck(f"#map-filters input[name=status][value={status}]")
    for box in page.locator("#map-filters input[name=domain]").all():
        if box.get_attribute("value") != "lighting":
            box.uncheck()
    page.wait_for_function("Number(document.querySelector('#map').dataset.shown) >= 1")
    shown = int(page.get_attribute("#map", "data-shown") or "0")
    assert 1 <= shown <= 5  # the scripted failure (and perhaps a background one)
    markers = page.locator(".leaflet-marker-icon.mk-alarm")
    if markers.count() == 0:  # clustered: zoom in on the cluster
        page.locator(".marker-cluster").first.click()
    opened = False
    for i in range(page.locator(".leaflet-marker-icon.mk-alarm").count()):
        page.locator(".leaflet-marker-icon.mk-alarm").nth(i).click()
        link = page.get_by_role("link", name="Ouvrir la fiche")
        if light.split(":")[-1] in (link.get_attribute("href") or ""):
            link.click()
            opened = True
            break
    assert opened, "the failed light's marker was not on the map"
    page.wait_for_url("**/ui/equipements/**")
    assert "En alarme" in page.inner_text("main") and "Panne de lampe" in page.inner_text("main")
    # its chart, from the replayed hour of readings
    page.wait_for_selector("#chart[data-points]")
    deadline = time.monotonic() + 60  # a reading every 7.5 s at this speed
    while int(page.get_attribute("#chart", "data-points") or "0") < 2:
        assert time.monotonic() < deadline, "the chart never got a second reading"
        time.sleep(2)
        page.reload()
        page.wait_for_selector("#chart[data-points]")
    assert page.locator("#chart canvas").count() >= 1
    # request an intervention, find it in the queue
    page.fill("#r-desc", "Changer la lampe, mât près de la mairie")
    page.select_option("#r-sev", "major")
    page.click("text=Envoyer la demande")
    page.wait_for_url("**/ui/interventions/**")
    page.goto(f"{base}/ui/interventions")
    assert "Changer la lampe, mât près de la mairie" in page.inner_text("#work-table")
    # acknowledge the alarm
    page.goto(f"{base}/ui/alarmes")
    row = page.locator("#alarm-table tr", has_text=light.split(":")[-1])
    row.get_by_role("button", name="Acquitter").click()
    page.wait_for_url("**/ui/alarmes/**")
    assert "Acquittée" in page.inner_text("main")
    alarm = httpx.get(f"{base}/api/alarms/{demo['alarm']['id']}", headers=demo["admin"]).json()
    assert alarm["status"] == "acknowledged" and alarm["events"][-1]["by"] == demo["login"]
    # English and back
    page.click(".langs a[lang=en]")
    page.wait_for_selector("html[lang=en]")
    assert "Acknowledged" in page.inner_text("main")
    page.click(".langs a[lang=fr]")
    page.wait_for_selector("html[lang=fr]")
    page.close()


def _logged_in(demo: dict[str, Any], browser: Any) -> Any:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{demo['base']}/ui/connexion")
    page.fill("#login-username", demo["login"])
    page.fill("#login-password", demo["password"])
    page.click("#login-form button[type=submit]")
    page.wait_for_url("**/ui/")
    return page


def _markers(demo: dict[str, Any]) -> list[list[Any]]:
    rows: list[list[Any]] = httpx.get(f"{demo['base']}/ui/carte/equipements.json",
                                      headers=demo["admin"]).json()["markers"]
    return rows


def _rows(page: Any) -> list[list[str]]:
    return [[c.strip() for c in r.locator("td").all_inner_texts()]
            for r in page.locator("#dashboard-table tbody tr").all()]


def test_q7_classroom_co2_on_screen(demo: dict[str, Any], browser: Any) -> None:
    page = _logged_in(demo, browser)
    page.goto(f"{demo['base']}/ui/tableaux/co2-classes")
    rooms = [m for m in _markers(demo) if m[8] == "Qualité de l'air intérieur"
             or (m[3] == "buildings" and "classe" in m[5].lower())]
    rows = _rows(page)
    assert rows and len(rows) >= len([m for m in rooms if "classe" in m[5].lower()])
    # the rooms come worst first: the first row's CO2 is the highest on screen
    co2 = [float(r[2].replace("\u202f", "").replace(",", ".")) for r in rows if r[2] != "–"]
    assert co2 and co2[0] == max(co2) and co2[0] > 350
    page.close()


def test_q8_operating_rate_of_each_network_on_screen(demo: dict[str, Any],
                                                     browser: Any) -> None:
    page = _logged_in(demo, browser)
    page.goto(f"{demo['base']}/ui/tableaux/reseaux")
    rows = {r[0]: r for r in _rows(page)}
    lights = sum(1 for m in _markers(demo) if m[3] == "lighting")
    assert int(rows["Éclairage public"][1].replace("\u202f", "")) == lights
    assert rows["Éclairage public"][-1].endswith("%")
    page.close()


def test_q9_lighting_status_and_the_failed_light_first(demo: dict[str, Any],
                                                      browser: Any) -> None:
    page = _logged_in(demo, browser)
    page.goto(f"{demo['base']}/ui/tableaux/eclairage")
    first = page.locator("#dashboard-table tbody tr").first
    assert "En alarme" in first.inner_text()  # problems come first
    light = demo["alarm"]["source"].split(":")[-1]
    failed = page.locator(f'#dashboard-table tbody tr:has(a[href$="{light}"])')
    assert failed.count() == 1 and "En alarme" in failed.inner_text()
    page.close()


def test_q10_video_protection_on_screen(demo: dict[str, Any], browser: Any) -> None:
    page = _logged_in(demo, browser)
    page.goto(f"{demo['base']}/ui/tableaux/videoprotection")
    cameras = sum(1 for m in _markers(demo) if m[3] == "video")
    assert cameras > 0 and len(_rows(page)) == cameras
    page.close()
