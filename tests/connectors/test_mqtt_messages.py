"""MQTT topic + payload parsers and broker settings: pure, no broker."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from bocage.connectors.chirpstack.envelope import parse_event
from bocage.connectors.chirpstack.mqtt import parse_mqtt as parse_cs
from bocage.connectors.mqtt.config import broker_config, parse_broker_url
from bocage.connectors.tts.envelope import parse_message
from bocage.connectors.tts.mqtt import parse_mqtt as parse_tts
from bocage.domain.errors import BadRequestData
from bocage.settings import Settings

FIXTURES = Path(__file__).parent / "fixtures"
NOW = "2030-01-01T00:00:00.000Z"


def load(name: str) -> Any:
    return orjson.loads((FIXTURES / name).read_bytes())


@pytest.mark.parametrize("path", sorted((FIXTURES / "chirpstack-v4").glob("event-*.json")),
                         ids=lambda p: p.stem)
def test_chirpstack_topic_names_the_event_and_the_body_parses_as_over_http(path: Path) -> None:
    event = path.stem.removeprefix("event-")
    body = orjson.loads(path.read_bytes())
    eui = body["deviceInfo"]["devEui"]
    topic = f"application/{body['deviceInfo']['applicationId']}/device/{eui}/event/{event}"
    assert parse_cs(topic, path.read_bytes()) == parse_event(event, body)


def test_chirpstack_bad_messages() -> None:
    up = load("chirpstack-v4/event-up.json")
    topic = "application/a/device/0101010101010101/event/up"
    with pytest.raises(BadRequestData, match="not a ChirpStack UplinkEvent in Protobuf"):
        parse_cs(topic, b"\x0a\x24protobuf")
    with pytest.raises(BadRequestData, match="not valid JSON"):
        parse_cs(topic, b"{not json")
    with pytest.raises(BadRequestData, match="names no ChirpStack event"):
        parse_cs("application/a/device/0101010101010101/event/upload", orjson.dumps(up))
    with pytest.raises(BadRequestData, match="names device 0202020202020202"):
        parse_cs("application/a/device/0202020202020202/event/up", orjson.dumps(up))
    with pytest.raises(BadRequestData, match="deviceInfo"):
        parse_cs(topic, orjson.dumps({k: v for k, v in up.items() if k != "deviceInfo"}))


TTS_CASES = [("uplink-messages-0", "up"), ("join-accept-messages-0", "join"),
             ("downlink-events-messages-0", "down/ack"),
             ("downlink-events-messages-1", "down/failed")]


@pytest.mark.parametrize("name,suffix", TTS_CASES)
def test_tts_messages_parse_as_over_http(name: str, suffix: str) -> None:
    body = load(f"tts-v3/{name}.json")
    topic = f"v3/app1@ttn/devices/dev1/{suffix}"
    assert parse_tts(topic, orjson.dumps(body), NOW) == parse_message(body, NOW)


def test_tts_topic_must_agree_with_the_message() -> None:
    up = orjson.dumps(load("tts-v3/uplink-messages-0.json"))
    with pytest.raises(BadRequestData, match="announces join"):
        parse_tts("v3/app1/devices/dev1/join", up, NOW)
    with pytest.raises(BadRequestData, match="names device 'dev2'"):
        parse_tts("v3/app1/devices/dev2/up", up, NOW)
    with pytest.raises(BadRequestData, match="does not ingest 'service/data'"):
        parse_tts("v3/app1/devices/dev1/service/data", up, NOW)
    with pytest.raises(BadRequestData, match="not a The Things Stack topic"):
        parse_tts("application/app1/device/dev1/event/up", up, NOW)
    with pytest.raises(BadRequestData, match="downlink push"):
        parse_tts("v3/app1/devices/dev1/down/queued",
                  orjson.dumps(load("tts-v3/downlink-messages-0.json")), NOW)
    with pytest.raises(BadRequestData, match="not JSON"):
        parse_tts("v3/app1/devices/dev1/up", b"{", NOW)


def test_broker_urls() -> None:
    assert parse_broker_url("mqtt://broker", "x") == ("broker", 1883, False)
    assert parse_broker_url("mqtts://broker.example.org", "x") == (
        "broker.example.org", 8883, True)
    assert parse_broker_url("mqtt://10.0.0.2:11883", "x") == ("10.0.0.2", 11883, False)
    for bad, why in (("http://broker", "expected mqtt"), ("mqtt://u:p@broker", "credentials"),
                     ("mqtt://", "no host"), ("mqtt://broker:99999", "bad port")):
        with pytest.raises(ValueError, match=why):
            parse_broker_url(bad, "chirpstack_mqtt_url")


def test_broker_config_from_settings() -> None:
    assert broker_config(Settings(), "chirpstack", mqtt5=True) is None  # off by default
    s = Settings(tts_mqtt_url="mqtts://eu1.cloud.thethings.network",
                 tts_mqtt_username="app1@ttn", tts_mqtt_password="NNSXS.x",
                 tts_mqtt_topics=" v3/app1@ttn/devices/+/up , v3/app1@ttn/devices/+/join,")
    cfg = broker_config(s, "tts", mqtt5=False)
    assert cfg is not None
    assert (cfg.host, cfg.port, cfg.tls, cfg.username, cfg.client_id) == (
        "eu1.cloud.thethings.network", 8883, True, "app1@ttn", "bocage-tts")
    assert cfg.topics == ("v3/app1@ttn/devices/+/up", "v3/app1@ttn/devices/+/join")
    assert cfg.url == "mqtts://eu1.cloud.thethings.network:8883"  # no password in logs
    with pytest.raises(ValueError, match="client_id"):
        broker_config(s.replace(tts_mqtt_client_id=""), "tts", mqtt5=False)
    with pytest.raises(ValueError, match="no topic"):
        broker_config(s.replace(tts_mqtt_topics=" , "), "tts", mqtt5=False)
