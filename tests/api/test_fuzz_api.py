"""Malformed input never produces a 5xx and never alters stored data."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

BASE = "/ngsi-ld/v1"
SEED = {"id": "urn:ngsi-ld:Lamp:seed", "type": "Streetlight",
        "power": {"type": "Property", "value": 70}}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(["id", "type", "value", "object", "location", "a",
                                       "@context", "datasetId", "observedAt", "coordinates",
                                       "scope", "languageMap"]) | st.text(max_size=5),
                      children, max_size=5),
    max_leaves=20,
)

ENDPOINTS = [
    ("POST", "/entities"),
    ("PUT", "/entities/urn:ngsi-ld:Lamp:seed"),
    ("PATCH", "/entities/urn:ngsi-ld:Lamp:seed"),
    ("POST", "/entities/urn:ngsi-ld:Lamp:seed/attrs"),
    ("PATCH", "/entities/urn:ngsi-ld:Lamp:seed/attrs"),
    ("PATCH", "/entities/urn:ngsi-ld:Lamp:seed/attrs/power"),
    ("PUT", "/entities/urn:ngsi-ld:Lamp:seed/attrs/power"),
    ("POST", "/entityOperations/create"),
    ("POST", "/entityOperations/upsert"),
    ("POST", "/entityOperations/update"),
    ("POST", "/entityOperations/merge"),
    ("POST", "/entityOperations/delete"),
    ("POST", "/entityOperations/query"),
    ("POST", "/jsonldContexts"),
]

QUERY_KEYS = ["type", "q", "georel", "geometry", "coordinates", "scopeQ", "attrs", "pick",
              "omit", "limit", "offset", "options", "format", "idPattern", "id", "count", "lang"]


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(endpoint=st.sampled_from(ENDPOINTS), body=json_values,
       raw=st.binary(max_size=40), use_raw=st.booleans(),
       content_type=st.sampled_from(["application/json", "application/ld+json",
                                     "application/merge-patch+json"]))
def test_no_5xx_on_any_body(client: TestClient, endpoint: tuple[str, str], body: Any,
                            raw: bytes, use_raw: bool, content_type: str) -> None:
    client.post(f"{BASE}/entities", json=SEED)
    method, path = endpoint
    content = raw if use_raw else json.dumps(body).encode()
    r = client.request(method, BASE + path, content=content,
                       headers={"Content-Type": content_type})
    assert r.status_code < 500, (method, path, content, r.text)
    if r.status_code >= 400:
        assert r.headers["content-type"] == "application/problem+json"


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(params=st.dictionaries(st.sampled_from(QUERY_KEYS), st.text(max_size=30), max_size=4))
def test_no_5xx_on_any_query(client: TestClient, params: dict[str, str]) -> None:
    r = client.get(f"{BASE}/entities", params=params)
    assert r.status_code < 500, (params, r.text)
    r = client.get(f"{BASE}/entities/urn:ngsi-ld:Lamp:seed", params=params)
    assert r.status_code < 500, (params, r.text)


def test_rejected_writes_leave_data_untouched(client: TestClient) -> None:
    client.post(f"{BASE}/entities", json=SEED)
    before = client.get(f"{BASE}/entities/urn:ngsi-ld:Lamp:seed",
                        params={"options": "sysAttrs"}).json()
    bad = [
        ("PUT", "/entities/urn:ngsi-ld:Lamp:seed", {"type": "Streetlight", "x": {"type": "?"}}),
        ("PATCH", "/entities/urn:ngsi-ld:Lamp:seed", {"power": {"type": "Property",
                                                              "value": 1, "observedAt": 3}}),
        ("POST", "/entities/urn:ngsi-ld:Lamp:seed/attrs", {"location": {"type": "GeoProperty",
                                                                       "value": "here"}}),
        ("PATCH", "/entities/urn:ngsi-ld:Lamp:seed/attrs/power", {"datasetId": "nope"}),
    ]
    for method, path, body in bad:
        r = client.request(method, BASE + path, json=body)
        assert r.status_code == 400, (path, r.text)
    after = client.get(f"{BASE}/entities/urn:ngsi-ld:Lamp:seed",
                       params={"options": "sysAttrs"}).json()
    assert after == before
