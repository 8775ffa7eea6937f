"""Bad input at the ingestion edge: each case shows the answer and that nothing stored changed.

Before every case a parking spot is registered and has received one reading,
so "nothing changed" is checked against real data, not an empty store.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson
import pytest
from conftest import CS, TTS, entity, fixture, settle
from starlette.testclient import TestClient

from bocage.codecs.model import ModelSpec, Quantity
from bocage.codecs.registry import Codec

SPOT_EUI = "0101010101010101"
TTS_EUI = "0004A30B001C0530"
SPOT = f"urn:ngsi-ld:ParkingSpot:{SPOT_EUI}"


@pytest.fixture
def seeded(api: TestClient) -> TestClient:
    r = api.post("/api/devices", json={"devEui": SPOT_EUI, "model": "bocage-ps1"})
    assert r.status_code == 201, r.text
    up = fixture("chirpstack-v4/event-up.json")   # 0xAA: occupied, battery 42 %
    assert api.post("/ingest/chirpstack?event=up", json=up, headers=CS).status_code == 202
    settle(api)
    assert entity(api, SPOT)["status"]["value"] == "occupied"
    return api


def snapshot(api: TestClient) -> list[Any]:
    r = api.get("/ngsi-ld/v1/entities", params={
        "type": "Device,ParkingSpot,IndoorEnvironmentObserved", "limit": 1000})
    assert r.status_code == 200
    return sorted(r.json(), key=lambda e: e["id"])


def letters(api: TestClient) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = api.get("/api/dead-letters").json()
    return out


def _tts(**changes: Any) -> dict[str, Any]:
    body = fixture("tts-v3/uplink-messages-0.json")
    body.update(changes)
    return body


def _tts_payload(payload: object) -> dict[str, Any]:
    body = fixture("tts-v3/uplink-messages-0.json")
    body["uplink_message"]["frm_payload"] = payload
    return body


#: endpoint, body, content type, status, problem type
REFUSED: list[tuple[str, bytes, str, int, str]] = [
    ("/ingest/tts", b'{"end_device_ids": ', "application/json", 400, "InvalidRequest"),
    ("/ingest/tts", orjson.dumps(_tts()), "text/csv", 415, "UnsupportedMediaType"),
    ("/ingest/tts", orjson.dumps(_tts()), "", 415, "UnsupportedMediaType"),
    ("/ingest/tts", b'"a string"', "application/json", 400, "BadRequestData"),
    ("/ingest/tts", orjson.dumps({k: v for k, v in _tts().items() if k != "end_device_ids"}),
     "application/json", 400, "BadRequestData"),
    ("/ingest/tts", orjson.dumps(_tts_payload("not*base64")), "application/json", 400,
     "BadRequestData"),
    ("/ingest/tts", orjson.dumps(_tts_payload(12)), "application/json", 400, "BadRequestData"),
    ("/ingest/chirpstack?event=up", "{\"data\": \"\u00e9\"".encode("latin-1"),
     "application/json", 400, "InvalidRequest"),
    ("/ingest/chirpstack?event=up",
     orjson.dumps({**fixture("chirpstack-v4/event-up.json"), "fPort": "one"}),
     "application/json", 400, "BadRequestData"),
    ("/ingest/chirpstack?event=up",
     orjson.dumps({**fixture("chirpstack-v4/event-up.json"),
                   "deviceInfo": {"devEui": "not-an-eui"}}),
     "application/json", 400, "BadRequestData"),
]


@pytest.mark.parametrize("path,body,ctype,status,kind", REFUSED,
                         ids=[f"{i}-{r[4]}" for i, r in enumerate(REFUSED)])
def test_refused_bodies_change_nothing(seeded: TestClient, path: str, body: bytes, ctype: str,
                                       status: int, kind: str) -> None:
    api = seeded
    before = snapshot(api)
    headers = {**(TTS if path.startswith("/ingest/tts") else CS)}
    if ctype:
        headers["Content-Type"] = ctype
    r = api.post(path, content=body, headers=headers)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert problem["type"].endswith(kind) and problem["status"] == status
    assert problem["detail"]
    settle(api)
    assert api.app.state.ingestion.inbox.pending(10) == []  # type: ignore[attr-defined]
    assert letters(api) == []
    assert snapshot(api) == before


def test_missing_fields_are_named(seeded: TestClient) -> None:
    body = _tts()
    del body["end_device_ids"]["dev_eui"]
    r = seeded.post("/ingest/tts", json=body, headers=TTS)
    assert r.status_code == 400 and "dev_eui" in r.json()["detail"]
    up = fixture("chirpstack-v4/event-up.json")
    del up["deviceInfo"]["devEui"]
    r = seeded.post("/ingest/chirpstack?event=up", json=up, headers=CS)
    assert r.status_code == 400 and "devEui" in r.json()["detail"]


@pytest.mark.parametrize("connector", ["chirpstack", "tts"])
def test_an_unknown_deveui_is_a_dead_letter_and_changes_nothing(
        seeded: TestClient, connector: str) -> None:
    api = seeded
    before = snapshot(api)
    if connector == "tts":
        r = api.post("/ingest/tts", json=_tts(), headers=TTS)    # its DevEUI is not registered
        eui = TTS_EUI
    else:
        up = fixture("chirpstack-v4/event-up.json")
        up["deviceInfo"]["devEui"] = eui = "0202020202020202"
        up["deduplicationId"] = "another-device"
        r = api.post("/ingest/chirpstack?event=up", json=up, headers=CS)
    assert r.status_code == 202 and r.json()["stored"] == 1   # kept: it can be replayed
    settle(api)
    [letter] = letters(api)
    assert letter["reason"] == "unknown-device" and letter["record"]["devEui"] == eui
    assert snapshot(api) == before


def _install(api: TestClient, codec_id: str,
             decode: Any) -> None:
    """A codec of our own, installed at run time, and a model that uses it."""
    spec = ModelSpec(id=codec_id, vendor="test", model=codec_id, codec=codec_id,
                     target_type="ParkingSpot", f_ports=(1,),
                     quantities=(Quantity("status", "status"),))
    api.app.state.ingestion.codecs.add(  # type: ignore[attr-defined]
        Codec(id=codec_id, decode=decode, model=spec, folder=Path(".")))
    r = api.post("/api/device-models", json=spec.to_json())
    assert r.status_code == 201, r.text


def _throws(payload: bytes, f_port: int, config: Mapping[str, Any]) -> dict[str, Any]:
    return {"status": ["free", "occupied"][payload[0] // 0]}


def _not_a_mapping(payload: bytes, f_port: int, config: Mapping[str, Any]) -> Any:
    return ["occupied"]


@pytest.mark.parametrize("decode,detail", [
    (_throws, "failed: ZeroDivisionError"),
    (_not_a_mapping, "returned no object"),
])
def test_a_codec_that_throws_is_a_dead_letter_and_the_pipeline_carries_on(
        seeded: TestClient, decode: Any, detail: str) -> None:
    api = seeded
    _install(api, "buggy", decode)
    r = api.post("/api/devices", json={"devEui": "0303030303030303", "model": "buggy"})
    assert r.status_code == 201, r.text
    before = snapshot(api)
    up = fixture("chirpstack-v4/event-up.json")
    bad = copy.deepcopy(up)
    bad["deviceInfo"]["devEui"], bad["deduplicationId"] = "0303030303030303", "buggy-1"
    assert api.post("/ingest/chirpstack?event=up", json=bad, headers=CS).status_code == 202
    settle(api)
    [letter] = letters(api)
    assert letter["reason"] == "codec-error" and detail in letter["detail"]
    assert snapshot(api) == before
    # the pipeline carries on: the next good uplink of another device is processed
    good = copy.deepcopy(up)
    good["deduplicationId"], good["time"], good["data"] = "next", "2030-01-01T00:00:00Z", "Kg=="
    assert api.post("/ingest/chirpstack?event=up", json=good, headers=CS).status_code == 202
    settle(api)
    assert entity(api, SPOT)["status"]["value"] == "free"
