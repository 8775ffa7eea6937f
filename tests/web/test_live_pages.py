"""Live parts of pages: htmx polls fragments that follow status changes, through the
visitor's scopes, on both backends."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from admin_client import admin_client
from starlette.testclient import TestClient

from bocage.api.app import create_app
from bocage.domain.access import Grant
from bocage.settings import Settings
from bocage.storage.base import Store

API = "/ngsi-ld/v1"
A, B = "/FR/01/240100883/01004", "/FR/01/240100883/01202"


def light(n: int, scope: str, status: str = "ok") -> dict[str, Any]:
    return {"id": f"urn:ngsi-ld:Streetlight:{n}", "type": "Streetlight", "scope": scope,
            "name": {"type": "Property", "value": f"Lampadaire {n}"},
            "location": {"type": "GeoProperty",
                         "value": {"type": "Point", "coordinates": [5.36, 45.95]}},
            "status": {"type": "Property", "value": status},
            "powerConsumption": {"type": "Property", "value": 35.5, "unitCode": "WTT",
                                 "observedAt": "2099-01-01T00:00:00Z"}}


@pytest.fixture
def app(settings: Settings, store: Store) -> Any:
    # fresh summaries on every view: what a poll sees is what the store holds now
    return create_app(settings.replace(ui_cache_seconds=0.0, ui_live_seconds=5.0), store)


@pytest.fixture
def web(app: Any) -> Iterator[TestClient]:
    with admin_client(app) as client:
        for n, (scope, status) in enumerate([(A, "ok"), (A, "defectiveLamp"), (B, "ok")]):
            assert client.post(f"{API}/entities", json=light(n, scope, status)).status_code == 201
        yield client


def alarm_count(html: str) -> int:
    found = re.search(r'id="kpi-alarm">(\d+)<', html)
    assert found, html[:500]
    return int(found.group(1))


def test_the_overview_polls_its_counters_and_alarm_list(web: TestClient) -> None:
    page = web.get("/ui/")
    assert 'hx-get="/ui/fragments/apercu?partie=chiffres"' in page.text
    assert 'hx-get="/ui/fragments/apercu?partie=alarmes"' in page.text
    assert 'hx-trigger="every 5s, live-now"' in page.text
    assert "/ui/static/vendor/htmx/htmx.min.js" in page.text and "js/live.js" in page.text
    part = web.get("/ui/fragments/apercu", params={"partie": "chiffres"})
    assert part.status_code == 200 and "<html" not in part.text
    assert part.headers["cache-control"] == "no-store"
    assert alarm_count(part.text) == 1 and 'id="overview-kpis"' in part.text
    # a status changes server-side: the next poll says so
    r = web.patch(f"{API}/entities/urn:ngsi-ld:Streetlight:2/attrs",
                  json={"status": {"type": "Property", "value": "defectiveLamp"}})
    assert r.status_code == 204
    again = web.get("/ui/fragments/apercu", params={"partie": "chiffres"})
    assert alarm_count(again.text) == 2
    alarms = web.get("/ui/fragments/apercu", params={"partie": "alarmes"})
    assert "Lampadaire 2" in alarms.text and "Lampadaire 1" in alarms.text
    assert "Lampadaire 0" not in alarms.text
    assert web.get("/ui/fragments/apercu", params={"partie": "x"}).status_code == 404


def test_the_equipment_fragment_follows_status_and_values(web: TestClient) -> None:
    ident = "urn:ngsi-ld:Streetlight:0"
    page = web.get(f"/ui/equipements/{ident}")
    assert 'hx-get="/ui/fragments/equipements/urn%3Angsi-ld%3AStreetlight%3A0"' in page.text
    part = web.get("/ui/fragments/equipements/urn%3Angsi-ld%3AStreetlight%3A0")
    assert part.status_code == 200 and 'id="equipment-live"' in part.text
    assert "st-ok" in part.text and "35,5" in part.text
    web.patch(f"{API}/entities/{ident}/attrs", json={
        "status": {"type": "Property", "value": "defectiveLamp"},
        "powerConsumption": {"type": "Property", "value": 12.25, "unitCode": "WTT",
                             "observedAt": "2099-01-02T00:00:00Z"}})
    part = web.get(f"/ui/fragments/equipements/{ident}")
    assert "st-alarm" in part.text and "12,25" in part.text and "35,5" not in part.text
    assert web.get("/ui/fragments/equipements/urn:ngsi-ld:Streetlight:nope").status_code == 404


def test_fragments_show_only_what_the_visitor_may_see(app: Any, web: TestClient) -> None:
    _, key = app.state.security.create_key([Grant("agent", B)], name="b", by="t")
    with TestClient(app, headers={"Authorization": f"Bearer {key}"}) as b:
        assert b.get("/ui/fragments/equipements/urn:ngsi-ld:Streetlight:1").status_code == 404
        part = b.get("/ui/fragments/apercu", params={"partie": "chiffres"})
        assert alarm_count(part.text) == 0
        assert "Lampadaire 1" not in b.get("/ui/fragments/apercu",
                                           params={"partie": "alarmes"}).text


def test_the_alarm_queue_table_alone(web: TestClient) -> None:
    web.post(f"{API}/entities", json={
        **light(9, A), "powerState": {"type": "Property", "value": "on",
                                      "observedAt": "2099-01-01T20:00:00Z"},
        "powerConsumption": {"type": "Property", "value": 0.0,
                             "observedAt": "2099-01-01T20:00:00Z"}})
    assert web.app.state.supervisor.wait_idle()  # type: ignore[attr-defined]
    page = web.get("/ui/alarmes", params={"gravite": "major"})
    assert 'hx-get="/ui/alarmes?etat=ouvertes&amp;gravite=major&amp;commune=&amp;fragment=1"' \
        in page.text
    table = web.get("/ui/alarmes", params={"gravite": "major", "fragment": "1"})
    assert table.status_code == 200 and table.text.lstrip().startswith("<table")
    assert "Panne de lampe" in table.text and 'name="csrf"' in table.text


def test_no_live_updates_when_switched_off(settings: Settings, store: Store) -> None:
    app = create_app(settings.replace(ui_live_seconds=0.0), store)
    with admin_client(app) as client:
        page = client.get("/ui/")
        assert "data-live" not in page.text and "htmx.min.js" not in page.text
