"""Operations endpoints and /jsonldContexts through the HTTP API."""

from __future__ import annotations

from starlette.testclient import TestClient

BASE = "/ngsi-ld/v1"
CORE = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.9.jsonld"


def test_health_ready_metrics_openapi_docs(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200
    client.get(f"{BASE}/entities/urn:x:missing")
    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    assert ('bocage_http_requests_total{method="GET",'
            'route="/ngsi-ld/v1/entities/{entity_id:path}",status="404"}') in metrics.text
    spec = client.get("/openapi.json").json()
    assert "/ngsi-ld/v1/entities" in spec["paths"]
    assert "/ngsi-ld/v1/entityOperations/upsert" in spec["paths"]
    assert "/ngsi-ld/v1/jsonldContexts" in spec["paths"]
    docs = client.get("/docs")
    assert docs.status_code == 200 and '<script src="/docs/init.js">' in docs.text
    assert "<script>" not in docs.text  # no inline script: a strict CSP holds
    assert "/openapi.json" in client.get("/docs/init.js").text


def test_core_context_is_served_locally(client: TestClient) -> None:
    listed = client.get(f"{BASE}/jsonldContexts").json()
    assert CORE in listed
    body = client.get(f"{BASE}/jsonldContexts/{CORE}")
    assert body.status_code == 200
    assert "@context" in body.json()
    r = client.delete(f"{BASE}/jsonldContexts/{CORE}")
    assert r.status_code == 400


def test_hosted_context_lifecycle(client: TestClient) -> None:
    ctx = {"@context": {"Lamp": "https://example.org/lighting#Lamp",
                        "power": "https://example.org/lighting#power"}}
    r = client.post(f"{BASE}/jsonldContexts", json=ctx)
    assert r.status_code == 201, r.text
    url = r.headers["location"]
    served = client.get(url)
    assert served.status_code == 200 and served.json() == ctx
    link = f'<{url}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
    r = client.post(f"{BASE}/entities", json={"id": "urn:ngsi-ld:Lamp:1", "type": "Lamp",
                                              "power": 70}, headers={"Link": link})
    assert r.status_code == 201, r.text
    raw = client.get(f"{BASE}/entities/urn:ngsi-ld:Lamp:1").json()
    assert raw["type"] == "https://example.org/lighting#Lamp"
    assert "https://example.org/lighting#power" in raw
    compact = client.get(f"{BASE}/entities/urn:ngsi-ld:Lamp:1", headers={"Link": link}).json()
    assert compact["type"] == "Lamp" and compact["power"]["value"] == 70
    details = client.get(f"{BASE}/jsonldContexts", params={"details": "true"}).json()
    assert any(d.get("kind") == "Hosted" or d.get("kind") == "hosted" for d in details)
    assert client.delete(url).status_code == 204
    assert client.get(url).status_code == 404
    assert client.post(f"{BASE}/jsonldContexts", json={"no": "context"}).status_code == 400


def test_unreachable_context_is_503_and_nothing_is_stored(client: TestClient) -> None:
    link = ('<http://127.0.0.1:9/nothing.jsonld>; rel="http://www.w3.org/ns/json-ld#context"; '
            'type="application/ld+json"')
    r = client.post(f"{BASE}/entities", json={"id": "urn:x:1", "type": "T"},
                    headers={"Link": link})
    assert r.status_code == 503
    assert r.json()["type"].endswith("LdContextNotAvailable")
    assert client.get(f"{BASE}/entities/urn:x:1").status_code == 404
    bad_link = client.get(f"{BASE}/entities", params={"type": "T"}, headers={"Link": "<oops"})
    assert bad_link.status_code == 400


def test_user_context_is_cached_and_listed(client: TestClient, context_server: str) -> None:
    url = f"{context_server}/sdm/wastemanagement-context.jsonld"
    link = f'<{url}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
    for n in range(3):
        r = client.post(f"{BASE}/entities", json={"id": f"urn:w:{n}", "type": "WasteContainer",
                                                  "binCapacity": n}, headers={"Link": link})
        assert r.status_code == 201
    listed = client.get(f"{BASE}/jsonldContexts").json()
    assert url in listed
