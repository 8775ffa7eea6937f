"""A street light whose model names a JavaScript codec: the order is encoded by the
codec's encodeDownlink, and its decodeDownlink gives the order back; a model without
a downlink encoder gets a failed delivery saying why, and nothing is published."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from admin_client import admin_client
from lit_territory import A, key
from starlette.testclient import TestClient

from bocage.api.app import create_app
from bocage.jscodec.source import CodecSource
from bocage.settings import Settings
from bocage.storage.sqlite import SQLiteStore

LAMP_JS = """
function decodeUplink(input) {
  return {data: {powerState: input.bytes[0] ? "on" : "off"}};
}
function encodeDownlink(input) {
  var codes = {schedule: 0, on: 1, off: 2, dim: 3};
  if (!(input.data.action in codes)) { return {errors: ["unknown action"]}; }
  var m = input.data.durationMinutes || 0;
  return {fPort: 42, bytes: [0xA5, codes[input.data.action], input.data.level || 0,
                             m >> 8, m & 255]};
}
function decodeDownlink(input) {
  var names = ["schedule", "on", "off", "dim"];
  var out = {action: names[input.bytes[1]]};
  var m = (input.bytes[3] << 8) | input.bytes[4];
  if (out.action === "dim") { out.level = input.bytes[2]; }
  if (m) { out.durationMinutes = m; }
  return {data: out};
}
"""


def model(ident: str, codec: str) -> dict[str, Any]:
    return {"id": ident, "vendor": "acme", "model": ident, "codec": codec,
            "targetType": "Streetlight",
            "quantities": [{"key": "powerState", "attribute": "powerState"}]}


@pytest.fixture
def site(settings: Settings, tmp_path: Any) -> Iterator[TestClient]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    store = SQLiteStore(str(tmp_path / "bocage.db"))
    app = create_app(settings.replace(chirpstack_mqtt_url=f"mqtt://127.0.0.1:{port}"), store)
    with admin_client(app) as c:
        c.app.state.ingestion.js_codecs.put(CodecSource(  # type: ignore[attr-defined]
            id="acme.lamp", files={"lamp.js": LAMP_JS},
            roles={"uplinkDecoder": "lamp.js", "downlinkEncoder": "lamp.js",
                   "downlinkDecoder": "lamp.js"}))
        for body in (model("acme-lamp", "acme.lamp"), model("uplink-only", "bocage-ps1")):
            assert c.post("/api/device-models", json=body).status_code == 201
        for n, (eui, model_id) in enumerate((("A1A1A1A1A1A1A1A1", "acme-lamp"),
                                             ("B2B2B2B2B2B2B2B2", "uplink-only"))):
            light = f"urn:ngsi-ld:Streetlight:01004-J{n}"
            r = c.post("/api/devices", json={"devEui": eui, "model": model_id,
                                             "assetId": light, "scope": A,
                                             "applicationId": "app-js"})
            assert r.status_code == 201, r.text
        yield c
    store.close()


def test_a_javascript_codec_encodes_the_order(site: TestClient) -> None:
    police = key(site.app, "police", A)
    r = site.post("/api/commands", headers=police, json={
        "target": "urn:ngsi-ld:Streetlight:01004-J0", "action": "dim", "level": 30,
        "durationMinutes": 300, "reason": "essai"})
    assert r.status_code == 202, r.text
    (d,) = r.json()["deliveries"]
    assert d["fPort"] == 42 and d["payload"] == "a503" + "1e" + "012c"
    assert d["topic"] == "application/app-js/device/a1a1a1a1a1a1a1a1/command/down"
    decoded = site.post("/api/codecs/acme.lamp/decode-downlink",
                        json={"bytes": d["payload"], "fPort": d["fPort"]}).json()
    assert decoded["data"] == {"action": "dim", "level": 30, "durationMinutes": 300}


def test_a_model_without_a_downlink_encoder_fails_at_once(site: TestClient) -> None:
    police = key(site.app, "police", A)
    r = site.post("/api/commands", headers=police, json={
        "target": "urn:ngsi-ld:Streetlight:01004-J1", "action": "on", "reason": "essai"})
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["status"] == "failed"
    (d,) = body["deliveries"]
    assert d["state"] == "failed" and "has no downlink encoder" in d["detail"]
    assert d["topic"] == "" and d["attempts"] == 0
