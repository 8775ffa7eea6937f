"""Real notification receivers for tests: an HTTP server on a free loopback
port, and an MQTT subscriber on the local Mosquitto (unique topic per test)."""

from __future__ import annotations

import http.server
import os
import queue
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: Any
    at: float


@dataclass
class HttpReceiver:
    url: str
    port: int
    received: list[Received] = field(default_factory=list)
    #: statuses answered in turn (then 204); a callable may block (a slow receiver)
    statuses: list[int] = field(default_factory=list)
    before_answer: Callable[[], None] | None = None
    #: when each refused request (a status >= 300) arrived
    refused: list[float] = field(default_factory=list)
    _arrived: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"expected {count} notifications, got {len(self.received)}")
                self._arrived.wait(left)
            return list(self.received)

    def wait_for_data(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Wait until ``count`` entities arrived (notifications may carry several)."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.data()) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"expected {count} notified entities, got {len(self.data())}")
                self._arrived.wait(left)
            return self.data()

    def data(self) -> list[dict[str, Any]]:
        """Every entity notified so far, in arrival order."""
        return [item for r in self.received for item in r.body["data"]]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def http_receiver(port: int = 0) -> Iterator[HttpReceiver]:
    rec = HttpReceiver(url="", port=0)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if rec.before_answer is not None:
                rec.before_answer()
            status = rec.statuses.pop(0) if rec.statuses else 204
            if status < 300:
                with rec._arrived:
                    rec.received.append(Received(self.path, dict(self.headers),
                                                 orjson.loads(raw), time.monotonic()))
                    rec._arrived.notify_all()
            else:
                rec.refused.append(time.monotonic())
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    rec.port = server.server_address[1]
    rec.url = f"http://127.0.0.1:{rec.port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield rec
    finally:
        server.shutdown()
        server.server_close()


MQTT_HOST, MQTT_PORT = "127.0.0.1", 1883


def mqtt_available() -> None:
    """Skip without a broker, or fail in CI (it must run there)."""
    try:
        socket.create_connection((MQTT_HOST, MQTT_PORT), timeout=1).close()
    except OSError as exc:
        message = f"MQTT tests need Mosquitto on {MQTT_HOST}:{MQTT_PORT}: {exc}"
        if os.environ.get("CI"):
            pytest.fail(message + " [CI is set: not skipping]", pytrace=False)
        pytest.skip(message)


@contextmanager
def mqtt_subscriber(topic: str | None = None) -> Iterator[tuple[str, queue.Queue[Any]]]:
    """(topic, queue of decoded messages) on a fresh unique topic."""
    import paho.mqtt.client as mqtt

    mqtt_available()
    topic = topic or f"bocage-test/{uuid.uuid4().hex}"
    got: queue.Queue[Any] = queue.Queue()
    ready = threading.Event()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                         client_id=f"bocage-test-{uuid.uuid4().hex[:10]}")

    def on_connect(c: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        c.subscribe(topic, qos=1)

    def on_subscribe(c: Any, userdata: Any, mid: Any, reasons: Any, props: Any) -> None:
        ready.set()

    def on_message(c: Any, userdata: Any, msg: Any) -> None:
        got.put((msg.qos, orjson.loads(msg.payload)))

    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    client.connect(MQTT_HOST, MQTT_PORT)
    client.loop_start()
    try:
        assert ready.wait(5), "could not subscribe to the MQTT topic"
        yield topic, got
    finally:
        client.loop_stop()
        client.disconnect()
