"""GET /entities and POST /entityOperations/query through the HTTP API."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

BASE = "/ngsi-ld/v1"


def ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return sorted(e["id"] for e in response.json())


@pytest.fixture
def loaded(client: TestClient) -> TestClient:
    entities = []
    for n in range(10):
        entities.append({
            "id": f"urn:ngsi-ld:WasteContainer:{n}",
            "type": "WasteContainer",
            "scope": f"/FR/01/240100883/0100{n % 3}",
            "fill": {"type": "Property", "value": n * 10,
                     "observedAt": f"2026-11-2{n}T00:00:00Z" if n < 10 else None},
            "colour": {"type": "Property", "value": "green" if n % 2 else "grey"},
            "location": {"type": "GeoProperty",
                         "value": {"type": "Point", "coordinates": [5.0 + n * 0.1, 45.0]}},
            "sensor": {"type": "Relationship", "object": f"urn:ngsi-ld:Device:{n}"},
        })
    entities.append({"id": "urn:ngsi-ld:Streetlight:1", "type": ["Streetlight", "Asset"],
                     "power": {"type": "Property", "value": 70}})
    r = client.post(f"{BASE}/entityOperations/create", json=entities)
    assert r.status_code == 201, r.text
    return client


def test_type_expressions(loaded: TestClient) -> None:
    get = lambda t: ids(loaded.get(f"{BASE}/entities", params={"type": t, "limit": 100}))  # noqa: E731
    assert len(get("WasteContainer")) == 10
    assert len(get("WasteContainer,Streetlight")) == 11
    assert len(get("WasteContainer|Streetlight")) == 11
    assert get("Streetlight;Asset") == ["urn:ngsi-ld:Streetlight:1"]
    assert get("(Streetlight;Asset)|Nothing") == ["urn:ngsi-ld:Streetlight:1"]
    assert get("WasteContainer;Asset") == []
    r = loaded.get(f"{BASE}/entities", params={"type": "(A"})
    assert r.status_code == 400


def test_q_language(loaded: TestClient) -> None:
    def q(expr: str) -> list[str]:
        return ids(loaded.get(f"{BASE}/entities",
                              params={"type": "WasteContainer", "q": expr, "limit": 100}))

    assert q("fill>50") == [f"urn:ngsi-ld:WasteContainer:{n}" for n in (6, 7, 8, 9)]
    assert q("fill>=50;colour==\"green\"") == [f"urn:ngsi-ld:WasteContainer:{n}" for n in (5, 7, 9)]
    assert q("fill==10..30") == [f"urn:ngsi-ld:WasteContainer:{n}" for n in (1, 2, 3)]
    assert q("fill<10|fill>85") == ["urn:ngsi-ld:WasteContainer:0", "urn:ngsi-ld:WasteContainer:9"]
    assert q("sensor==\"urn:ngsi-ld:Device:4\"") == ["urn:ngsi-ld:WasteContainer:4"]
    assert q("colour~=gr.y") == [f"urn:ngsi-ld:WasteContainer:{n}" for n in (0, 2, 4, 6, 8)]
    assert q("fill.observedAt>=2026-11-28T00:00:00Z") == [
        "urn:ngsi-ld:WasteContainer:8", "urn:ngsi-ld:WasteContainer:9"]
    assert len(q("fill")) == 10
    assert q("nope") == []
    r = loaded.get(f"{BASE}/entities", params={"type": "WasteContainer", "q": "(fill>1"})
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/problem+json"


def test_geo_queries(loaded: TestClient) -> None:
    def geo(**params: str) -> list[str]:
        return ids(loaded.get(f"{BASE}/entities", params={"type": "WasteContainer", **params}))

    # 0.1 degree of longitude at 45N is about 7.9 km
    assert geo(georel="near;maxDistance==1000", geometry="Point",
               coordinates="[5.0,45.0]") == ["urn:ngsi-ld:WasteContainer:0"]
    assert len(geo(georel="near;maxDistance==10000", geometry="Point",
                   coordinates="[5.0,45.0]")) == 2
    assert geo(georel="within", geometry="Polygon",
               coordinates="[[[5.25,44.9],[5.45,44.9],[5.45,45.1],[5.25,45.1],[5.25,44.9]]]") == [
        "urn:ngsi-ld:WasteContainer:3", "urn:ngsi-ld:WasteContainer:4"]
    # 0.6 degree is 47 km, 0.7 is 55 km
    assert len(geo(georel="near;minDistance==50000", geometry="Point",
                   coordinates="[5.0,45.0]")) == 3
    r = loaded.get(f"{BASE}/entities", params={"type": "WasteContainer", "georel": "near",
                                               "geometry": "Point", "coordinates": "[5,45]"})
    assert r.status_code == 400


def test_scope_q_id_and_id_pattern(loaded: TestClient) -> None:
    def get(**params: str) -> list[str]:
        return ids(loaded.get(f"{BASE}/entities", params={"limit": "100", **params}))

    assert len(get(scopeQ="/FR/01/240100883/01000")) == 4
    assert len(get(scopeQ="/FR/01/#")) == 10
    assert len(get(scopeQ="/FR/01/+/01001|/FR/01/+/01002")) == 6
    assert get(id="urn:ngsi-ld:WasteContainer:1,urn:ngsi-ld:Streetlight:1") == [
        "urn:ngsi-ld:Streetlight:1", "urn:ngsi-ld:WasteContainer:1"]
    assert get(type="WasteContainer", idPattern=".*:[12]$") == [
        "urn:ngsi-ld:WasteContainer:1", "urn:ngsi-ld:WasteContainer:2"]
    assert loaded.get(f"{BASE}/entities", params={"idPattern": "("}).status_code == 400


def test_attrs_filters_and_projects(loaded: TestClient) -> None:
    r = loaded.get(f"{BASE}/entities", params={"attrs": "power"})
    assert [e["id"] for e in r.json()] == ["urn:ngsi-ld:Streetlight:1"]
    r = loaded.get(f"{BASE}/entities", params={"type": "WasteContainer", "attrs": "fill,power",
                                               "limit": 1})
    assert set(r.json()[0]) == {"id", "type", "scope", "fill"}


def test_pagination_and_count(loaded: TestClient) -> None:
    seen: list[str] = []
    for offset in (0, 4, 8):
        r = loaded.get(f"{BASE}/entities", params={"type": "WasteContainer", "limit": 4,
                                                   "offset": offset, "count": "true"})
        assert r.headers["NGSILD-Results-Count"] == "10"
        seen += [e["id"] for e in r.json()]
    assert sorted(seen) == sorted(set(seen)) and len(seen) == 10
    r = loaded.get(f"{BASE}/entities", params={"type": "WasteContainer", "limit": 0,
                                               "count": "true"})
    assert r.json() == [] and r.headers["NGSILD-Results-Count"] == "10"
    assert loaded.get(f"{BASE}/entities", params={"limit": "-1"}).status_code == 400
    r = loaded.get(f"{BASE}/entities", params={"limit": "100000"})
    assert r.status_code == 403 and r.json()["type"].endswith("TooManyResults")


def test_geojson_output(loaded: TestClient) -> None:
    r = loaded.get(f"{BASE}/entities", params={"type": "WasteContainer", "limit": 3},
                   headers={"Accept": "application/geo+json"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/geo+json")
    body = r.json()
    assert body["type"] == "FeatureCollection" and len(body["features"]) == 3
    feature = body["features"][0]
    assert feature["geometry"]["type"] == "Point"
    assert feature["properties"]["type"] == "WasteContainer"
    one = loaded.get(f"{BASE}/entities/urn:ngsi-ld:Streetlight:1",
                     headers={"Accept": "application/geo+json"}).json()
    assert one["type"] == "Feature" and one["geometry"] is None
    r = loaded.get(f"{BASE}/entities", headers={"Accept": "text/csv"})
    assert r.status_code == 406


def test_post_query(loaded: TestClient) -> None:
    body = {"type": "Query", "entities": [{"type": "WasteContainer"}], "q": "fill>70",
            "geoQ": {"georel": "near;maxDistance==30000", "geometry": "Point",
                     "coordinates": [5.9, 45.0]}}
    r = loaded.post(f"{BASE}/entityOperations/query", json=body)
    assert ids(r) == ["urn:ngsi-ld:WasteContainer:8", "urn:ngsi-ld:WasteContainer:9"]
    bad = loaded.post(f"{BASE}/entityOperations/query", json={"entities": []})
    assert bad.status_code == 400
