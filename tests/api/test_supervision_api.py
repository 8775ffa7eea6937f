"""/api/alarms, /api/interventions and /api/rules through the app, on both backends."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

API = "/ngsi-ld/v1"
LIGHT = "urn:ngsi-ld:Streetlight:01004-9"


def failing_light(client: TestClient) -> dict[str, Any]:
    body = {"id": LIGHT, "type": "Streetlight", "scope": "/FR/01/240100883/01004",
            "powerState": {"type": "Property", "value": "on",
                           "observedAt": "2026-11-24T20:00:00Z"},
            "powerConsumption": {"type": "Property", "value": 0.0,
                                 "observedAt": "2026-11-24T20:00:00Z"}}
    assert client.post(f"{API}/entities", json=body).status_code == 201
    # the write reaches the rules through the observed store, on the supervisor's thread
    assert client.app.state.supervisor.wait_idle()  # type: ignore[attr-defined]
    [alarm] = client.get("/api/alarms").json()
    return dict(alarm)


def test_alarm_lifecycle_over_http(client: TestClient) -> None:
    alarm = failing_light(client)
    assert (alarm["rule"], alarm["status"], alarm["source"]) == ("lamp-failure", "active", LIGHT)
    ident = alarm["id"]
    # the alarm is an NGSI-LD entity too
    entity = client.get(f"{API}/entities/{ident}").json()
    assert entity["type"] == "Alert" and entity["alertSource"]["object"] == LIGHT
    assert client.post(f"/api/alarms/{ident}/acknowledge").json()["status"] == "acknowledged"
    again = client.post(f"/api/alarms/{ident}/acknowledge")
    assert again.status_code == 400
    assert again.headers["content-type"] == "application/problem+json"
    assert client.post(f"/api/alarms/{ident}/assign",
                       json={"assignee": "Élec 01"}).json()["assignee"] == "Élec 01"
    assert client.post(f"/api/alarms/{ident}/comment", json={"text": ""}).status_code == 400
    assert client.post(f"/api/alarms/{ident}/comment", json={"text": 42}).status_code == 400
    client.post(f"/api/alarms/{ident}/comment", json={"text": "Nacelle demain"})
    cleared = client.post(f"/api/alarms/{ident}/clear", json={"reason": "lampe changée"})
    assert cleared.json()["status"] == "cleared"
    history = client.get(f"/api/alarms/{ident}").json()["events"]
    assert [e["action"] for e in history] == ["raised", "acknowledged", "assigned", "comment",
                                              "cleared"]
    assert client.get("/api/alarms?status=active").json() == []
    assert client.get("/api/alarms?status=bogus").status_code == 400
    assert client.get("/api/alarms/urn:ngsi-ld:Alert:none").status_code == 404


def test_interventions_over_http(client: TestClient) -> None:
    alarm = failing_light(client)
    [auto] = client.get("/api/interventions").json()  # the lamp-failure rule opens one
    assert auto["alarm"] == alarm["id"] and auto["status"] == "requested"
    r = client.post("/api/interventions", json={"equipment": LIGHT, "severity": "minor",
                                                "description": "Mât penché"})
    assert r.status_code == 201
    made = r.json()
    assert r.headers["location"] == f"/api/interventions/{made['id']}"
    assert made["overdue"] is False
    moved = client.patch(f"/api/interventions/{made['id']}",
                         json={"status": "planned", "contractor": "Élec 01"})
    assert moved.json()["status"] == "planned"
    bad = client.patch(f"/api/interventions/{made['id']}", json={"status": "done"})
    assert bad.status_code == 400 and "cannot go from planned to done" in bad.json()["detail"]
    assert client.get("/api/interventions?status=planned").json()[0]["id"] == made["id"]
    for body in ({"equipment": "urn:ngsi-ld:Streetlight:nope", "description": "x"},
                 {"equipment": LIGHT, "description": ""},
                 {"equipment": LIGHT, "description": "x", "severity": "apocalyptic"},
                 {"description": "x"}, ["not", "an", "object"]):
        answer = client.post("/api/interventions", json=body)
        assert answer.status_code in (400, 404), body
        assert answer.headers["content-type"] == "application/problem+json"
    assert len(client.get("/api/interventions").json()) == 2  # nothing half-made


def test_rules_over_http(client: TestClient) -> None:
    ids = [r["id"] for r in client.get("/api/rules").json()]
    assert {"lamp-failure", "water-leak", "bin-full", "flood-rise", "device-silent"} <= set(ids)
    rule = {"target": {"type": "WasteContainer"}, "severity": "major",
            "condition": {"kind": "threshold", "attribute": "fillingLevel", "op": ">=",
                          "value": 0.8}}
    assert client.put("/api/rules/bin-80", json=rule).status_code == 200
    assert "bin-80" in [r["id"] for r in client.get("/api/rules").json()]
    broken = client.put("/api/rules/bad", json={"target": {"type": "X"},
                                                "condition": {"kind": "telepathy"}})
    assert broken.status_code == 400 and "kind must be one of" in broken.json()["detail"]
    assert client.put("/api/rules/x", json={**rule, "id": "y"}).status_code == 400
    assert client.delete("/api/rules/bin-80").status_code == 204
    assert client.delete("/api/rules/bin-80").status_code == 404
