"""Batch operations and discovery endpoints."""

from __future__ import annotations

from starlette.testclient import TestClient

BASE = "/ngsi-ld/v1"


def entity(n: int, **attrs: object) -> dict[str, object]:
    return {"id": f"urn:ngsi-ld:Meter:{n}", "type": "WaterMeter",
            "volume": {"type": "Property", "value": n}, **attrs}


def test_batch_create_reports_each_entity(client: TestClient) -> None:
    r = client.post(f"{BASE}/entityOperations/create", json=[entity(1), entity(2)])
    assert r.status_code == 201 and r.json() == ["urn:ngsi-ld:Meter:1", "urn:ngsi-ld:Meter:2"]
    r = client.post(f"{BASE}/entityOperations/create",
                    json=[entity(2), entity(3), {"id": "bad", "type": "X"}])
    assert r.status_code == 207
    body = r.json()
    assert body["success"] == ["urn:ngsi-ld:Meter:3"]
    kinds = {e["entityId"]: e["error"]["type"].rsplit("/", 1)[1] for e in body["errors"]}
    assert kinds == {"urn:ngsi-ld:Meter:2": "AlreadyExists", "bad": "BadRequestData"}
    assert client.post(f"{BASE}/entityOperations/create", json={"a": 1}).status_code == 400


def test_batch_upsert_update_merge_delete(client: TestClient) -> None:
    client.post(f"{BASE}/entityOperations/create", json=[entity(1)])
    r = client.post(f"{BASE}/entityOperations/upsert", json=[entity(1), entity(2)])
    assert r.status_code == 201 and r.json() == ["urn:ngsi-ld:Meter:2"]
    r = client.post(f"{BASE}/entityOperations/upsert", json=[entity(1, extra=5)])
    assert r.status_code == 204
    got = client.get(f"{BASE}/entities/urn:ngsi-ld:Meter:1").json()
    assert got["extra"]["value"] == 5
    r = client.post(f"{BASE}/entityOperations/upsert", params={"options": "replace"},
                    json=[{"id": "urn:ngsi-ld:Meter:1", "type": "WaterMeter", "leak": True}])
    assert r.status_code == 204
    assert set(client.get(f"{BASE}/entities/urn:ngsi-ld:Meter:1").json()) == {
        "id", "type", "leak"}
    r = client.post(f"{BASE}/entityOperations/upsert", params={"options": "update"},
                    json=[{"id": "urn:ngsi-ld:Meter:1", "type": "WaterMeter", "volume": 9}])
    assert r.status_code == 204
    assert set(client.get(f"{BASE}/entities/urn:ngsi-ld:Meter:1").json()) == {
        "id", "type", "leak", "volume"}
    r = client.post(f"{BASE}/entityOperations/update",
                    json=[{"id": "urn:ngsi-ld:Meter:2", "volume": 42},
                          {"id": "urn:ngsi-ld:Meter:404", "volume": 1}])
    assert r.status_code == 207
    assert r.json()["success"] == ["urn:ngsi-ld:Meter:2"]
    assert client.get(f"{BASE}/entities/urn:ngsi-ld:Meter:2").json()["volume"]["value"] == 42
    r = client.post(f"{BASE}/entityOperations/merge",
                    json=[{"id": "urn:ngsi-ld:Meter:2", "volume": None, "alarm": "on"}])
    assert r.status_code == 204
    got = client.get(f"{BASE}/entities/urn:ngsi-ld:Meter:2").json()
    assert "volume" not in got and got["alarm"]["value"] == "on"
    r = client.post(f"{BASE}/entityOperations/delete",
                    json=["urn:ngsi-ld:Meter:1", "urn:ngsi-ld:Meter:404"])
    assert r.status_code == 207
    assert r.json()["success"] == ["urn:ngsi-ld:Meter:1"]
    r = client.post(f"{BASE}/entityOperations/delete", json=["urn:ngsi-ld:Meter:2"])
    assert r.status_code == 204


def test_discovery(client: TestClient) -> None:
    client.post(f"{BASE}/entityOperations/create", json=[
        entity(1), entity(2, rel={"type": "Relationship", "object": "urn:x:1"}),
        {"id": "urn:ngsi-ld:Lamp:1", "type": "Streetlight", "volume": 1},
    ])
    types = client.get(f"{BASE}/types").json()
    assert types["type"] == "EntityTypeList"
    assert sorted(types["typeList"]) == ["Streetlight", "WaterMeter"]
    detailed = client.get(f"{BASE}/types", params={"details": "true"}).json()
    meter = next(t for t in detailed if t["typeName"] == "WaterMeter")
    assert sorted(meter["attributeNames"]) == ["rel", "volume"]
    info = client.get(f"{BASE}/types/WaterMeter").json()
    assert info["entityCount"] == 2
    names = {a["attributeName"]: a["attributeTypes"] for a in info["attributeDetails"]}
    assert names == {"rel": ["Relationship"], "volume": ["Property"]}
    assert client.get(f"{BASE}/types/Nothing").status_code == 404
    attrs = client.get(f"{BASE}/attributes").json()
    assert sorted(attrs["attributeList"]) == ["rel", "volume"]
    vol = client.get(f"{BASE}/attributes/volume").json()
    assert vol["attributeCount"] == 3
    assert vol["typeNames"] == ["Streetlight", "WaterMeter"]
    assert client.get(f"{BASE}/attributes/nothing").status_code == 404


def test_a_large_batch_is_written_in_order_and_reported_whole(client: TestClient) -> None:
    """Batches are handed to the store in chunks while being parsed: results keep
    the request's order and a later item for the same id wins, across chunks."""
    from bocage.api.batch import PIPELINE_CHUNK

    n = PIPELINE_CHUNK * 2 + 17
    items = [entity(i) for i in range(n)] + [entity(3, volume=-3), {"id": "bad", "type": "X"}]
    r = client.post(f"{BASE}/entityOperations/create", json=items)
    assert r.status_code == 207
    body = r.json()
    assert body["success"] == [f"urn:ngsi-ld:Meter:{i}" for i in range(n)]
    assert [(e["entityId"], e["error"]["type"].rsplit("/", 1)[1]) for e in body["errors"]] == [
        ("bad", "BadRequestData"), ("urn:ngsi-ld:Meter:3", "AlreadyExists")]
    upsert = [entity(i, volume=i * 10) for i in range(n)] + [entity(5, volume=-5)]
    r = client.post(f"{BASE}/entityOperations/upsert", params={"options": "update"},
                    json=[*upsert, entity(n)])
    assert r.status_code == 201 and r.json() == [f"urn:ngsi-ld:Meter:{n}"]
    got = client.get(f"{BASE}/entities/urn:ngsi-ld:Meter:5").json()
    assert got["volume"]["value"] == -5
    got = client.get(f"{BASE}/entities/urn:ngsi-ld:Meter:{n - 1}").json()
    assert got["volume"]["value"] == (n - 1) * 10
    count = client.get(f"{BASE}/entities", params={"type": "WaterMeter", "count": "true",
                                                   "limit": 0})
    assert count.headers["NGSILD-Results-Count"] == str(n + 1)
