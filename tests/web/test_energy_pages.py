"""The history dashboards (questions 11, 12, 13, 15) over a real store, through the app:
figures read from the temporal history, scoped to the visitor, CSV export audited."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from admin_client import admin_client
from starlette.testclient import TestClient

from bocage.api.app import create_app
from bocage.domain.access import Grant
from bocage.settings import Settings
from bocage.storage.base import Store
from bocage.web.energy_figures import year_start_ms

API = "/ngsi-ld/v1"
EPCI = "240100883"
HOUR = 3_600_000


def hours_ago() -> list[str]:
    """Three whole hours before now (clamped to this year, so that they count in it)."""
    now = int(dt.datetime.now(dt.UTC).timestamp() * 1000)
    base = max(now - now % HOUR - 3 * HOUR, year_start_ms(now))
    return [dt.datetime.fromtimestamp((base + k * HOUR) / 1000, dt.UTC)
            .strftime("%Y-%m-%dT%H:%M:%SZ") for k in range(3)]


def temporal(ident: str, kind: str, commune: str, attr: str, values: list[Any],
             **static: Any) -> dict[str, Any]:
    at = hours_ago()
    body: dict[str, Any] = {
        "id": ident, "type": kind, "scope": f"/FR/01/{EPCI}/{commune}",
        attr: [{"type": "Property", "value": v, "observedAt": t}
               for v, t in zip(values, at, strict=False)],
    }
    for name, value in static.items():
        body[name] = {"type": "Property", "value": value}
    return body


@pytest.fixture
def web(settings: Settings, store: Store) -> Iterator[TestClient]:
    app = create_app(settings, store)
    with admin_client(app) as client:
        bodies = [
            temporal("urn:ngsi-ld:ACMeasurement:01004-M001", "ACMeasurement", "01004",
                     "totalActiveEnergyImport", [100.0, 110.0, 130.0],
                     name="Compteur mairie"),
            temporal("urn:ngsi-ld:DeviceMeasurement:01004-F001", "DeviceMeasurement", "01004",
                     "numValue", [10.0, 11.5, 13.0], controlledProperty="gasConsumption",
                     name="Compteur de gaz école"),
            temporal("urn:ngsi-ld:ACMeasurement:01202-M001", "ACMeasurement", "01202",
                     "totalActiveEnergyImport", [5000.0, 5400.0], name="Compteur voisin"),
            temporal("urn:ngsi-ld:PhotovoltaicMeasurement:01004-S001",
                     "PhotovoltaicMeasurement", "01004", "activePower", [2.0, 2.0],
                     peakPower=9.0, name="PV mairie"),
            temporal("urn:ngsi-ld:DeviceMeasurement:01004-T001", "DeviceMeasurement", "01004",
                     "numValue", [7000.0, 7400.0, 7900.0], controlledProperty="energy",
                     name="Réseau de chaleur"),
        ]
        for body in bodies:
            r = client.post(f"{API}/temporal/entities", json=body,
                            headers={"Content-Type": "application/json"})
            assert r.status_code in (201, 204), r.text
        hall = {"id": "urn:ngsi-ld:Building:01032-G001", "type": "Building",
                "scope": f"/FR/01/{EPCI}/01032",
                "name": {"type": "Property", "value": "Gymnase de Bourg"},
                "category": {"type": "Property", "value": ["sportsCentre"]}}
        ref = {"refBuilding": {"type": "Relationship", "object": hall["id"]}}
        meter = temporal("urn:ngsi-ld:ACMeasurement:01032-M003", "ACMeasurement", "01032",
                         "totalActivePower", [500.0, 4500.0, 6500.0])
        counter = temporal("urn:ngsi-ld:IndoorEnvironmentObserved:01032-Y001",
                           "IndoorEnvironmentObserved", "01032", "peopleCount", [0, 0, 20])
        for body in (hall, {**meter, **ref}, {**counter, **ref}):
            r = client.post(f"{API}/temporal/entities", json=body,
                            headers={"Content-Type": "application/json"})
            assert r.status_code in (201, 204), r.text
        yield client


def kpis(html: str) -> list[str]:
    import re
    return re.findall(r'<span class="kpi-v">(.*?)</span>', html)


def test_the_dashboards_list_holds_the_four_history_questions(web: TestClient) -> None:
    r = web.get("/ui/tableaux")
    assert r.status_code == 200
    for slug in ("gymnases", "photovoltaique", "reseaux-chaleur", "consommations"):
        assert f'href="/ui/tableaux/{slug}"' in r.text
    assert r.text.index("Question 10") < r.text.index("Question 11")


def test_consumption_and_its_cost_read_from_history(web: TestClient) -> None:
    r = web.get("/ui/tableaux/consommations?commune=01004")
    assert r.status_code == 200
    # electricity 30 kWh x 0.2516 = 7.548 EUR; gas 3 m3 x 11.2 = 33.6 kWh x 0.125 = 4.2 EUR
    assert kpis(r.text) == ["30", "7,55", "33,6", "4,2", "11,75"]
    assert "0,2516 €/kWh" in r.text and "11,2 kWh par m³" in r.text
    assert 'data-chart="{&#34;days&#34;' in r.text  # the chart's data, no inline script
    everyone = web.get("/ui/tableaux/consommations").text
    assert kpis(everyone)[0] == "430"  # the neighbour's 400 kWh too


def test_pv_and_heat_network_figures(web: TestClient) -> None:
    pv = web.get("/ui/tableaux/photovoltaique?lang=en").text
    assert kpis(pv) == ["1", "9", "4", "0.4"]  # 2 kW over two whole hours
    heat = web.get("/ui/tableaux/reseaux-chaleur").text
    assert kpis(heat)[:2] == ["1", "0,9"]  # 7,900 - 7,000 kWh


def test_a_visitor_sees_only_the_meters_of_their_scope(web: TestClient) -> None:
    app: Any = web.app
    _, key = app.state.security.create_key([Grant("elu", f"/FR/01/{EPCI}/01202")],
                                           name="elu", by="tests")
    r = web.get("/ui/tableaux/consommations", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200
    assert kpis(r.text)[0] == "400"
    assert "Compteur voisin" in r.text and "Compteur mairie" not in r.text


def test_gym_hours_heated_while_empty(web: TestClient) -> None:
    r = web.get("/ui/tableaux/gymnases")
    assert r.status_code == 200
    # standby 500 W; 4,500 W with nobody in: 1 hour, 4 kWh above standby, x 0.2516 EUR
    assert kpis(r.text) == ["1", "1", "4", "1,01"]
    assert "Gymnase de Bourg" in r.text
    # the week as observed: one row per weekday seen, under the main table
    extra = r.text[r.text.index('id="dashboard-extra"'):]
    assert "Gymnase de Bourg" in extra and "Chauffé ou éclairé à vide" in extra


def test_csv_export_is_audited(web: TestClient) -> None:
    r = web.get("/ui/tableaux/consommations?format=csv&commune=01004")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    lines = r.text.lstrip("\ufeff").splitlines()
    assert lines[0].split(";")[-1] == "Coût (€)"
    assert any(line.endswith(";Électricité;30,0;kWh;30,0;7,55") for line in lines)
    audit = web.get("/api/audit").json()
    assert any(a["action"] == "export" and a["target"] == "dashboard:consommations"
               and a["detail"]["rows"] == 2 for a in audit)


def test_an_area_that_is_no_code_is_not_found(web: TestClient) -> None:
    for query in ("commune=01004%22%3E%3Cscript%3E", "epci=24%0D%0AX-Injected:%201"):
        r = web.get(f"/ui/tableaux/consommations?{query}&format=csv")
        assert r.status_code == 404 and "Page introuvable" in r.text
        assert "x-injected" not in r.headers and "<script>" not in r.text
    unknown = web.get("/ui/tableaux/consommations?commune=99999")
    assert unknown.status_code == 200 and "Aucun" in unknown.text
