"""Alarm and intervention queues in the web UI: forms, CSRF, French messages, nothing half-saved."""

from __future__ import annotations

import re

from starlette.testclient import TestClient

API = "/ngsi-ld/v1"
LIGHT = "urn:ngsi-ld:Streetlight:01004-3"


def failing_light(client: TestClient) -> str:
    body = {"id": LIGHT, "type": "Streetlight", "scope": "/FR/01/240100883/01004",
            "name": {"type": "Property", "value": "Lampadaire place de l'église"},
            "location": {"type": "GeoProperty",
                         "value": {"type": "Point", "coordinates": [5.36, 45.95]}},
            "powerState": {"type": "Property", "value": "on",
                           "observedAt": "2099-01-01T20:00:00Z"},
            "powerConsumption": {"type": "Property", "value": 0.0,
                                 "observedAt": "2099-01-01T20:00:00Z"}}
    assert client.post(f"{API}/entities", json=body).status_code == 201
    # the write reaches the rules through the observed store, on the supervisor's thread
    assert client.app.state.supervisor.wait_idle()  # type: ignore[attr-defined]
    return str(client.get("/api/alarms").json()[0]["id"])


def token(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field in the form"
    return found.group(1)


def test_the_failed_light_shows_on_the_map_and_in_the_alarm_queue(client: TestClient) -> None:
    alarm = failing_light(client)
    rows = {r[0]: r for r in client.get("/ui/carte/equipements.json").json()["markers"]}
    assert rows[LIGHT][4] == "alarm"
    queue = client.get("/ui/alarmes")
    assert queue.status_code == 200
    assert "Panne de lampe" in queue.text and "Majeure" in queue.text
    page = client.get(f"/ui/alarmes/{alarm}")
    assert page.status_code == 200 and "Historique" in page.text


def test_acknowledge_assign_and_clear_through_forms(client: TestClient) -> None:
    alarm = failing_light(client)
    page = client.get(f"/ui/alarmes/{alarm}")
    csrf = token(page.text)
    r = client.post(f"/ui/alarmes/{alarm}", data={"csrf": csrf, "action": "acknowledge"},
                    follow_redirects=False)
    assert r.status_code == 303
    assert client.get(f"/api/alarms/{alarm}").json()["status"] == "acknowledged"
    # an empty assignee: a French message next to the field, nothing saved
    r = client.post(f"/ui/alarmes/{alarm}", data={"csrf": csrf, "action": "assign", "text": " "})
    assert r.status_code == 400
    assert "Indiquez à qui attribuer" in r.text and 'aria-invalid="true"' in r.text
    assert client.get(f"/api/alarms/{alarm}").json()["assignee"] is None
    client.post(f"/ui/alarmes/{alarm}", data={"csrf": csrf, "action": "clear",
                                              "text": "lampe changée"})
    assert client.get(f"/api/alarms/{alarm}").json()["status"] == "cleared"


def test_a_form_without_its_token_is_refused_and_changes_nothing(client: TestClient) -> None:
    alarm = failing_light(client)
    client.get(f"/ui/alarmes/{alarm}")  # sets the cookie
    r = client.post(f"/ui/alarmes/{alarm}", data={"csrf": "forged", "action": "acknowledge"})
    assert r.status_code == 403 and "Le formulaire a expiré" in r.text
    assert client.get(f"/api/alarms/{alarm}").json()["status"] == "active"


def test_request_an_intervention_from_the_equipment_page(client: TestClient) -> None:
    failing_light(client)
    page = client.get(f"/ui/equipements/{LIGHT}")
    assert "Demander une intervention" in page.text and "Panne de lampe" in page.text
    csrf = token(page.text)
    empty = client.post("/ui/demande-intervention", data={
        "csrf": csrf, "equipment": LIGHT, "description": "  ", "severity": "minor"})
    assert empty.status_code == 400 and "Décrivez ce qu" in empty.text
    before = len(client.get("/api/interventions").json())
    r = client.post("/ui/demande-intervention", data={
        "csrf": csrf, "equipment": LIGHT, "description": "Mât penché", "severity": "minor"},
        follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/ui/interventions/")
    assert len(client.get("/api/interventions").json()) == before + 1
    detail = client.get(r.headers["location"])
    assert "Mât penché" in detail.text and "Demandée" in detail.text
    queue = client.get("/ui/interventions")
    assert "Mât penché" in queue.text


def test_plan_then_refuse_an_impossible_move(client: TestClient) -> None:
    failing_light(client)
    [auto] = client.get("/api/interventions").json()
    page = client.get(f"/ui/interventions/{auto['id']}")
    csrf = token(page.text)
    r = client.post(f"/ui/interventions/{auto['id']}", data={
        "csrf": csrf, "status": "planned", "contractor": "Élec 01",
        "plannedFor": "2099-01-02T08:30"}, follow_redirects=False)
    assert r.status_code == 303
    moved = client.get(f"/api/interventions/{auto['id']}").json()
    assert moved["status"] == "planned" and moved["contractor"] == "Élec 01"
    assert moved["planned_for"] == "2099-01-02T07:30:00Z"  # Paris winter time -> UTC
    bad = client.post(f"/ui/interventions/{auto['id']}", data={"csrf": csrf, "status": "done"})
    assert bad.status_code == 400 and "Changement refusé" in bad.text
    assert client.get(f"/api/interventions/{auto['id']}").json()["status"] == "planned"
