"""Kill test over MQTT: uplinks published with QoS 1, bocage SIGKILLed mid-stream, restarted.

bocage acknowledges a message only once it is committed, so the broker keeps
every message bocage had not acknowledged when it died and delivers it again to
the restarted process (same client id, persistent session): every message the
broker accepted ends up stored exactly once, and drained into the entities.
Uses the shared broker with this run's own topic and client id.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time
from pathlib import Path

import httpx
import mqtt_broker
import orjson
import pytest
from bocage_process import start_bocage, stop_bocage

FIXTURES = Path(__file__).parent.parent / "connectors" / "fixtures"
DEVICES = [f"00000000000{n:05X}" for n in range(1, 9)]
# 600 uplinks published while bocage runs (killed once 200 are stored), then 400 while it is
# down: what waits for the restarted bocage (at most 800) must fit in the broker's queue for
# an offline session (Mosquitto's max_queued_messages, 1000 by default)
PER_DEVICE_RUNNING = 75
PER_DEVICE_DOWN = 50
KILL_AFTER = 200              # stored uplinks before the SIGKILL

pytestmark = pytest.mark.e2e


def test_every_published_uplink_survives_a_sigkill(tmp_path: Path) -> None:
    mqtt_broker.require()
    app = mqtt_broker.unique("bocage-kill")
    # durability under kill -9, not access control (tests/security): authentication off
    env = {"BOCAGE_AUTH": "off", "BOCAGE_CHIRPSTACK_MQTT_URL": mqtt_broker.URL,
           "BOCAGE_CHIRPSTACK_MQTT_TOPICS": f"application/{app}/device/+/event/+",
           "BOCAGE_CHIRPSTACK_MQTT_CLIENT_ID": app,
           "BOCAGE_MQTT_SESSION_EXPIRY": "600"}
    template = orjson.loads((FIXTURES / "chirpstack-v4" / "event-up.json").read_bytes())
    server = start_bocage("serve", tmp_path, env=env)
    publisher = mqtt_broker.Publisher()
    try:
        for eui in DEVICES:
            r = httpx.post(f"{server.base}/api/devices",
                           json={"devEui": eui, "model": "bocage-ps1"})
            assert r.status_code == 201, r.text
        mqtt_broker.wait_for(lambda: "bocage_ingest_mqtt_connected{connector=\"chirpstack\"} 1.0"
                             in httpx.get(f"{server.base}/metrics").text, what="subscribed")
        sent: list[str] = []

        def publish(first: int, last: int) -> None:
            for n in range(first, last + 1):
                for eui in DEVICES:
                    body = {**template, "deduplicationId": f"{app}-{eui}-{n}", "fCnt": n,
                            "deviceInfo": {**template["deviceInfo"], "devEui": eui},
                            "time": f"2026-11-26T{n // 3600:02d}:{n // 60 % 60:02d}:"
                                    f"{n % 60:02d}Z",
                            "data": "qg==" if n % 2 else "Kg=="}
                    publisher.publish(f"application/{app}/device/{eui}/event/up",
                                      orjson.dumps(body))
                    sent.append(body["deduplicationId"])

        thread = threading.Thread(target=publish, args=(1, PER_DEVICE_RUNNING))
        thread.start()
        mqtt_broker.wait_for(lambda: stored(tmp_path) >= KILL_AFTER, timeout=60,
                             what=f"{KILL_AFTER} uplinks stored")
        os.kill(server.proc.pid, signal.SIGKILL)
        server.proc.wait()
        at_kill = stored(tmp_path)
        thread.join()  # the broker goes on taking (and keeping) the rest
        last = PER_DEVICE_RUNNING + PER_DEVICE_DOWN
        publish(PER_DEVICE_RUNNING + 1, last)  # bocage is down: the broker keeps them
        assert at_kill < len(sent)

        server = start_bocage("serve", tmp_path, env=env, log_name="serve-restarted.log")
        mqtt_broker.wait_for(lambda: stored(tmp_path) >= len(sent), timeout=120,
                             what=f"every published uplink stored ({len(sent)}; "
                                  f"{at_kill} at the kill)")
        keys = keys_stored(tmp_path)
        assert len(keys) == len(set(keys)) == len(sent)
        assert {k.removeprefix("chirpstack:up:") for k in keys} == set(sent)
        deadline = time.monotonic() + 60
        while True:
            spots = [httpx.get(f"{server.base}/ngsi-ld/v1/entities/"
                               f"urn:ngsi-ld:ParkingSpot:{eui}").json() for eui in DEVICES]
            if all(s.get("status", {}).get("observedAt") == "2026-11-26T00:02:05.000Z"
                   for s in spots):
                break
            assert time.monotonic() < deadline, f"not drained: {spots[0]}"
            time.sleep(0.2)
        assert all(s["status"]["value"] == "occupied" for s in spots)  # n = 125 is odd
    finally:
        publisher.close()
        stop_bocage(server.proc)
        mqtt_broker.forget_session(app)


def keys_stored(data: Path) -> list[str]:
    with sqlite3.connect(data / "inbox.db") as conn:
        return [k for (k,) in conn.execute("SELECT dedup_key FROM records")]


def stored(data: Path) -> int:
    if not (data / "inbox.db").exists():
        return 0
    try:
        with sqlite3.connect(data / "inbox.db") as conn:
            return int(conn.execute("SELECT count(*) FROM records").fetchone()[0])
    except sqlite3.OperationalError:  # the table is not created yet
        return 0
