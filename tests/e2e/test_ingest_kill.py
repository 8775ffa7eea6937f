"""Kill test: uplinks stream in, the server is killed with SIGKILL mid-stream, restarted.

Every uplink that was acknowledged (202) must be in the inbox exactly once after
the restart, and the pipeline must drain all of them into the entities.
"""

from __future__ import annotations

import copy
import os
import signal
import sqlite3
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from bocage_process import start_bocage, stop_bocage

FIXTURES = Path(__file__).parent.parent / "connectors" / "fixtures"
SECRET = "kill-test-secret"
HEADERS = {"Authorization": f"Bearer {SECRET}"}
DEVICES = [f"00000000000{n:05X}" for n in range(1, 17)]
PER_DEVICE = 150              # 2,400 uplinks in all
KILL_AFTER = 600              # acknowledged uplinks before the SIGKILL

pytestmark = pytest.mark.e2e


def uplink(eui: str, n: int) -> dict[str, Any]:
    body: dict[str, Any] = copy.deepcopy(
        orjson.loads((FIXTURES / "chirpstack-v4" / "event-up.json").read_bytes()))
    body["deduplicationId"] = str(uuid.uuid4())
    body["deviceInfo"]["devEui"] = eui
    body["fCnt"] = n
    body["time"] = f"2026-11-26T{n // 3600:02d}:{n // 60 % 60:02d}:{n % 60:02d}Z"
    body["data"] = "qg==" if n % 2 else "Kg=="  # occupied / free, battery 42 %
    return body


def test_every_acknowledged_uplink_survives_a_sigkill(tmp_path: Path) -> None:
    # durability under kill -9, not access control (tests/security): authentication off
    env = {"BOCAGE_AUTH": "off", "BOCAGE_CHIRPSTACK_SECRET": SECRET}
    server = start_bocage("serve", tmp_path, env=env)
    try:
        for eui in DEVICES:
            r = httpx.post(f"{server.base}/api/devices",
                           json={"devEui": eui, "model": "bocage-ps1"})
            assert r.status_code == 201, r.text
        acked: dict[str, tuple[str, int]] = {}   # dedup id -> (devEui, fCnt)
        lock = threading.Lock()
        killed = threading.Event()
        errors: list[str] = []

        def send(euis: list[str]) -> None:
            with httpx.Client(base_url=server.base, headers=HEADERS, timeout=10) as client:
                for n in range(1, PER_DEVICE + 1):
                    for eui in euis:
                        body = uplink(eui, n)
                        try:
                            r = client.post("/ingest/chirpstack?event=up", json=body)
                        except httpx.TransportError as exc:
                            if not killed.is_set():
                                errors.append(f"the server failed before the kill: {exc}")
                            return
                        if r.status_code != 202:
                            errors.append(f"{r.status_code} {r.text}")
                            return
                        with lock:
                            acked[body["deduplicationId"]] = (eui, n)

        senders = [threading.Thread(target=send, args=(DEVICES[i::4],)) for i in range(4)]
        for t in senders:
            t.start()
        while len(acked) < KILL_AFTER and any(t.is_alive() for t in senders):
            time.sleep(0.005)
        killed.set()
        os.kill(server.proc.pid, signal.SIGKILL)
        server.proc.wait()
        for t in senders:
            t.join()
        assert errors == []
        assert KILL_AFTER <= len(acked) < len(DEVICES) * PER_DEVICE, "not killed mid-stream"

        # restart on the same data: what the previous run left is drained
        server = start_bocage("serve", tmp_path, env=env, log_name="serve-restarted.log")
        stored = inbox_records(tmp_path)
        keys = [key for key, _ in stored]
        assert len(keys) == len(set(keys))
        stored_ids = {key.removeprefix("chirpstack:up:") for key in keys}
        assert set(acked) <= stored_ids, "an acknowledged uplink was lost"
        # the latest stored reading of each device ends up on its entities
        latest: dict[str, int] = {}
        for _, record in stored:
            latest[record["devEui"]] = max(latest.get(record["devEui"], 0), record["fCnt"])
        expected = {eui: uplink(eui, n)["time"].replace("Z", ".000Z")
                    for eui, n in latest.items()}
        deadline = time.monotonic() + 60
        while True:
            seen = {eui: last_reported(server.base, eui) for eui in expected}
            if seen == expected:
                break
            assert time.monotonic() < deadline, f"not drained: {seen} != {expected}"
            time.sleep(0.2)
        for eui, n in latest.items():
            spot = httpx.get(f"{server.base}/ngsi-ld/v1/entities/"
                             f"urn:ngsi-ld:ParkingSpot:{eui}").json()
            assert spot["status"]["value"] == ("occupied" if n % 2 else "free")
        assert httpx.get(f"{server.base}/api/dead-letters").json() == []
    finally:
        stop_bocage(server.proc)
    # after a clean stop the processed marker is past every record
    with sqlite3.connect(tmp_path / "inbox.db") as conn:
        processed = conn.execute("SELECT processed FROM marker").fetchone()[0]
        last = conn.execute("SELECT max(seq) FROM records").fetchone()[0]
    assert processed == last


def inbox_records(data: Path) -> list[tuple[str, dict[str, Any]]]:
    with sqlite3.connect(data / "inbox.db") as conn:
        rows = conn.execute("SELECT dedup_key, body FROM records ORDER BY seq").fetchall()
    return [(key, orjson.loads(body)) for key, body in rows]


def last_reported(base: str, eui: str) -> str | None:
    r = httpx.get(f"{base}/ngsi-ld/v1/entities/urn:ngsi-ld:Device:{eui}")
    if r.status_code != 200:
        return None
    value: str | None = r.json().get("dateLastValueReported", {}).get("value")
    return value
