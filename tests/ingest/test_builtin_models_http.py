"""Every built-in model through the real path: encoder -> ChirpStack webhook -> entities.

The frames are made by the models' own encoders (as the simulator makes them);
what is asserted is where each value lands, in which unit, after scaling.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from conftest import CS, entity, fixture, settle
from starlette.testclient import TestClient

from bocage.codecs.registry import encoder_for

AT = "2030-05-04T10:00:00.000Z"

#: model, device configuration, values to encode, {entity: {attribute: (value, unitCode)}}
CASES: list[tuple[str, dict[str, Any], dict[str, Any], dict[str, dict[str, Any]]]] = [
    ("bocage-aq1", {}, {"pm25": 12.3, "pm10": 28.7, "no2": 41, "temperature": 18.75,
                        "humidity": 63, "battery": 88},
     {"AirQualityObserved": {"pm25": (12.3, "GQ"), "pm10": (28.7, "GQ"), "no2": (41, "GQ"),
                             "temperature": (18.75, "CEL"),
                             "relativeHumidity": (0.63, "C62")},
      "Device": {"batteryLevel": (0.88, "C62")}}),
    ("bocage-wl1", {"referenceLevel": 4.2, "alertLevel": 2.5, "dangerLevel": 3.2},
     {"currentLevel": 2.7, "referenceLevel": 4.2, "battery": 77},
     {"FloodMonitoring": {"measuredDistance": (1.5, "MTR"), "currentLevel": (2.7, "MTR"),
                          "referenceLevel": (4.2, "MTR"), "alertLevel": (2.5, "MTR"),
                          "dangerLevel": (3.2, "MTR"), "floodLevelStatus": ("Alert", None)},
      "Device": {"batteryLevel": (0.77, "C62")}}),
    ("bocage-em1", {}, {"phaseType": "threePhase", "energy": 48213.567, "power": 18350},
     {"ACMeasurement": {"phaseType": ("threePhase", None),
                        "totalActiveEnergyImport": (48213.567, "KWH"),
                        "totalActivePower": (18350, "WTT")}}),
    ("bocage-gm1", {}, {"index": 15234.875, "flow": 1.25, "tamper": False, "battery": 91},
     {"DeviceMeasurement": {"numValue": (15234.875, "MTQ"),
                            "controlledProperty": ("gasConsumption", None)},
      "Device": {"batteryLevel": (0.91, "C62")}}),
    ("bocage-hm1", {}, {"energy": 812345, "power": 45200, "flowTemperature": 72.5,
                        "returnTemperature": 55.1, "battery": 83},
     {"DeviceMeasurement": {"numValue": (812345, "KWH"),
                            "controlledProperty": ("energy", None)},
      "Device": {"batteryLevel": (0.83, "C62")}}),
    ("bocage-pv1", {}, {"inverterStatus": ["00-On sector"], "power": 36480, "current": 52.9,
                        "energy": 152334.87, "temperature": 41},
     {"PhotovoltaicMeasurement": {"activePower": (36.48, "KWT"), "current": (52.9, "AMP"),
                                  "temperature": (41, "CEL"),
                                  "inverterStatus": (["00-On sector"], None)}}),
    ("bocage-pc1", {}, {"occupancy": 37, "entries": 12, "exits": 3, "battery": 90},
     {"IndoorEnvironmentObserved": {"peopleCount": (37, "IE")},
      "Device": {"batteryLevel": (0.9, "C62")}}),
    # the camera is its own equipment: one Device entity gets everything
    ("bocage-vc1", {}, {"state": "onBattery", "battery": 60, "uptime": 1001},
     {"Device": {"deviceState": ("onBattery", None), "batteryLevel": (0.6, "C62")}}),
]


def _uplink(eui: str, f_port: int, payload: bytes) -> dict[str, Any]:
    up = fixture("chirpstack-v4/event-up.json")
    up["deviceInfo"]["devEui"] = eui.lower()
    up["deduplicationId"] = f"models-{eui}"
    up["time"] = AT
    up["fPort"] = f_port
    up["data"] = base64.b64encode(payload).decode()
    return up


@pytest.mark.parametrize("model,config,values,expected", CASES, ids=[c[0] for c in CASES])
def test_a_built_in_model_lands_on_its_smart_data_model_entity(
        api: TestClient, model: str, config: dict[str, Any], values: dict[str, Any],
        expected: dict[str, dict[str, Any]]) -> None:
    eui = f"00000000000B{[c[0] for c in CASES].index(model):04X}"
    r = api.post("/api/devices", json={"devEui": eui, "model": model,
                                        "configuration": config})
    assert r.status_code == 201, r.text
    f_port, payload = encoder_for(model)(values)
    r = api.post("/ingest/chirpstack?event=up", json=_uplink(eui, f_port, payload),
                 headers=CS)
    assert r.status_code == 202, r.text
    settle(api)
    assert api.get("/api/dead-letters").json() == []
    for type_name, attrs in expected.items():
        got = entity(api, f"urn:ngsi-ld:{type_name}:{eui}")
        assert got["type"] == type_name
        for name, (value, unit) in attrs.items():
            assert got[name]["value"] == (pytest.approx(value) if isinstance(value, float)
                                          else value), name
            assert got[name].get("unitCode") == unit, name
            assert got[name]["observedAt"] == AT, name
    ids = {e["id"] for e in api.get("/ngsi-ld/v1/entities",
                                    params={"q": f'refDevice=="urn:ngsi-ld:Device:{eui}"',
                                            "limit": 100}).json()}
    assert len(ids) == (0 if model == "bocage-vc1" else 1)
