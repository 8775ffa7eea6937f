"""/ngsi-ld/v1/subscriptions: create, list, retrieve, update, delete; errors (both backends)."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

BASE = "/ngsi-ld/v1/subscriptions"
LD = "application/ld+json"
PROBLEM = "application/problem+json"


def body(**members: Any) -> dict[str, Any]:
    return {"type": "Subscription", "entities": [{"type": "WasteContainer"}],
            "notification": {"endpoint": {"uri": "http://127.0.0.1:9/notify"}}, **members}


def test_create_retrieve_update_delete(client: TestClient) -> None:
    r = client.post(BASE, json=body(id="urn:ngsi-ld:Subscription:bins", q="fillingLevel>0.8",
                                    subscriptionName="full bins"))
    assert r.status_code == 201, r.text
    assert r.headers["Location"] == f"{BASE}/urn:ngsi-ld:Subscription:bins"
    got = client.get(r.headers["Location"]).json()
    assert got["id"] == "urn:ngsi-ld:Subscription:bins"
    assert got["q"] == "fillingLevel>0.8" and got["subscriptionName"] == "full bins"
    assert got["status"] == "active" and got["isActive"] is True
    assert got["notificationTrigger"] == ["attributeCreated", "attributeUpdated"]
    assert got["notification"]["timesSent"] == 0 and got["notification"]["format"] == "normalized"
    assert "status" not in got["notification"]  # nothing sent yet

    r = client.patch(r.headers["Location"], json={"isActive": False, "throttling": 5,
                                                  "notification": {"format": "keyValues"}})
    assert r.status_code == 204, r.text
    got = client.get(f"{BASE}/urn:ngsi-ld:Subscription:bins").json()
    assert (got["status"], got["throttling"], got["notification"]["format"]) == (
        "paused", 5, "keyValues")
    assert got["notification"]["endpoint"]["uri"] == "http://127.0.0.1:9/notify"

    assert client.delete(f"{BASE}/urn:ngsi-ld:Subscription:bins").status_code == 204
    r = client.get(f"{BASE}/urn:ngsi-ld:Subscription:bins")
    assert r.status_code == 404 and r.headers["content-type"] == PROBLEM
    assert client.delete(f"{BASE}/urn:ngsi-ld:Subscription:bins").status_code == 404


def test_generated_id_and_conflict(client: TestClient) -> None:
    r = client.post(BASE, json=body())
    assert r.status_code == 201
    assert r.headers["Location"].startswith(f"{BASE}/urn:ngsi-ld:Subscription:")
    again = client.post(BASE, json=body(id="urn:a"))
    assert again.status_code == 201
    dup = client.post(BASE, json=body(id="urn:a"))
    assert dup.status_code == 409 and dup.json()["type"].endswith("AlreadyExists")


def test_list_paginates_and_counts(client: TestClient) -> None:
    for n in range(5):
        assert client.post(BASE, json=body(id=f"urn:s:{n}")).status_code == 201
    r = client.get(BASE, params={"limit": 2, "offset": 1, "count": "true"})
    assert r.status_code == 200
    assert [s["id"] for s in r.json()] == ["urn:s:1", "urn:s:2"]
    assert r.headers["NGSILD-Results-Count"] == "5"
    assert client.get(BASE, params={"limit": 100000}).status_code == 403
    assert client.get(BASE, params={"limit": "x"}).status_code == 400


def test_subscriptions_belong_to_their_tenant(client: TestClient) -> None:
    h = {"NGSILD-Tenant": "commune-a"}
    assert client.post(BASE, json=body(id="urn:s:t"), headers=h).status_code == 201
    assert client.get(f"{BASE}/urn:s:t").status_code == 404
    assert client.get(BASE).json() == []
    assert client.get(f"{BASE}/urn:s:t", headers=h).status_code == 200


def test_terms_follow_the_context(client: TestClient, context_server: str) -> None:
    ctx = f"{context_server}/sdm/wastemanagement-context.jsonld"
    r = client.post(BASE, json={**body(id="urn:s:ctx", watchedAttributes=["fillingLevel"]),
                                "@context": ctx}, headers={"Content-Type": LD})
    assert r.status_code == 201, r.text
    link = {"Link": f'<{ctx}>; rel="http://www.w3.org/ns/json-ld#context"; '
                    'type="application/ld+json"'}
    mine = client.get(f"{BASE}/urn:s:ctx", headers=link).json()
    assert mine["watchedAttributes"] == ["fillingLevel"]
    assert mine["jsonldContext"] == ctx
    core = client.get(f"{BASE}/urn:s:ctx").json()  # the core context: full IRIs
    assert core["watchedAttributes"] == ["https://smartdatamodels.org/dataModel.WasteManagement/fillingLevel"]
    r = client.get(f"{BASE}/urn:s:ctx", headers={"Accept": LD})
    assert r.headers["content-type"].startswith(LD) and "@context" in r.json()


@pytest.mark.parametrize(("members", "fragment"), [
    ({"q": "(fillingLevel>0.5"}, "q"),
    ({"notification": {"format": "xml", "endpoint": {"uri": "http://h/"}}}, "format"),
    ({"notification": {"endpoint": {"uri": "gopher://h/"}}}, "scheme"),
    ({"notification": {"endpoint": {"uri": "mqtt://h:1883"}}}, "topic"),
    ({"geoQ": {"georel": "within", "geometry": "Polygon", "coordinates": [[0, 0]]}}, ""),
    ({"geoQ": {"georel": "sideways", "geometry": "Point", "coordinates": [0, 0]}}, "georel"),
    ({"scopeQ": "nope"}, "scopeQ"),
    ({"type": "Subscriptionz"}, "Subscription"),
])
def test_invalid_subscriptions_are_problem_details(client: TestClient, members: dict[str, Any],
                                                   fragment: str) -> None:
    r = client.post(BASE, json=body(**members))
    assert r.status_code == 400, r.text
    assert r.headers["content-type"] == PROBLEM
    problem = r.json()
    assert problem["type"].startswith("https://uri.etsi.org/ngsi-ld/errors/")
    assert fragment in problem["detail"]
    assert client.get(BASE).json() == []  # nothing stored


def test_bad_update_leaves_the_subscription_as_it_was(client: TestClient) -> None:
    assert client.post(BASE, json=body(id="urn:s:u", q="a>1")).status_code == 201
    r = client.patch(f"{BASE}/urn:s:u", json={"q": "(a>1"})
    assert r.status_code == 400 and r.headers["content-type"] == PROBLEM
    assert client.get(f"{BASE}/urn:s:u").json()["q"] == "a>1"
    assert client.patch(f"{BASE}/urn:s:nope", json={"q": "a>2"}).status_code == 404
    assert client.patch(f"{BASE}/urn:s:u", json=[1]).status_code == 400
