"""ChirpStack v4 events in their Protobuf encoding read as their JSON form: pure, no broker."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import orjson
import pytest
from chirpstack_api.integration import integration_pb2
from google.protobuf import json_format

from bocage.connectors.chirpstack.envelope import parse_event
from bocage.connectors.chirpstack.mqtt import parse_mqtt
from bocage.connectors.chirpstack.protobuf import MESSAGES, decode_event
from bocage.domain.errors import BadRequestData

FIXTURES = Path(__file__).parent / "fixtures" / "chirpstack-v4"


def encoded(event: str) -> tuple[dict[str, Any], bytes]:
    """A documented JSON event and the same event as ChirpStack's Protobuf encoding."""
    body = orjson.loads((FIXTURES / f"event-{event}.json").read_bytes())
    message = json_format.ParseDict(body, getattr(integration_pb2, MESSAGES[event])())
    return body, message.SerializeToString()


def same(a: Any, b: Any) -> None:
    """Two records equal but for the envelope kept as received (``raw``) and, for the
    events ChirpStack gives no deduplicationId (log), the digest of that envelope
    (the Protobuf JSON mapping writes the time with ``Z``, the example ``+00:00``)."""
    if "deduplicationId" not in a.raw:
        assert a.dedup_key.rsplit(":", 1)[0] == b.dedup_key.rsplit(":", 1)[0]
        a, b = dataclasses.replace(a, dedup_key=""), dataclasses.replace(b, dedup_key="")
    assert dataclasses.replace(a, raw={}) == dataclasses.replace(b, raw={})


@pytest.mark.parametrize("event", sorted(MESSAGES))
def test_every_event_reads_the_same_in_protobuf_as_in_json(event: str) -> None:
    body, data = encoded(event)
    decoded = decode_event(event, data)
    assert decoded["deviceInfo"] == body["deviceInfo"]
    same(parse_event(event, decoded), parse_event(event, body))


def test_the_uplink_in_protobuf_keeps_its_payload_radio_and_decoded_object() -> None:
    body = orjson.loads((FIXTURES / "event-up.json").read_bytes())
    body["object"] = {"temperature": 21.5, "status": "ok", "flags": {"leak": True}}
    data = json_format.ParseDict(body, integration_pb2.UplinkEvent()).SerializeToString()
    record = parse_event("up", decode_event("up", data))
    from_json = parse_event("up", body)
    assert record.payload == from_json.payload and record.payload
    assert record.radio == from_json.radio and record.radio.rssi == -36
    assert (record.f_port, record.f_cnt) == (body["fPort"], body.get("fCnt", 0))
    assert record.dedup_key == f"chirpstack:up:{body['deduplicationId']}"
    # the network server's decoded object (a Struct in Protobuf) survives
    assert record.decoded == body["object"]
    # the same bytes twice: the same record (a redelivery is a duplicate)
    assert parse_event("up", decode_event("up", data)) == record


def test_protobuf_that_is_no_event_is_refused_with_the_reason() -> None:
    with pytest.raises(BadRequestData, match="not a ChirpStack UplinkEvent in Protobuf"):
        decode_event("up", b"\xff\xff\xff garbage")
    with pytest.raises(BadRequestData, match="empty Protobuf body"):
        decode_event("up", b"")
    with pytest.raises(BadRequestData, match="not read in Protobuf"):
        decode_event("integration", b"\x0a\x01x")
    # well-formed Protobuf of something else: no device to speak of
    other = integration_pb2.LogEvent(description="hello").SerializeToString()
    with pytest.raises(BadRequestData, match="deviceInfo"):
        parse_event("up", decode_event("up", other))


@pytest.mark.parametrize("event", sorted(MESSAGES))
def test_mqtt_messages_in_protobuf_or_json_read_the_same(event: str) -> None:
    body, data = encoded(event)
    eui = body["deviceInfo"]["devEui"]
    topic = f"application/{body['deviceInfo']['applicationId']}/device/{eui}/event/{event}"
    from_json = parse_mqtt(topic, orjson.dumps(body))
    same(parse_mqtt(topic, data), from_json)
    same(parse_mqtt(topic, b"\n  " + orjson.dumps(body)), from_json)  # JSON after blanks
