"""/api/codecs: list, get, try a payload, delete."""

from __future__ import annotations

from pathlib import Path

from starlette.testclient import TestClient

from bocage.jscodec.check import source_of
from bocage.jscodec.repo import read_repo
from bocage.jscodec.source import CodecSource

REPO = Path(__file__).parent.parent / "fixtures" / "lorawan-repo"

CODEC = """
function decodeUplink(input) {
  if (input.bytes[0] === 0xEE) { for (;;) {} }
  if (input.bytes.length < 2) return { errors: ["too short"] };
  console.log("decoding", input.bytes.length);
  return { data: { level: input.bytes[0], v: input.variables.v || null,
                   at: input.recvTime.toISOString() }, warnings: ["beta"] };
}
"""


def put(client: TestClient) -> None:
    client.app.state.ingestion.js_codecs.put(CodecSource(  # type: ignore[attr-defined]
        id="acme.level", files={"level.js": CODEC}, roles={"uplinkDecoder": "level.js"},
        vendor="acme", name="level", examples={"uplinkDecoder": [{"description": "x"}]}))


def test_list_get_delete(js_api: TestClient) -> None:
    assert js_api.get("/api/codecs").json() == []
    put(js_api)
    [summary] = js_api.get("/api/codecs").json()
    assert summary["id"] == "acme.level" and summary["roles"] == {"uplinkDecoder": "level.js"}
    assert summary["examples"] == 1 and len(summary["digest"]) == 16
    full = js_api.get("/api/codecs/acme.level").json()
    assert full["files"] == {"level.js": CODEC}
    assert js_api.delete("/api/codecs/acme.level").status_code == 204
    r = js_api.get("/api/codecs/acme.level")
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"


def test_decode_a_payload(js_api: TestClient) -> None:
    put(js_api)
    r = js_api.post("/api/codecs/acme.level/decode",
                    json={"bytes": "2a00", "fPort": 2, "recvTime": "2026-05-01T00:00:00Z",
                          "variables": {"v": "x"}})
    assert r.status_code == 200, r.text
    assert r.json() == {"data": {"level": 42, "v": "x", "at": "2026-05-01T00:00:00.000Z"},
                        "errors": [], "warnings": ["beta"], "logs": ["decoding 2"]}
    r = js_api.post("/api/codecs/acme.level/decode", json={"bytes": [1], "fPort": 2})
    assert r.json() == {"errors": ["too short"], "warnings": []}
    r = js_api.post("/api/codecs/acme.level/decode", json={"bytes": "ee00"})
    assert r.status_code == 200 and r.json()["failure"] == "codec-timeout"
    # the server is fine after it
    assert js_api.post("/api/codecs/acme.level/decode",
                       json={"bytes": "0700"}).json()["data"]["level"] == 7


def test_decode_bad_requests(js_api: TestClient) -> None:
    put(js_api)
    r = js_api.post("/api/codecs/acme.level/decode", json={"bytes": "zz"})
    assert r.status_code == 400 and "bytes" in r.json()["detail"]
    r = js_api.post("/api/codecs/acme.level/decode", json={"bytes": "00", "fPort": 300})
    assert r.status_code == 400
    r = js_api.post("/api/codecs/nope/decode", json={"bytes": "00"})
    assert r.status_code == 404


def test_a_model_may_only_name_a_codec_that_exists(js_api: TestClient) -> None:
    model = {"id": "m1", "vendor": "acme", "model": "Level", "codec": "acme.level",
             "targetType": "WaterObserved",
             "quantities": [{"key": "level", "attribute": "height", "unit": "MTR"}]}
    r = js_api.post("/api/device-models", json=model)
    assert r.status_code == 400 and "unknown codec 'acme.level'" in r.json()["detail"]
    put(js_api)
    assert js_api.post("/api/device-models", json=model).status_code == 201


def test_encode_and_decode_downlink(js_api: TestClient) -> None:
    [acme] = read_repo(REPO, {"acme"})
    js_api.app.state.ingestion.js_codecs.put(  # type: ignore[attr-defined]
        source_of(acme.codecs["th1-codec"]))
    r = js_api.post("/api/codecs/acme.th1-codec/encode", json={"data": {"interval": 600}})
    assert r.status_code == 200, r.text
    assert r.json() == {"bytes": [1, 2, 88], "fPort": 10, "errors": [], "warnings": []}
    r = js_api.post("/api/codecs/acme.th1-codec/encode", json={"data": {"interval": 5}})
    assert r.json()["errors"] == ["interval must be 60 to 65535 seconds"]
    r = js_api.post("/api/codecs/acme.th1-codec/decode-downlink",
                    json={"bytes": [1, 2, 88], "fPort": 10})
    assert r.json()["data"] == {"interval": 600}
    assert js_api.post("/api/codecs/acme.th1-codec/encode", json={"x": 1}).status_code == 400
    # a codec without that role says so
    put(js_api)
    r = js_api.post("/api/codecs/acme.level/encode", json={"data": {}})
    assert r.json()["failure"] == "codec-error"
    assert "has no downlinkEncoder" in r.json()["errors"][0]
