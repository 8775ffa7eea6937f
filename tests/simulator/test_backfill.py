"""--history: the past is sent through the inbox in batches, at most one reading an hour."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from bocage.api.app import create_app
from bocage.settings import Settings
from bocage.simulator import simulation
from bocage.simulator.profiles import World
from bocage.simulator.runner import backfill
from bocage.simulator.scenario import Scenario
from bocage.simulator.sinks import InProcessSink
from bocage.storage.sqlite import SQLiteStore

START = 1_773_133_200.0  # 2026-03-10T09:00Z


def test_parse_duration() -> None:
    assert [simulation.parse_duration(x) for x in ("30d", "12h", "90m", "45s", "1.5h")] == [
        2_592_000, 43_200, 5_400, 45, 5_400]
    with pytest.raises(ValueError, match="expected a number and s, m, h or d"):
        simulation.parse_duration("3 weeks")


def test_backfill_sends_the_past_hour_by_hour(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "bocage.db"))
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path}/bocage.db", auth="off"), store)
    ingestion = app.state.ingestion
    try:
        territory = simulation.build_territory(simulation.Options(epci=("200029999",)))
        simulation.seed(store, ingestion.pipeline.terms, ingestion.catalogue, territory,
                        simulation.now_iso)
        covered: list[float] = []
        sink = InProcessSink(ingestion)
        n = backfill(territory, World(1, Scenario(START)),
                     simulation.encoders(ingestion.codecs), sink, START - 3 * 3600, START,
                     progress=covered.append)
        assert covered == [3600.0] * 3
        # every device once an hour (intervals are <= 1 h), silent ones excepted
        assert 3 * (len(territory.devices) - 1) <= n <= 3 * len(territory.devices)
        assert sink.counts.acknowledged == n
        assert ingestion.wait_idle(120)
        light = territory.devices_of("streetlight")[0]
        got = store.get("", light.asset_id)
        assert got is not None
        stamps = [i["observedAt"] for k, v in got.items() if k.endswith("powerState")
                  for i in v]
        assert stamps and all("2026-03-10T0" in s for s in stamps)  # in the past hours
        # and every reading went to the attribute history (the temporal API)
        meter = territory.devices_of("water")[0]
        with TestClient(app) as client:
            r = client.get(f"/ngsi-ld/v1/temporal/entities/{meter.asset_id}", params={
                "attrs": "waterConsumption", "timerel": "after",
                "timeAt": "2026-03-01T00:00:00Z"})
        assert r.status_code == 200, r.text
        values = [i["value"] for i in r.json()["waterConsumption"]]
        assert len(values) == 3 and values == sorted(values)
    finally:
        ingestion.close()
        store.close()
