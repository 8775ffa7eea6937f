"""NGSI-LD entity endpoints through the HTTP API, on a real SQLite store."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

BASE = "/ngsi-ld/v1"
CORE = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.9.jsonld"
LD = {"Content-Type": "application/ld+json"}
PROBLEM = "application/problem+json"


def bin_entity(n: int = 1, fill: float = 0.5, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:WasteContainer:{n}",
        "type": "WasteContainer",
        "fillingLevel": {"type": "Property", "value": fill, "unitCode": "C62",
                         "observedAt": "2026-11-25T10:00:00Z"},
        "location": {"type": "GeoProperty",
                     "value": {"type": "Point", "coordinates": [5.36, 45.95]}},
        **extra,
    }


def create(client: TestClient, entity: dict[str, Any], **headers: str) -> Any:
    return client.post(f"{BASE}/entities", json=entity, headers=headers)


def test_create_then_retrieve_round_trips(client: TestClient) -> None:
    r = create(client, bin_entity())
    assert r.status_code == 201, r.text
    assert r.headers["location"] == f"{BASE}/entities/urn:ngsi-ld:WasteContainer:1"
    got = client.get(f"{BASE}/entities/urn:ngsi-ld:WasteContainer:1")
    assert got.status_code == 200
    assert got.headers["content-type"].startswith("application/json")
    assert CORE in got.headers["link"]
    body = got.json()
    assert body == bin_entity() | {
        "fillingLevel": {**bin_entity()["fillingLevel"], "observedAt": "2026-11-25T10:00:00.000Z"}
    }


def test_ld_json_puts_context_in_body(client: TestClient) -> None:
    create(client, bin_entity())
    got = client.get(f"{BASE}/entities/urn:ngsi-ld:WasteContainer:1",
                     headers={"Accept": "application/ld+json"})
    assert got.headers["content-type"].startswith("application/ld+json")
    assert got.json()["@context"] == CORE


def test_create_twice_is_already_exists(client: TestClient) -> None:
    assert create(client, bin_entity()).status_code == 201
    r = create(client, bin_entity(fill=0.9))
    assert r.status_code == 409
    assert r.headers["content-type"] == PROBLEM
    assert r.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/AlreadyExists"
    kept = client.get(f"{BASE}/entities/urn:ngsi-ld:WasteContainer:1").json()
    assert kept["fillingLevel"]["value"] == 0.5


def test_bad_bodies_are_problem_details_and_change_nothing(client: TestClient) -> None:
    create(client, bin_entity())
    cases = [
        (b"{not json", "InvalidRequest"),
        (b"[]", "BadRequestData"),
        (b'{"type": "T"}', "BadRequestData"),
        (b'{"id": "not a uri", "type": "T"}', "BadRequestData"),
        (b'{"id": "urn:x:1"}', "BadRequestData"),
        (b'{"id": "urn:x:1", "type": "T", "a": {"type": "Nope", "value": 1}}', "BadRequestData"),
        (b'{"id": "urn:x:1", "type": "T", "a": {"type": "Property"}}', "BadRequestData"),
        (b'{"id": "urn:x:1", "type": "T", "location": {"type": "GeoProperty", '
         b'"value": {"type": "Point", "coordinates": [500, 1]}}}', "BadRequestData"),
        (b'{"id": "urn:x:1", "type": "T", "a": {"type": "Property", "value": 1, '
         b'"observedAt": "yesterday"}}', "BadRequestData"),
    ]
    for body, kind in cases:
        r = client.post(f"{BASE}/entities", content=body,
                        headers={"Content-Type": "application/json"})
        assert r.status_code == 400, (body, r.text)
        assert r.headers["content-type"] == PROBLEM
        assert r.json()["type"].endswith(kind), (body, r.json())
    r = client.post(f"{BASE}/entities", content=b"{}", headers={"Content-Type": "text/plain"})
    assert r.status_code == 415
    listed = client.get(f"{BASE}/entities", params={"type": "WasteContainer"}).json()
    assert [e["id"] for e in listed] == ["urn:ngsi-ld:WasteContainer:1"]


def test_ld_json_body_requires_context_and_json_forbids_it(client: TestClient) -> None:
    r = client.post(f"{BASE}/entities", json=bin_entity(), headers=LD)
    assert r.status_code == 400
    with_ctx = bin_entity() | {"@context": CORE}
    r = client.post(f"{BASE}/entities", json=with_ctx)
    assert r.status_code == 400
    assert client.post(f"{BASE}/entities", json=with_ctx, headers=LD).status_code == 201


def test_retrieve_missing_is_404(client: TestClient) -> None:
    r = client.get(f"{BASE}/entities/urn:ngsi-ld:X:404")
    assert r.status_code == 404
    assert r.json()["type"].endswith("ResourceNotFound")
    assert client.get(f"{BASE}/entities/notauri").status_code == 400


def test_key_values_concise_and_sys_attrs(client: TestClient) -> None:
    create(client, bin_entity())
    url = f"{BASE}/entities/urn:ngsi-ld:WasteContainer:1"
    kv = client.get(url, params={"options": "keyValues"}).json()
    assert kv["fillingLevel"] == 0.5
    assert kv["location"] == {"type": "Point", "coordinates": [5.36, 45.95]}
    assert client.get(url, params={"format": "simplified"}).json() == kv
    concise = client.get(url, params={"format": "concise"}).json()
    assert concise["fillingLevel"] == {"value": 0.5, "unitCode": "C62",
                                       "observedAt": "2026-11-25T10:00:00.000Z"}
    assert concise["location"] == {"type": "Point", "coordinates": [5.36, 45.95]}
    sys_ = client.get(url, params={"options": "sysAttrs"}).json()
    assert sys_["createdAt"].endswith("Z") and "modifiedAt" in sys_["fillingLevel"]
    assert client.get(url, params={"options": "bogus"}).status_code == 400


def test_concise_input_is_accepted(client: TestClient) -> None:
    body = {"id": "urn:ngsi-ld:T:c", "type": "T", "n": 3,
            "rel": {"object": "urn:ngsi-ld:T:other"},
            "location": {"type": "Point", "coordinates": [1, 2]},
            "name": {"languageMap": {"fr": "borne", "en": "bollard"}}}
    assert create(client, body).status_code == 201
    got = client.get(f"{BASE}/entities/urn:ngsi-ld:T:c").json()
    assert got["n"] == {"type": "Property", "value": 3}
    assert got["rel"] == {"type": "Relationship", "object": "urn:ngsi-ld:T:other"}
    assert got["location"]["type"] == "GeoProperty"
    assert got["name"]["type"] == "LanguageProperty"
    fr = client.get(f"{BASE}/entities/urn:ngsi-ld:T:c", params={"lang": "fr"}).json()
    assert fr["name"] == {"type": "Property", "value": "borne", "lang": "fr"}


def test_attrs_pick_omit(client: TestClient) -> None:
    create(client, bin_entity(extra_attr={"type": "Property", "value": 1}))
    url = f"{BASE}/entities/urn:ngsi-ld:WasteContainer:1"
    only = client.get(url, params={"attrs": "fillingLevel"}).json()
    assert set(only) == {"id", "type", "fillingLevel"}
    picked = client.get(url, params={"pick": "id,extra_attr"}).json()
    assert set(picked) == {"id", "extra_attr"}
    omitted = client.get(url, params={"omit": "type,location"}).json()
    assert set(omitted) == {"id", "fillingLevel", "extra_attr"}
    assert client.get(url, params={"pick": "id", "omit": "type"}).status_code == 400


def test_replace_merge_and_delete_entity(client: TestClient) -> None:
    create(client, bin_entity())
    url = f"{BASE}/entities/urn:ngsi-ld:WasteContainer:1"
    r = client.put(url, json={"type": "WasteContainer", "status": {"type": "Property",
                                                                   "value": "ok"}})
    assert r.status_code == 204, r.text
    assert set(client.get(url).json()) == {"id", "type", "status"}
    r = client.patch(url, json={"status": "full", "fillingLevel": {"value": 0.95}})
    assert r.status_code == 204, r.text
    got = client.get(url).json()
    assert got["status"]["value"] == "full" and got["fillingLevel"]["value"] == 0.95
    r = client.patch(url, json={"status": None})
    assert r.status_code == 204
    assert "status" not in client.get(url).json()
    assert client.patch(url, json={"id": "urn:other:1"}).status_code == 400
    assert client.delete(url).status_code == 204
    assert client.get(url).status_code == 404
    assert client.delete(url).status_code == 404
    assert client.patch(url, json={"a": 1}).status_code == 404


def test_append_update_partial_and_delete_attributes(client: TestClient) -> None:
    create(client, bin_entity())
    url = f"{BASE}/entities/urn:ngsi-ld:WasteContainer:1"
    r = client.post(f"{url}/attrs", json={"temperature": {"type": "Property", "value": 12}})
    assert r.status_code == 204
    r = client.post(f"{url}/attrs", params={"options": "noOverwrite"},
                    json={"temperature": {"type": "Property", "value": 99},
                          "colour": {"type": "Property", "value": "green"}})
    assert r.status_code == 207
    assert r.json()["notUpdated"][0]["attributeName"] == "temperature"
    assert client.get(url).json()["temperature"]["value"] == 12
    r = client.patch(f"{url}/attrs", json={"temperature": {"type": "Property", "value": 13},
                                          "nope": {"type": "Property", "value": 0}})
    assert r.status_code == 207
    assert r.json()["updated"] == ["temperature"]
    r = client.patch(f"{url}/attrs/fillingLevel", json={"value": 0.7})
    assert r.status_code == 204
    got = client.get(url).json()["fillingLevel"]
    assert got["value"] == 0.7 and got["unitCode"] == "C62"  # merged, not replaced
    assert client.patch(f"{url}/attrs/missing", json={"value": 1}).status_code == 404
    r = client.put(f"{url}/attrs/fillingLevel", json={"type": "Property", "value": 0.1})
    assert r.status_code == 204
    assert "unitCode" not in client.get(url).json()["fillingLevel"]
    assert client.delete(f"{url}/attrs/temperature").status_code == 204
    assert client.delete(f"{url}/attrs/temperature").status_code == 404
    assert "temperature" not in client.get(url).json()


def test_multi_instance_attributes_with_dataset_id(client: TestClient) -> None:
    entity = bin_entity(temperature=[
        {"type": "Property", "value": 10},
        {"type": "Property", "value": 11, "datasetId": "urn:ngsi-ld:dataset:probe2"},
    ])
    create(client, entity)
    url = f"{BASE}/entities/urn:ngsi-ld:WasteContainer:1"
    assert len(client.get(url).json()["temperature"]) == 2
    r = client.delete(f"{url}/attrs/temperature",
                      params={"datasetId": "urn:ngsi-ld:dataset:probe2"})
    assert r.status_code == 204
    assert client.get(url).json()["temperature"] == {"type": "Property", "value": 10}
    dup = bin_entity(2, t=[{"type": "Property", "value": 1}, {"type": "Property", "value": 2}])
    assert create(client, dup).status_code == 400
    create(client, bin_entity(3, t=[{"type": "Property", "value": 1},
                                    {"type": "Property", "value": 2, "datasetId": "urn:d:1"}]))
    r = client.delete(f"{BASE}/entities/urn:ngsi-ld:WasteContainer:3/attrs/t",
                      params={"deleteAll": "true"})
    assert r.status_code == 204
    assert "t" not in client.get(f"{BASE}/entities/urn:ngsi-ld:WasteContainer:3").json()


def test_all_attribute_types_round_trip(client: TestClient) -> None:
    entity = {
        "id": "urn:ngsi-ld:Thing:all",
        "type": ["Thing", "Other"],
        "scope": ["/FR/01/240100883/01004"],
        "p": {"type": "Property", "value": {"nested": [1, 2]},
              "sub": {"type": "Property", "value": "x"}},
        "r": {"type": "Relationship", "object": "urn:ngsi-ld:Thing:2"},
        "g": {"type": "GeoProperty", "value": {"type": "Polygon", "coordinates": [
            [[5, 45], [6, 45], [6, 46], [5, 45]]]}},
        "l": {"type": "LanguageProperty", "languageMap": {"fr": "lampadaire"}},
        "j": {"type": "JsonProperty", "json": {"any": {"thing": True}}},
        "v": {"type": "VocabProperty", "vocab": "Maintenance"},
        "lp": {"type": "ListProperty", "valueList": [1, "a", None]},
        "lr": {"type": "ListRelationship", "objectList": [{"object": "urn:a:1"}]},
    }
    assert create(client, entity).status_code == 201, create(client, entity).text
    got = client.get(f"{BASE}/entities/urn:ngsi-ld:Thing:all").json()
    expected = dict(entity)
    expected["scope"] = "/FR/01/240100883/01004"
    expected["lr"] = {"type": "ListRelationship", "objectList": ["urn:a:1"]}
    assert got == expected


def test_tenants_are_isolated_and_unknown_tenant_is_404(client: TestClient) -> None:
    create(client, bin_entity(), **{"NGSILD-Tenant": "commune-01004"})
    url = f"{BASE}/entities/urn:ngsi-ld:WasteContainer:1"
    got = client.get(url, headers={"NGSILD-Tenant": "commune-01004"})
    assert got.status_code == 200 and got.headers["NGSILD-Tenant"] == "commune-01004"
    assert client.get(url).status_code == 404
    r = client.get(url, headers={"NGSILD-Tenant": "nowhere"})
    assert r.status_code == 404 and r.json()["type"].endswith("NonexistentTenant")
    r = client.get(f"{BASE}/entities", params={"type": "T"}, headers={"NGSILD-Tenant": "nowhere"})
    assert r.json()["type"].endswith("NonexistentTenant")
    assert client.get(url, headers={"NGSILD-Tenant": "bad tenant!"}).status_code == 400


def test_unknown_route_and_method_are_problem_details(client: TestClient) -> None:
    r = client.get(f"{BASE}/nothing-here")
    assert r.status_code == 404 and r.headers["content-type"] == PROBLEM
    r = client.put(f"{BASE}/entities")
    assert r.status_code == 405 and r.headers["content-type"] == PROBLEM
