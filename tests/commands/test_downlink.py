"""The pure part of lighting commands: the SL-1 order frame, the network servers'
downlink messages, backoff, confirmation and a command's status."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from bocage.codecs.registry import CodecError, EncodeError, builtin_registry
from bocage.codecs.streetlight_sl1.downlink import decode_downlink, encode_downlink
from bocage.commands.downlink import (
    Route,
    backoff,
    command_status,
    expected_state,
    mqtt_message,
    obeyed,
    order_data,
)
from bocage.commands.lighting import LightingCommand

SHARED = Path(__file__).parents[2] / ".." / "shared" / "data" / "lorawan"


@pytest.mark.parametrize("data", [
    {"action": "on"}, {"action": "off", "durationMinutes": 90},
    {"action": "dim", "level": 35, "durationMinutes": 1440}, {"action": "schedule"},
    {"action": "dim", "level": 0}])
def test_an_sl1_order_decodes_back(data: dict[str, object]) -> None:
    port, frame = encode_downlink(data)
    assert port == 11 and len(frame) == 4
    assert decode_downlink(frame, port) == data


def test_sl1_orders_refused_with_a_reason() -> None:
    for bad, why in (({"action": "blink"}, "action"), ({"action": "dim", "level": 101}, "level"),
                     ({"action": "on", "level": 20}, "dim only"),
                     ({"action": "on", "durationMinutes": 70000}, "durationMinutes")):
        with pytest.raises(EncodeError, match=why):
            encode_downlink(bad)
    with pytest.raises(CodecError, match="fPort 11"):
        decode_downlink(b"\x01\x00\x00\x00", 10)
    with pytest.raises(CodecError, match="4 bytes"):
        decode_downlink(b"\x01", 11)
    with pytest.raises(CodecError, match="unknown"):
        decode_downlink(b"\x09\x00\x00\x00", 11)


def test_the_builtin_registry_exposes_the_sl1_downlink_codec() -> None:
    sl1 = builtin_registry().get("bocage-sl1")
    assert sl1 is not None and sl1.encode_downlink is encode_downlink
    assert sl1.decode_downlink is decode_downlink
    meter = builtin_registry().get("bocage-em1")
    assert meter is not None and meter.encode_downlink is None  # a meter takes no orders


def test_order_data_of_a_command() -> None:
    cmd = LightingCommand("urn:x", "dim", "incident", level=40, duration_minutes=30)
    assert order_data(cmd) == {"action": "dim", "level": 40, "durationMinutes": 30}
    assert order_data(cmd, "resume") == {"action": "schedule"}


def test_the_chirpstack_downlink_command() -> None:
    topic, raw = mqtt_message(Route("chirpstack", "17c82e96", "0101010101010101",
                                    "0101010101010101"), 11, b"\x01\x00\x00\x1e", "id-1")
    assert topic == "application/17c82e96/device/0101010101010101/command/down"
    assert json.loads(raw) == {"id": "id-1", "devEui": "0101010101010101", "confirmed": True,
                               "fPort": 11, "data": base64.b64encode(b"\x01\x00\x00\x1e").decode()}


def test_the_tts_push_matches_the_documented_downlink_message() -> None:
    topic, raw = mqtt_message(Route("tts", "app1", "dev1", "0004A30B001C0530"), 15,
                              b"\xbe\xef", "id-2")
    assert topic == "v3/app1@ttn/devices/dev1/down/push"
    body = json.loads(raw)
    (down,) = body["downlinks"]
    assert down == {"f_port": 15, "frm_payload": "vu8=", "priority": "HIGH", "confirmed": True,
                    "correlation_ids": ["bocage:downlink:id-2"]}
    documented = SHARED / "tts-v3" / "downlink-messages-0.json"
    if documented.exists():  # the documentation's example has the same members
        example = json.loads(documented.read_text())["downlinks"][0]
        assert set(down) <= set(example)
        assert example["frm_payload"] == down["frm_payload"]
    topic, _ = mqtt_message(Route("tts", "app1@acme", "dev1", "X"), 1, b"", "i")
    assert topic == "v3/app1@acme/devices/dev1/down/push"
    with pytest.raises(ValueError, match="unknown network server"):
        mqtt_message(Route("loriot", "a", "b", "c"), 1, b"", "i")


def test_backoff_doubles_up_to_its_cap() -> None:
    assert [backoff(n, 2, 30) for n in range(1, 7)] == [2, 4, 8, 16, 30, 30]


def test_confirmation_needs_every_ordered_value() -> None:
    assert obeyed(expected_state({"action": "on"}), {"powerState": "on"})
    assert not obeyed(expected_state({"action": "on"}), {"powerState": "off"})
    dim = expected_state({"action": "dim", "level": 40})
    assert obeyed(dim, {"powerState": "on", "illuminanceLevel": 0.4})
    assert not obeyed(dim, {"powerState": "on", "illuminanceLevel": 0.7})
    assert not obeyed(dim, {"powerState": "on"})
    assert not obeyed(expected_state({"action": "schedule"}), {"powerState": "on"})


def test_a_command_moves_at_the_pace_of_its_slowest_delivery() -> None:
    assert command_status(["pending"], ended=False) == "pending"
    assert command_status(["sent", "acknowledged"], ended=False) == "sent"
    assert command_status(["confirmed", "failed"], ended=False) == "confirmed"
    assert command_status(["failed", "expired"], ended=False) == "failed"
    assert command_status(["expired"], ended=False) == "expired"
    assert command_status(["confirmed"], ended=True) == "expired"
    assert command_status([], ended=False) == "failed"
