"""Readings arriving through ingestion (TTS webhook -> inbox -> pipeline -> store)
are recorded in history and read back through the temporal API."""

from __future__ import annotations

import copy

from conftest import TTS, fixture, settle
from starlette.testclient import TestClient

TTS_EUI = "0004A30B001C0530"
ROOM = f"urn:ngsi-ld:IndoorEnvironmentObserved:{TTS_EUI}"


def test_ingested_readings_have_a_history(api: TestClient) -> None:
    model = {"id": "uno-ns", "vendor": "The Things Products", "model": "The Things Uno",
             "codec": "network-server", "targetType": "IndoorEnvironmentObserved",
             "quantities": [{"key": "temperature", "attribute": "temperature", "unit": "CEL",
                             "min": -40, "max": 85}]}
    assert api.post("/api/device-models", json=model).status_code == 201
    assert api.post("/api/devices", json={"devEui": TTS_EUI, "model": "uno-ns"}).status_code == 201
    base = fixture("tts-v3/uplink-messages-0.json")
    for n in range(4):
        up = copy.deepcopy(base)
        up["correlation_ids"] = [f"as:up:bocage-history-{n}"]
        up["uplink_message"]["f_cnt"] = 10 + n
        up["uplink_message"]["decoded_payload"]["temperature"] = 20.0 + n
        up["received_at"] = up["uplink_message"]["received_at"] = f"2026-03-01T10:{n:02d}:00Z"
        for gw in up["uplink_message"]["rx_metadata"]:
            gw["time"] = f"2026-03-01T10:{n:02d}:00Z"
        up["uplink_message"]["settings"]["time"] = f"2026-03-01T10:{n:02d}:00Z"
        r = api.post("/ingest/tts", json=up, headers=TTS)
        assert r.status_code == 202, r.text
    settle(api)
    r = api.get(f"/ngsi-ld/v1/temporal/entities/{ROOM}",
                params={"attrs": "temperature", "options": "temporalValues"})
    assert r.status_code == 200, r.text
    pairs = r.json()["temperature"]["values"]
    assert [v for v, _ in pairs] == [20.0, 21.0, 22.0, 23.0]
    assert [t[:16] for _, t in pairs] == [f"2026-03-01T10:{n:02d}" for n in range(4)]
