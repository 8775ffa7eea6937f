"""``bocage simulate --target mqtt://host:port``: publish as ChirpStack's MQTT integration does.

Each uplink is published with QoS 1 to ``application/<application id>/device/<DevEUI>/
event/up`` (JSON), where bocage's ChirpStack MQTT connector subscribes. *Acknowledged*
here means the broker's PUBACK: the broker took the message; bocage reads it from there.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import deque
from typing import Any
from urllib.parse import urlsplit

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from bocage.simulator.envelope import APPLICATION_ID


def topic(dev_eui: str, application: str = APPLICATION_ID) -> str:
    """Where ChirpStack v4's MQTT integration publishes a device's uplinks."""
    return f"application/{application}/device/{dev_eui.lower()}/event/up"


class MqttTarget:
    def __init__(self, url: str, username: str = "", password: str = "",
                 application: str = APPLICATION_ID) -> None:
        from bocage.simulator.loadgen import Stats

        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts"):
            raise ValueError(f"an MQTT target is mqtt://host:port, got {url!r}")
        self._application = application
        #: PUBACKs as the network thread saw them: (mid, failed, when)
        self._acks: deque[tuple[int, bool, float]] = deque()
        self._inflight: dict[int, float] = {}
        self._early: dict[int, tuple[bool, float]] = {}
        self._stats = Stats()
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2,
                                   client_id=f"bocage-simulate-{uuid.uuid4().hex[:12]}",
                                   protocol=mqtt.MQTTv5)
        self._client.max_inflight_messages_set(1000)
        self._client.max_queued_messages_set(0)
        if parts.scheme == "mqtts":
            self._client.tls_set()
        if username or parts.username:
            self._client.username_pw_set(username or parts.username,
                                         password or parts.password)
        self._client.on_publish = self._on_publish
        self._client.connect(parts.hostname or "127.0.0.1",
                             parts.port or (8883 if parts.scheme == "mqtts" else 1883))
        self._client.loop_start()

    def _on_publish(self, client: Any, userdata: Any, mid: int, reason: Any,
                    properties: Any) -> None:
        # the network thread only records; counting happens on the sending side
        self._acks.append((mid, bool(getattr(reason, "is_failure", False)),
                           time.perf_counter()))

    def _settle(self) -> None:
        stats = self._stats
        while self._acks:
            mid, failed, at = self._acks.popleft()
            start = self._inflight.pop(mid, None)
            if start is None:  # acknowledged before publish() returned its mid
                self._early[mid] = (failed, at)
                continue
            self._count(stats, failed, at - start)

    @staticmethod
    def _count(stats: Any, failed: bool, latency: float) -> None:
        stats.latency(latency)
        if failed:
            stats.rejected += 1
        else:
            stats.acknowledged += 1

    async def send(self, body: dict[str, Any], stats: Any) -> None:
        self._stats = stats
        eui = str(body["deviceInfo"]["devEui"])
        start = time.perf_counter()
        info = self._client.publish(topic(eui, self._application), orjson.dumps(body),
                                    qos=1)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            stats.errors += 1
            return
        early = self._early.pop(info.mid, None)
        if early is not None:
            self._count(stats, early[0], early[1] - start)
        else:
            self._inflight[info.mid] = start
        self._settle()

    async def close(self) -> None:
        deadline = time.monotonic() + 30
        self._settle()
        while self._inflight and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            self._settle()
        self._client.loop_stop()
        self._client.disconnect()
