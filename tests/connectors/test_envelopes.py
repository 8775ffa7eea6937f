"""Envelope parsers: every recorded message of both network servers, and bad input."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import orjson
import pytest

from bocage.connectors.chirpstack.envelope import parse_event
from bocage.connectors.tts.envelope import parse_message
from bocage.domain.errors import BadRequestData
from bocage.ingest.record import Radio, Uplink

FIXTURES = Path(__file__).parent / "fixtures"
NOW = "2030-01-01T00:00:00.000Z"


def load(name: str) -> Any:
    return orjson.loads((FIXTURES / name).read_bytes())


@pytest.mark.parametrize("path", sorted((FIXTURES / "chirpstack-v4").glob("event-*.json")),
                         ids=lambda p: p.stem)
def test_every_chirpstack_event_parses(path: Path) -> None:
    event = path.stem.removeprefix("event-")
    body = orjson.loads(path.read_bytes())
    rec = parse_event(event, body)
    assert rec.source == "chirpstack" and rec.event == event
    assert len(rec.dev_eui) == 16 and rec.dev_eui == rec.dev_eui.upper()
    assert rec.received_at.endswith("Z") and rec.raw == body
    assert rec.dedup_key.startswith(f"chirpstack:{event}:")
    assert Uplink.from_json(rec.to_json()) == rec


def test_chirpstack_up_fields() -> None:
    rec = parse_event("up", load("chirpstack-v4/event-up.json"))
    assert rec.dev_eui == "0101010101010101"
    assert rec.application == "17c82e96-be03-4f38-aef3-f83d48582d97"
    assert (rec.f_port, rec.f_cnt, rec.payload) == (1, 0, b"\xaa")  # fCnt 0 omitted by the docs
    assert rec.received_at == "2022-07-18T09:34:15.775Z"
    assert rec.dedup_key == "chirpstack:up:3ac7e3c4-4401-4b8d-9386-a5c902f9202d"
    assert rec.radio == Radio(rssi=-36.0, snr=10.5, gateways=1)
    assert rec.decoded is None


def test_chirpstack_status_battery_is_a_ratio() -> None:
    rec = parse_event("status", load("chirpstack-v4/event-status.json"))
    assert rec.battery == pytest.approx(0.883)
    # the status event shares the uplink's deduplicationId: the kind keeps them apart
    assert rec.dedup_key == "chirpstack:status:bf2a9746-1c8b-49be-a92e-f0b89c8534e4"
    body = load("chirpstack-v4/event-status.json")
    body["externalPowerSource"] = True
    assert parse_event("status", body).battery is None


def test_chirpstack_fallback_dedup_is_device_and_fcnt() -> None:
    body = load("chirpstack-v4/event-up.json")
    del body["deduplicationId"]
    body["fCnt"] = 42
    assert parse_event("up", body).dedup_key == "chirpstack:up:0101010101010101:42"


def test_chirpstack_location_and_log() -> None:
    loc = parse_event("location", load("chirpstack-v4/event-location.json"))
    assert loc.decoded == {"latitude": 37.344214, "longitude": -8.839375, "altitude": 2.0}
    log = parse_event("log", load("chirpstack-v4/event-log.json"))
    assert log.note.startswith("ERROR UPLINK_MIC")
    # no id in a log event: an exact redelivery has the same key, another log another one
    assert log.dedup_key == parse_event("log", load("chirpstack-v4/event-log.json")).dedup_key
    other = load("chirpstack-v4/event-log.json")
    other["code"] = "OTHER"
    assert parse_event("log", other).dedup_key != log.dedup_key


def test_tts_uplink_fields() -> None:
    rec = parse_message(load("tts-v3/uplink-messages-0.json"), NOW)
    assert (rec.source, rec.event, rec.dev_eui, rec.application) == (
        "tts", "up", "0004A30B001C0530", "app1")
    assert (rec.f_port, rec.f_cnt, rec.payload) == (0, 1, b"\x82\x41\xde")  # f_port 0 omitted
    assert rec.dedup_key == "tts:up:as:up:01E0WZGT6Y7657CPFPE5WEYDSQ"
    assert rec.received_at == "2020-02-12T15:15:45.789Z"  # the network server's, not the AS's
    assert rec.decoded == {"temperature": 1.0, "luminosity": 0.64}
    assert rec.radio == Radio(rssi=-35.0, snr=5.0, gateways=1)
    assert Uplink.from_json(rec.to_json()) == rec


@pytest.mark.parametrize("name,event", [
    ("join-accept-messages-0.json", "join"),
    ("downlink-events-messages-0.json", "downlink_ack"),
    ("downlink-events-messages-1.json", "downlink_failed"),
])
def test_tts_events(name: str, event: str) -> None:
    rec = parse_message(load(f"tts-v3/{name}"), NOW)
    assert rec.event == event and rec.payload == b""
    assert Uplink.from_json(rec.to_json()) == rec


def test_tts_event_without_time_takes_now_and_without_eui_is_kept() -> None:
    rec = parse_message(load("tts-v3/downlink-events-messages-1.json"), NOW)
    assert rec.received_at == NOW and rec.dev_eui == ""
    assert "application_downlink_too_long" in rec.note


def test_tts_downlink_push_body_is_refused() -> None:
    with pytest.raises(BadRequestData, match="downlink push"):
        parse_message(load("tts-v3/downlink-messages-0.json"), NOW)


def test_tts_fallback_dedup_is_device_and_fcnt() -> None:
    body = load("tts-v3/uplink-messages-0.json")
    body["correlation_ids"] = ["gs:uplink:X"]
    assert parse_message(body, NOW).dedup_key == "tts:up:0004A30B001C0530:1"


def _without(body: dict[str, Any], *path: str) -> dict[str, Any]:
    out = copy.deepcopy(body)
    node = out
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return out


def _with(body: dict[str, Any], value: object, *path: str) -> dict[str, Any]:
    out = copy.deepcopy(body)
    node = out
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return out


CS_UP = load("chirpstack-v4/event-up.json")
TTS_UP = load("tts-v3/uplink-messages-0.json")


@pytest.mark.parametrize("body,match", [
    (_without(CS_UP, "deviceInfo"), "deviceInfo must be a JSON object"),
    (_without(CS_UP, "deviceInfo", "devEui"), "deviceInfo.devEui"),
    (_with(CS_UP, "01010101", "deviceInfo", "devEui"), "16 hex digits"),
    (_without(CS_UP, "time"), "time must be an ISO 8601"),
    (_with(CS_UP, "yesterday", "time"), "not a valid ISO 8601"),
    (_with(CS_UP, "%%%not base64!", "data"), "data is not valid base64"),
    (_with(CS_UP, 12, "data"), "data must be a base64 string"),
    (_with(CS_UP, "1", "fPort"), "fPort must be an integer"),
    (_with(CS_UP, 300, "fPort"), "fPort must be an integer in"),
    (_with(CS_UP, -1, "fCnt"), "fCnt must be an integer"),
    (_with(CS_UP, {"rssi": -3}, "rxInfo"), "rxInfo must be a list"),
    (_with(CS_UP, [{"rssi": "loud"}], "rxInfo"), "rssi must be a number"),
    (_with(CS_UP, [1, 2], "object"), "object"),
    (_with(CS_UP, "", "deduplicationId"), "deduplicationId"),
    ([CS_UP], "JSON object"),
])
def test_chirpstack_bad_input_is_a_clear_error(body: object, match: str) -> None:
    with pytest.raises(BadRequestData, match=match):
        parse_event("up", body)


def test_chirpstack_unknown_event() -> None:
    with pytest.raises(BadRequestData, match="unknown ChirpStack event"):
        parse_event("uplink", CS_UP)


@pytest.mark.parametrize("body,match", [
    (_without(TTS_UP, "end_device_ids"), "end_device_ids must be a JSON object"),
    (_without(TTS_UP, "end_device_ids", "dev_eui"), "dev_eui is required"),
    (_without(TTS_UP, "end_device_ids", "application_ids"), "application_ids"),
    (_without(TTS_UP, "uplink_message"), "expected exactly one of"),
    (_with(TTS_UP, {}, "join_accept"), "found uplink_message, join_accept"),
    (_with(TTS_UP, "abc$", "uplink_message", "frm_payload"), "frm_payload is not valid base64"),
    (_with(TTS_UP, "1", "uplink_message", "f_cnt"), "f_cnt must be an integer"),
    (_without(_without(TTS_UP, "uplink_message", "received_at"), "received_at"),
     "received_at must be an ISO 8601"),
    (_with(TTS_UP, "as:up:x", "correlation_ids"), "correlation_ids"),
    (_with(TTS_UP, "hot", "uplink_message", "decoded_payload"), "decoded_payload"),
    ("uplink", "JSON object"),
])
def test_tts_bad_input_is_a_clear_error(body: object, match: str) -> None:
    with pytest.raises(BadRequestData, match=match):
        parse_message(body, NOW)
