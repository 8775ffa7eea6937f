"""JavaScript codecs on the real ingestion path: ChirpStack HTTP -> inbox -> QuickJS ->
entities, with runaway codecs turned into dead letters while the server keeps serving."""

from __future__ import annotations

import base64
import itertools
from typing import Any

from admin_client import admin_client
from starlette.testclient import TestClient

from bocage.api.app import create_app
from bocage.jscodec.source import CodecSource
from bocage.settings import Settings
from bocage.storage.base import Store

EUI = "A1B2C3D4E5F60718"
CS = {"Authorization": "Bearer cs-secret"}
_n = itertools.count()

# our own frame: uint16 BE CO2 ppm, int16 BE 0.01 degC; 0xEE... loops, 0xBB... allocates
ROOM = """
function decodeUplink(input) {
  var b = Buffer.from(input.bytes);
  if (b[0] === 0xEE) { for (;;) {} }
  if (b[0] === 0xBB) { var keep = []; for (;;) keep.push(new Array(100000).fill(b[1])); }
  if (b.length !== 4) return { errors: ["room frames are 4 bytes, got " + b.length] };
  return { data: { co2: b.readUInt16BE(0), temperature: b.readInt16BE(2) / 100,
                   seenAt: input.recvTime.toISOString() } };
}
"""
MODEL = {"id": "room-js", "vendor": "bocage tests", "model": "JS room sensor",
         "codec": "tests.room", "targetType": "IndoorEnvironmentObserved",
         "quantities": [{"key": "co2", "attribute": "co2", "unit": "59", "min": 0, "max": 10000},
                        {"key": "temperature", "attribute": "temperature", "unit": "CEL",
                         "min": -40, "max": 85}]}


def uplink(payload: bytes, time: str = "2026-03-01T08:00:00Z") -> dict[str, Any]:
    return {"deduplicationId": f"00000000-0000-4000-8000-{next(_n):012d}", "time": time,
            "deviceInfo": {"devEui": EUI, "deviceName": "salle 2"},
            "fCnt": next(_n), "fPort": 4, "data": base64.b64encode(payload).decode()}


def install(client: TestClient) -> None:
    ingestion = client.app.state.ingestion  # type: ignore[attr-defined]
    ingestion.js_codecs.put(CodecSource(id="tests.room", files={"room.js": ROOM},
                                        roles={"uplinkDecoder": "room.js"}))
    assert client.post("/api/device-models", json=MODEL).status_code == 201, "model"
    r = client.post("/api/devices", json={"devEui": EUI, "model": "room-js"})
    assert r.status_code == 201, r.text


def send(client: TestClient, payload: bytes, **kw: Any) -> None:
    r = client.post("/ingest/chirpstack?event=up", json=uplink(payload, **kw), headers=CS)
    assert r.status_code == 202, r.text


def settle(client: TestClient) -> None:
    assert client.app.state.ingestion.wait_idle(30.0)  # type: ignore[attr-defined]


def room(client: TestClient) -> dict[str, Any]:
    r = client.get(f"/ngsi-ld/v1/entities/urn:ngsi-ld:IndoorEnvironmentObserved:{EUI}")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_a_js_codec_decodes_uplinks_into_entities(js_api: TestClient) -> None:
    install(js_api)
    send(js_api, bytes.fromhex("04b00898"))
    settle(js_api)
    body = room(js_api)
    assert body["co2"] == {"type": "Property", "value": 1200, "unitCode": "59",
                           "observedAt": "2026-03-01T08:00:00.000Z"}
    assert body["temperature"]["value"] == 22.0
    assert js_api.get("/api/dead-letters").json() == []


def test_runaway_codecs_become_dead_letters_and_the_server_carries_on(
        js_api: TestClient) -> None:
    install(js_api)
    send(js_api, bytes.fromhex("ee00"), time="2026-03-01T08:01:00Z")        # infinite loop
    send(js_api, bytes.fromhex("bb07"), time="2026-03-01T08:02:00Z")        # memory bomb
    send(js_api, bytes.fromhex("0102"), time="2026-03-01T08:03:00Z")        # codec's own error
    send(js_api, bytes.fromhex("01900834"), time="2026-03-01T08:04:00Z")    # fine
    settle(js_api)
    letters = sorted(js_api.get("/api/dead-letters").json(), key=lambda d: d["id"])
    assert [d["reason"] for d in letters] == ["codec-timeout", "codec-error", "codec-error"]
    assert "50 ms" in letters[0]["detail"]
    assert "out of memory" in letters[1]["detail"] and "16 MiB" in letters[1]["detail"]
    assert "room frames are 4 bytes, got 2" in letters[2]["detail"]
    # the next uplink after them was decoded and stored; the server still answers
    body = room(js_api)
    assert body["co2"]["value"] == 400
    assert body["co2"]["observedAt"] == "2026-03-01T08:04:00.000Z"
    assert js_api.get("/ngsi-ld/v1/entities", params={"type": "Device"}).status_code == 200
    # and the codec is usable again right after (its broken runtime was discarded)
    send(js_api, bytes.fromhex("01f40898"), time="2026-03-01T08:05:00Z")
    settle(js_api)
    assert room(js_api)["co2"]["value"] == 500


def test_a_dead_letter_replays_once_the_codec_is_fixed(js_api: TestClient) -> None:
    install(js_api)
    send(js_api, bytes.fromhex("ee00"))
    settle(js_api)
    [letter] = js_api.get("/api/dead-letters").json()
    assert letter["reason"] == "codec-timeout"
    fixed = ROOM.replace("for (;;) {}", "return {data: {co2: 0, temperature: 0}};")
    js_api.app.state.ingestion.js_codecs.put(  # type: ignore[attr-defined]
        CodecSource(id="tests.room", files={"room.js": fixed}, roles={"uplinkDecoder": "room.js"}))
    r = js_api.post(f"/api/dead-letters/{letter['id']}/replay")
    assert r.status_code == 200, r.text
    assert room(js_api)["co2"]["value"] == 0


def test_js_codecs_survive_a_restart(js_settings: Settings, store: Store) -> None:
    with admin_client(create_app(js_settings, store)) as first:
        install(first)
    with admin_client(create_app(js_settings, store)) as second:
        send(second, bytes.fromhex("03e80834"))
        settle(second)
        assert room(second)["co2"]["value"] == 1000
