"""A simulated hour, run fast through the real inbox and pipeline, shows its incidents."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from bocage.api.app import create_app
from bocage.ingest.deadletters import DeadLetterQuery
from bocage.settings import Settings
from bocage.simulator import scenario as sc
from bocage.simulator import simulation
from bocage.simulator.environment import river_height
from bocage.simulator.profiles import World
from bocage.simulator.runner import Clock, LiveRun
from bocage.simulator.schedule import Schedule
from bocage.simulator.sinks import InProcessSink
from bocage.storage.sqlite import SQLiteStore

START = 1_773_133_200.0  # Tuesday 2026-03-10 09:00 UTC (10:00 in France: lessons)
OPTIONS = simulation.Options(epci=("200029999",), seed=1)  # 14 communes, Pont-d'Ain first


@pytest.fixture
def app(tmp_path: Path) -> Iterator[TestClient]:
    store = SQLiteStore(str(tmp_path / "bocage.db"))
    settings = Settings(database_url=f"sqlite:///{tmp_path}/bocage.db", auth="off")
    with TestClient(create_app(settings, store)) as client:
        yield client
    store.close()


def entities(client: TestClient, type_: str, q: str | None = None) -> list[dict[str, Any]]:
    params = {"type": type_, "limit": "1000", **({"q": q} if q else {})}
    r = client.get("/ngsi-ld/v1/entities", params=params)
    assert r.status_code == 200, r.text
    out: list[dict[str, Any]] = r.json()
    return out


def test_one_accelerated_hour_produces_the_scripted_incidents(app: TestClient) -> None:
    ingestion = app.app.state.ingestion  # type: ignore[attr-defined]
    store = ingestion.pipeline.store
    territory = simulation.build_territory(OPTIONS)
    simulation.seed(store, ingestion.pipeline.terms, ingestion.catalogue, territory,
                    simulation.now_iso)
    scenario = sc.scripted(territory, START)
    incidents = {i.kind: i for i in scenario.incidents}
    assert {sc.LEAK, sc.LAMP, sc.BIN_FULL, sc.CO2, sc.BATTERY} <= set(incidents)
    schedule = Schedule(territory.devices, 1, START, prime=20,
                        alarms=[(i.at, i.dev_eui) for i in scenario.incidents])
    sink = InProcessSink(ingestion)
    # the clock runs 36,000 x faster than the wall: the simulated hour lasts 0.1 s
    run = LiveRun(schedule, World.of(1, scenario), simulation.encoders(ingestion.codecs),
                  sink, Clock(START, time.time(), 36_000.0), tick=0.02, end=START + 3600)
    run.start()
    run.join(timeout=60)
    assert not run.is_alive(), "the simulated hour did not complete in a minute"
    assert START + 3600 < schedule.next_time() < START + 3700
    assert ingestion.wait_idle(120)
    assert sink.counts.sent == sink.counts.acknowledged > len(territory.devices)

    def asset(kind: str) -> str:
        eui = incidents[kind].dev_eui
        return next(d.asset_id for d in territory.devices if d.dev_eui == eui)

    leaking = entities(app, "WaterConsumptionObserved", "alarmFlowPersistence==true")
    assert [e["id"] for e in leaking] == [asset(sc.LEAK)]
    failed = entities(app, "Streetlight", 'status=="defectiveLamp"')
    assert asset(sc.LAMP) in [e["id"] for e in failed]
    full = {e["id"]: e for e in entities(app, "WasteContainer", "fillingLevel>=0.99")}
    assert asset(sc.BIN_FULL) in full
    peaks = entities(app, "IndoorEnvironmentObserved", "co2>2000")
    assert [e["id"] for e in peaks] == [asset(sc.CO2)]
    lessons = entities(app, "IndoorEnvironmentObserved", "co2>900")
    assert len(lessons) > len(territory.devices_of("classroom")) // 2  # class in session
    low = app.get(f"/ngsi-ld/v1/entities/urn:ngsi-ld:Device:{incidents[sc.BATTERY].dev_eui}")
    assert low.json()["batteryLevel"]["value"] <= 0.07
    dead = ingestion.inbox.dead_letters(DeadLetterQuery())
    misconfigured = next(d.dev_eui for d in territory.devices if d.sends_as)
    assert dead and {d.record.dev_eui for d in dead} == {misconfigured}
    assert {d.reason for d in dead} == {"unsupported-fport"}
    if sc.FLOOD in incidents:  # this build has the river level model
        gauge = next(d for d in territory.devices if d.dev_eui == incidents[sc.FLOOD].dev_eui)
        level = app.get(f"/ngsi-ld/v1/entities/{gauge.asset_id}").json()["currentLevel"]
        before = river_height(gauge, START, 1, None)
        assert level["value"] > before + 0.2  # 30 minutes into the flood
    if sc.SILENT in incidents:  # a camera went silent 20 minutes in
        cam = app.get(f"/ngsi-ld/v1/entities/urn:ngsi-ld:Device:{incidents[sc.SILENT].dev_eui}")
        last = cam.json()["dateLastValueReported"]["value"]
        assert last < "2026-03-10T09:20:00"
        assert cam.json()["scope"].startswith("/FR/01/")
    # the rest of the territory is alive: every healthy device reported
    lights = entities(app, "Streetlight", "powerState")
    assert len(lights) == len(territory.devices_of("streetlight"))


def test_an_accelerated_clock_catches_up_with_real_time_and_never_passes_it() -> None:
    wall = 1_800_000_000.0
    clock = Clock(wall - 3600, wall, speed=60.0)
    assert clock.now(wall) == wall - 3600
    assert clock.now(wall + 30) == wall - 3600 + 1800  # 60 x faster while behind
    assert clock.now(wall + 60) == wall  # an hour behind at start, 59 s gained per second
    assert clock.now(wall + 62) == wall + 62  # caught up (after 61 s): follows the wall
    assert clock.now(wall + 600) == wall + 600
    assert Clock(wall, wall, 1.0).now(wall + 5) == wall + 5
    assert Clock(wall, wall, 0.5).now(wall + 10) == wall + 5  # slow motion stays behind
