"""Dashboards for elected officials: pure tables, and their pages and CSV exports."""

from __future__ import annotations

import datetime as dt

from starlette.testclient import TestClient

from bocage.web.dashboards import classroom_co2, co2_level, lighting_status, to_csv
from bocage.web.equipment import summarize

NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
V = "https://example.org/v/"


def room(n: int, co2: float, commune: str = "01004") -> dict[str, object]:
    return {"id": f"urn:ngsi-ld:IndoorEnvironmentObserved:{n}",
            "type": [V + "IndoorEnvironmentObserved"], "scope": [f"/FR/01/240100883/{commune}"],
            V + "name": [{"type": "Property", "value": f"Classe {n}"}],
            V + "co2": [{"type": "Property", "value": co2, "unitCode": "59",
                         "observedAt": "2026-11-26T11:55:00.000Z"}]}


def summaries(*entities: dict[str, object]) -> list[object]:
    return [summarize(e, lambda i: i.removeprefix(V), NOW, dt.timedelta(hours=24))
            for e in entities]


def test_co2_levels_follow_the_thresholds() -> None:
    assert [co2_level(v) for v in (400, 800, 801, 1500, 1501, None, True)] == [
        "good", "good", "medium", "medium", "bad", "unknown", "unknown"]


def test_classroom_table_puts_the_worst_room_first_and_counts_levels() -> None:
    table = classroom_co2(summaries(room(1, 650), room(2, 1720), room(3, 1100)))  # type: ignore[arg-type]
    assert [r[1] for r in table.rows] == ["Classe 2", "Classe 3", "Classe 1"]
    assert dict(table.figures) == {"dash.fig.rooms": 3, "co2.good": 1, "co2.medium": 1,
                                   "co2.bad": 1}
    csv = to_csv(table, lambda h: h.upper(), str)
    assert csv.splitlines()[0].startswith("DASH.COL.ID;EQUIPMENT.NAME")
    assert "Classe 2;01004;1720;" in csv


def test_lighting_lists_failures_first() -> None:
    def light(n: int, status: str) -> dict[str, object]:
        return {"id": f"urn:l:{n}", "type": [V + "Streetlight"],
                V + "status": [{"type": "Property", "value": status}],
                V + "powerState": [{"type": "Property", "value": "on",
                                    "observedAt": "2026-11-26T11:00:00.000Z"}]}

    table = lighting_status(summaries(light(1, "ok"), light(2, "defectiveLamp")))  # type: ignore[arg-type]
    assert [r[0] for r in table.rows] == ["urn:l:2", "urn:l:1"]
    assert dict(table.figures)["status.alarm"] == 1


def test_dashboard_pages_and_csv_export(client: TestClient) -> None:
    for n, co2 in enumerate((650, 1720)):
        body = {"id": f"urn:ngsi-ld:IndoorEnvironmentObserved:{n}",
                "type": "IndoorEnvironmentObserved", "scope": "/FR/01/240100883/01004",
                "co2": {"type": "Property", "value": co2, "unitCode": "59",
                        "observedAt": "2099-01-01T00:00:00Z"}}
        assert client.post("/ngsi-ld/v1/entities", json=body).status_code == 201
    index = client.get("/ui/tableaux")
    assert index.status_code == 200 and "/ui/tableaux/co2-classes" in index.text
    page = client.get("/ui/tableaux/co2-classes?commune=01004")
    assert page.status_code == 200
    assert "À aérer (&gt; 1 500 ppm)" in page.text
    export = client.get("/ui/tableaux/co2-classes?format=csv&commune=01004")
    assert export.headers["content-type"].startswith("text/csv")
    assert 'filename="bocage-co2-classes-01004.csv"' in export.headers["content-disposition"]
    lines = export.text.lstrip("\ufeff").splitlines()
    assert lines[0].startswith("Identifiant;Équipement;Commune;CO2")
    assert len(lines) == 3 and "1720" in lines[1]
    assert client.get("/ui/tableaux/nope").status_code == 404
    empty = client.get("/ui/tableaux/co2-classes?commune=99999&format=csv")
    assert len(empty.text.lstrip("\ufeff").splitlines()) == 1
