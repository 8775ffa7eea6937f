"""A notification queued while its receiver is down survives a restart of bocage."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from bocage_process import running_bocage
from receivers import free_port, http_receiver

# notifications across restarts, not access control (tests/security): authentication off
AUTH_OFF = {"BOCAGE_AUTH": "off"}


def test_queued_before_restart_delivered_after(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOCAGE_NOTIFICATION_RETRY_BASE", "0.2")
    monkeypatch.setenv("BOCAGE_NOTIFICATION_RETRY_MAX", "1")
    port = free_port()  # the receiver is down for the whole first run
    with running_bocage("serve", tmp_path, env=AUTH_OFF) as base:
        api = f"{base}/ngsi-ld/v1"
        r = httpx.post(f"{api}/subscriptions", json={
            "type": "Subscription", "entities": [{"type": "Streetlight"}],
            "notification": {"endpoint": {"uri": f"http://127.0.0.1:{port}/lights"}}})
        assert r.status_code == 201, r.text
        sub = base + r.headers["Location"]
        r = httpx.post(f"{api}/entities", json={
            "id": "urn:ngsi-ld:Streetlight:e2e", "type": "Streetlight",
            "powerState": {"type": "Property", "value": "off"}})
        assert r.status_code == 201, r.text
        deadline = time.monotonic() + 20
        while httpx.get(sub).json()["notification"]["timesFailed"] < 1:
            assert time.monotonic() < deadline, "the failing delivery was never attempted"
            time.sleep(0.1)
    with http_receiver(port) as receiver, running_bocage("serve", tmp_path, env=AUTH_OFF) as base:
        [got] = receiver.wait_for(1, timeout=20)
        assert got.path == "/lights"
        assert got.body["data"][0]["id"] == "urn:ngsi-ld:Streetlight:e2e"
        deadline = time.monotonic() + 10
        while (note := httpx.get(sub.replace(sub.split("/ngsi-ld")[0], base)).json()[
                "notification"])["timesSent"] < 2:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert note["status"] == "ok" and note["timesFailed"] >= 1
