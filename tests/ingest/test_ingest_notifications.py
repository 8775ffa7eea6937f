"""Ingested readings notify subscribers like API writes do (both backends)."""

from __future__ import annotations

from conftest import CS, fixture, settle
from receivers import http_receiver
from starlette.testclient import TestClient

from bocage.devices.catalogue import TENANT

PARKING_EUI = "0101010101010101"  # the ChirpStack docs' device


def test_an_uplink_notifies_the_subscription(api: TestClient) -> None:
    headers = {"NGSILD-Tenant": TENANT} if TENANT else {}
    with http_receiver() as receiver:
        r = api.post("/ngsi-ld/v1/subscriptions", headers=headers, json={
            "type": "Subscription", "entities": [{"type": "ParkingSpot"}],
            "watchedAttributes": ["status"],
            "notification": {"format": "keyValues", "attributes": ["status"],
                             "endpoint": {"uri": receiver.url + "/parking"}}})
        assert r.status_code == 201, r.text
        r = api.post("/api/devices", json={"devEui": PARKING_EUI, "model": "bocage-ps1"})
        assert r.status_code == 201, r.text
        r = api.post("/ingest/chirpstack?event=up", json=fixture("chirpstack-v4/event-up.json"),
                     headers=CS)
        assert r.status_code == 202
        settle(api)
        [got] = receiver.wait_for(1)
        assert got.body["data"] == [{"id": f"urn:ngsi-ld:ParkingSpot:{PARKING_EUI}",
                                     "type": "ParkingSpot", "status": "occupied"}]
