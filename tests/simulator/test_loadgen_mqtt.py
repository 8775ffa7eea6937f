"""`bocage simulate --target mqtt://...`: ChirpStack events published with QoS 1, counted."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
import uuid
from typing import Any

import orjson
import pytest

from bocage.connectors.chirpstack.envelope import parse_event
from bocage.simulator import loadgen

BROKER = ("127.0.0.1", 1883)


def broker_up() -> bool:
    try:
        with socket.create_connection(BROKER, timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def broker() -> str:
    if not broker_up():
        if os.environ.get("CI"):
            pytest.fail("Mosquitto is not listening on 127.0.0.1:1883")
        pytest.skip("Mosquitto is not listening on 127.0.0.1:1883")
    return f"mqtt://{BROKER[0]}:{BROKER[1]}"


def test_every_uplink_is_published_acknowledged_and_well_formed(broker: str) -> None:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from bocage.simulator.mqtt_target import MqttTarget, topic

    application = f"test-{uuid.uuid4().hex}"  # our own topics on the shared broker
    received: list[dict[str, Any]] = []
    subscribed = threading.Event()
    sub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=application)
    sub.on_message = lambda c, u, m: received.append(
        {"topic": m.topic, "body": orjson.loads(m.payload)})
    sub.on_subscribe = lambda *a: subscribed.set()
    sub.connect(*BROKER)
    sub.loop_start()
    sub.subscribe(f"application/{application}/device/+/event/up", qos=1)
    assert subscribed.wait(10)
    try:
        _, devices = loadgen.pick_devices(20)
        report = asyncio.run(loadgen.run(devices, MqttTarget(broker, application=application),
                                         duration=2.5, interval=1.0))
        s = report.stats
        assert s.sent >= 40 and (s.acknowledged, s.rejected, s.errors) == (s.sent, 0, 0)
        for _ in range(100):  # delivery to the subscriber trails the PUBACKs a little
            if len(received) >= s.sent:
                break
            time.sleep(0.1)
        assert len(received) == s.sent
        for msg in received:
            record = parse_event("up", msg["body"])
            assert msg["topic"] == topic(record.dev_eui, application)
            assert record.payload and record.f_port
    finally:
        sub.loop_stop()
        sub.disconnect()
