"""The real MQTT broker for the tests (Mosquitto on 127.0.0.1:1883 by default).

Other test runs share it: each test uses its own topics and client ids
(:func:`unique`). Without a broker the MQTT tests skip, saying why; in CI (``CI``
set) they fail instead, so that CI can never pass without running them.
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from collections.abc import Callable

import paho.mqtt.client as paho
import pytest

HOST = os.environ.get("BOCAGE_TEST_MQTT_HOST", "127.0.0.1")
PORT = int(os.environ.get("BOCAGE_TEST_MQTT_PORT", "1883"))
URL = f"mqtt://{HOST}:{PORT}"


def require() -> None:
    """Skip (or fail in CI) unless a broker listens."""
    try:
        with socket.create_connection((HOST, PORT), timeout=2):
            return
    except OSError as exc:
        message = (f"MQTT tests need a broker (Mosquitto) at {HOST}:{PORT} "
                   f"(set BOCAGE_TEST_MQTT_HOST / _PORT): {exc}")
    if os.environ.get("CI"):
        pytest.fail(message + " [CI is set: not skipping]", pytrace=False)
    pytest.skip(message)


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


class Publisher:
    """A QoS 1 publisher that waits for the broker's PUBACK of every message."""

    def __init__(self) -> None:
        self._client = paho.Client(paho.CallbackAPIVersion.VERSION2,
                                   client_id=unique("bocage-test-pub"))
        self._client.connect(HOST, PORT)
        self._client.loop_start()

    def publish(self, topic: str, payload: bytes) -> None:
        info = self._client.publish(topic, payload, qos=1)
        info.wait_for_publish(timeout=10)
        assert info.is_published(), f"the broker did not acknowledge {topic}"

    def close(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()


def forget_session(client_id: str) -> None:
    """End a persistent session the tests left on the shared broker."""
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id,
                         protocol=paho.MQTTv311, clean_session=True)
    client.connect(HOST, PORT)
    client.loop_start()
    time.sleep(0.2)
    client.loop_stop()
    client.disconnect()


def wait_for(condition: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        time.sleep(0.02)
