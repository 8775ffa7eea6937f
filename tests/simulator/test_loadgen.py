"""`bocage simulate` against a real server: every uplink is counted once, as what it got."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from bocage.api.app import create_app
from bocage.settings import Settings
from bocage.simulator import loadgen
from bocage.storage.sqlite import SQLiteStore

SECRET = "load-secret"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, object]]:
    yield from serve(tmp_path, auth="off")


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[tuple[str, object]]:
    yield from serve(tmp_path, auth="on")


def serve(tmp_path: Path, auth: str) -> Iterator[tuple[str, object]]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    store = SQLiteStore(str(tmp_path / "bocage.db"))
    settings = Settings(database_url=f"sqlite:///{tmp_path}/bocage.db", auth=auth,
                        chirpstack_secret=SECRET)
    app = create_app(settings, store)
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None,
                                        access_log=False))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", app
    srv.should_exit = True
    thread.join(10)
    store.close()


def test_pick_devices_gives_distinct_healthy_devices() -> None:
    territories, devices = loadgen.pick_devices(500)
    assert len(devices) == len({d.dev_eui for d in devices}) == 500
    assert not any(d.sends_as for d in devices)
    assert {d.kind for d in devices} >= {"streetlight", "water", "bin"}
    assert len(territories) == 1 and territories[0].places[0].commune.departement == "01"


def test_load_run_counts_what_the_server_acknowledged(server: tuple[str, object]) -> None:
    base, app = server
    territories, devices = loadgen.pick_devices(60)
    created = loadgen.register(base, territories, devices)
    assert created == loadgen.register(base, territories, devices)  # idempotent
    report = asyncio.run(loadgen.run(devices, loadgen.HttpTarget(base, SECRET, 8),
                                     duration=3.0, interval=1.0))
    s = report.stats
    assert s.sent >= 60 * 2  # each device on a 1 s grid for 3 s
    assert s.sent == s.acknowledged + s.rejected + s.errors
    assert (s.acknowledged, s.rejected, s.errors, s.duplicates) == (s.sent, 0, 0, 0)
    assert s.unanswered == 0
    assert len(s.latencies) == s.sent and s.percentile(50) is not None
    out = report.to_json()
    assert out["statuses"] == {"202": s.sent} and out["generator_cpu_seconds"] > 0
    ingestion = app.state.ingestion  # type: ignore[attr-defined]
    assert ingestion.wait_idle(60)
    r = httpx.get(f"{base}/ngsi-ld/v1/entities", params={
        "type": "Device", "q": "dateLastValueReported", "count": "true", "limit": "0"})
    assert r.headers["NGSILD-Results-Count"] == "60"  # every device reported, decoded
    assert httpx.get(f"{base}/api/dead-letters").json() == []


def test_refused_uplinks_are_counted_as_rejected(server: tuple[str, object]) -> None:
    base, _ = server
    _, devices = loadgen.pick_devices(20)
    report = asyncio.run(loadgen.run(devices, loadgen.HttpTarget(base, "wrong", 4),
                                     duration=1.5, interval=1.0))
    s = report.stats
    assert s.sent > 0 and s.rejected == s.sent and s.acknowledged == 0
    assert s.statuses == {401: s.sent}


def test_a_server_with_authentication_needs_a_key_to_register(
        secured: tuple[str, object]) -> None:
    from bocage.domain.access import ROOT, Grant

    base, app = secured
    territories, devices = loadgen.pick_devices(10)
    with pytest.raises(RuntimeError, match="--api-key"):
        loadgen.register(base, territories, devices)
    security = app.state.security  # type: ignore[attr-defined]
    _, key = security.create_key([Grant("admin", ROOT)], name="load", by="test")
    assert loadgen.register(base, territories, devices, api_key=key) > 10
    report = asyncio.run(loadgen.run(devices, loadgen.HttpTarget(base, SECRET, 4),
                                     duration=2.0, interval=1.0))
    assert report.stats.acknowledged == report.stats.sent > 0
    assert app.state.ingestion.wait_idle(60)  # type: ignore[attr-defined]
    r = httpx.get(f"{base}/ngsi-ld/v1/entities", headers={"Authorization": f"Bearer {key}"},
                  params={"type": "Device", "q": "dateLastValueReported", "count": "true",
                          "limit": "0"})
    assert r.headers["NGSILD-Results-Count"] == "10"
