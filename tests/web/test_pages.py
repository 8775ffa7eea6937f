"""The web pages over a real store (SQLite and PostgreSQL), through the app."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from admin_client import admin_client
from starlette.testclient import TestClient

from bocage.api.app import create_app
from bocage.settings import Settings
from bocage.storage.base import Store

API = "/ngsi-ld/v1"
LD = {"Content-Type": "application/json"}


def light(n: int, commune: str, status: str = "ok") -> dict[str, object]:
    return {
        "id": f"urn:ngsi-ld:Streetlight:{commune}-{n}", "type": "Streetlight",
        "scope": f"/FR/01/240100883/{commune}",
        "location": {"type": "GeoProperty",
                     "value": {"type": "Point", "coordinates": [5.36 + n / 1000, 45.95]}},
        "status": {"type": "Property", "value": status},
        "powerConsumption": {"type": "Property", "value": 35.5, "unitCode": "WTT",
                             "observedAt": "2099-01-01T00:00:00Z"},
    }


@pytest.fixture
def web(settings: Settings, store: Store) -> Iterator[TestClient]:
    with admin_client(create_app(settings, store)) as client:
        for n, (commune, status) in enumerate([("01004", "ok"), ("01004", "defectiveLamp"),
                                                ("01202", "ok")]):
            r = client.post(f"{API}/entities", json=light(n, commune, status), headers=LD)
            assert r.status_code == 201, r.text
        yield client


def test_overview_counts_equipment_per_network_and_commune(web: TestClient) -> None:
    r = web.get("/ui/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert '<html lang="fr">' in r.text
    assert "Éclairage public" in r.text
    assert "66,7\u00a0%" in r.text  # 2 of 3 lights work
    assert "urn:ngsi-ld:Streetlight:01004-1" in r.text  # listed among alarms


def test_root_redirects_to_the_ui(web: TestClient) -> None:
    r = web.get("/", follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == "/ui/"


def test_map_data_carries_status_domain_and_place(web: TestClient) -> None:
    body = web.get("/ui/carte/equipements.json").json()
    rows = {row[0]: row for row in body["markers"]}
    assert len(rows) == 3
    broken = rows["urn:ngsi-ld:Streetlight:01004-1"]
    assert broken[3:5] == ["lighting", "alarm"]
    assert broken[6:8] == ["240100883", "01004"]
    assert body["labels"]["status"]["alarm"] == "En alarme"
    assert web.get("/ui/carte/equipements.json?lang=en").json()["labels"]["status"][
        "alarm"] == "Alarm"


def test_equipment_page_shows_values_with_units_and_paris_time(web: TestClient) -> None:
    r = web.get("/ui/equipements/urn:ngsi-ld:Streetlight:01004-1")
    assert r.status_code == 200
    assert "En alarme" in r.text and "status = defectiveLamp" in r.text
    assert "35,5&nbsp;W" in r.text
    assert "01/01/2099 01:00" in r.text  # UTC midnight shown in Paris time
    missing = web.get("/ui/equipements/urn:ngsi-ld:Streetlight:nope")
    assert missing.status_code == 404 and "Page introuvable" in missing.text


def test_commune_and_epci_pages_are_scoped(web: TestClient) -> None:
    commune = web.get("/ui/communes/01202")
    assert commune.status_code == 200
    assert "urn:ngsi-ld:Streetlight:01202-2" not in commune.text  # ok lights are not "to watch"
    assert "100\u00a0%" in commune.text
    epci = web.get("/ui/epci/240100883")
    assert epci.status_code == 200 and "/ui/communes/01004" in epci.text
    assert web.get("/ui/communes/99999").status_code == 404
    assert web.get("/ui/communes/..%2F..").status_code == 404


def test_language_switch_sets_a_cookie_and_never_redirects_off_site(web: TestClient) -> None:
    r = web.get("/ui/langue?lang=en&next=/ui/carte", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/ui/carte"
    assert "bocage_lang=en" in r.headers["set-cookie"]
    web.cookies.set("bocage_lang", "en")
    english = web.get("/ui/")
    assert '<html lang="en">' in english.text and "Public lighting" in english.text
    for evil in ("https://evil.example", "//evil.example"):
        r = web.get(f"/ui/langue?lang=en&next={evil}", follow_redirects=False)
        assert r.headers["location"] == "/ui/"


def test_quality_page_lists_equipment_that_never_reported(web: TestClient) -> None:
    r = web.get("/ui/qualite")
    assert r.status_code == 200
    assert "Messages rejetés" in r.text


def test_static_assets_are_served_locally(web: TestClient) -> None:
    for path in ("/ui/static/app.css", "/ui/static/js/map.js",
                 "/ui/static/vendor/leaflet/leaflet.js",
                 "/ui/static/vendor/markercluster/leaflet.markercluster.js",
                 "/ui/static/vendor/uplot/uPlot.iife.min.js"):
        assert web.get(path).status_code == 200, path


def test_pages_hold_no_inline_script(web: TestClient) -> None:
    for path in ("/ui/", "/ui/carte", "/ui/equipements/urn:ngsi-ld:Streetlight:01004-1",
                 "/ui/communes/01004", "/ui/qualite", "/ui/tableaux",
                 "/ui/tableaux/co2-classes", "/ui/tableaux/eclairage"):
        html = web.get(path).text
        assert "<script>" not in html and " style=" not in html and "onclick" not in html, path
