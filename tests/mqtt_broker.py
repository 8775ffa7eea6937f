"""The real MQTT broker for the tests (Mosquitto on 127.0.0.1:1883 by default).

Other test runs share it: each test uses its own topics and client ids
(:func:`unique`). Without a broker the MQTT tests skip, saying why; in CI (``CI``
set) they fail instead, so that CI can never pass without running them.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

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

    def __init__(self, port: int = PORT, certs: dict[str, Path] | None = None) -> None:
        self._client = paho.Client(paho.CallbackAPIVersion.VERSION2,
                                   client_id=unique("bocage-test-pub"))
        if certs is not None:
            self._client.tls_set(ca_certs=str(certs["ca.crt"]), certfile=str(certs["client.crt"]),
                                 keyfile=str(certs["client.key"]))
        self._client.connect("localhost" if certs is not None else HOST, port)
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


def wait_for(condition: Callable[[], bool], timeout: float = 30.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        time.sleep(0.02)


def make_certificates(folder: Path) -> dict[str, Path]:
    """A throwaway CA, a server certificate for localhost / 127.0.0.1 and a client one."""
    if shutil.which("openssl") is None:
        pytest.skip("the TLS test needs the openssl command")

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-subj", "/CN=bocage test CA", "-keyout", "ca.key", "-out", "ca.crt")
    (folder / "server.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    for name in ("server", "client"):
        run("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN=bocage test {name}",
            "-keyout", f"{name}.key", "-out", f"{name}.csr")
        extra = ["-extfile", "server.ext"] if name == "server" else []
        run("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-out", f"{name}.crt", *extra)
    return {name: folder / name for name in ("ca.crt", "server.crt", "server.key",
                                             "client.crt", "client.key")}


@contextlib.contextmanager
def tls_broker(folder: Path) -> Iterator[tuple[int, dict[str, Path]]]:
    """A private Mosquitto on a free port that speaks only TLS and wants a client
    certificate; yields (port, certificate files)."""
    if shutil.which("mosquitto") is None:
        unavailable_binary = "the TLS test needs the mosquitto binary"
        if os.environ.get("CI"):
            pytest.fail(unavailable_binary + " [CI is set: not skipping]", pytrace=False)
        pytest.skip(unavailable_binary)
    certs = make_certificates(folder)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    conf = folder / "mosquitto.conf"
    # as root, Mosquitto would drop to its own user, who cannot read the test's files
    conf.write_text(f"user {getpass.getuser()}\nlistener {port} 127.0.0.1\nallow_anonymous true\n"
                    f"cafile {certs['ca.crt']}\ncertfile {certs['server.crt']}\n"
                    f"keyfile {certs['server.key']}\nrequire_certificate true\n")
    log = folder / "mosquitto.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=out,
                                stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"mosquitto did not start:\n{log.read_text()}") from None
                time.sleep(0.05)
        yield port, certs
    finally:
        proc.terminate()
        proc.wait(timeout=10)
