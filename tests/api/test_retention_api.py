"""Retention policies through /api/retention-policies (both backends) and the CLI."""

from __future__ import annotations

from pathlib import Path

from starlette.testclient import TestClient
from typer.testing import CliRunner

from bocage.cli import app as cli

URL = "/api/retention-policies"


def test_list_set_and_delete_policies(client: TestClient) -> None:
    r = client.get(URL)
    assert r.status_code == 200
    body = r.json()
    assert body["policies"] == []
    assert {"entityType": "WaterMeter", "attribute": None, "scope": None, "rawDays": 1095,
            "hourlyDays": 1825, "dailyDays": None} in body["defaults"]
    longer = {"entityType": "WaterMeter", "attribute": None, "scope": "/FR/01",
              "rawDays": 2000, "hourlyDays": 3000, "dailyDays": None}
    r = client.put(URL, json=longer)
    assert r.status_code == 200, r.text
    assert client.get(URL).json()["policies"] == [longer]
    # shortening what applies now needs an explicit confirmation
    shorter = {**longer, "rawDays": 30, "hourlyDays": 1825}
    r = client.put(URL, json=shorter)
    assert r.status_code == 400 and "raw_days" in r.json()["detail"]
    assert r.headers["content-type"] == "application/problem+json"
    assert client.get(URL).json()["policies"] == [longer]
    assert client.put(URL, params={"confirm": "true"}, json=shorter).status_code == 200
    assert client.get(URL).json()["policies"] == [shorter]
    # deleting falls back on the default (raw 1095 days): longer, no confirmation needed
    params = {"entityType": "WaterMeter", "scope": "/FR/01"}
    assert client.delete(URL, params=params).status_code == 204
    assert client.delete(URL, params=params).status_code == 404
    # a policy whose removal would shorten a window needs confirming too
    client.put(URL, json=longer)
    r = client.delete(URL, params=params)
    assert r.status_code == 400
    assert client.delete(URL, params={**params, "confirm": "true"}).status_code == 204


def test_bad_policies(client: TestClient) -> None:
    base = {"entityType": "X", "attribute": None, "scope": None,
            "rawDays": 10, "hourlyDays": 20, "dailyDays": None}
    for bad in ({**base, "rawDays": 0}, {**base, "hourlyDays": 5}, {**base, "scope": "FR"},
                {**base, "rawDays": -1}, {**base, "colour": "blue"}, {"entityType": "X"},
                {**base, "entityType": ""}):
        r = client.put(URL, json=bad)
        assert r.status_code == 400, bad
        assert r.json()["type"].endswith("BadRequestData")


def test_cli(tmp_path: Path) -> None:
    env = {"BOCAGE_DATABASE_URL": f"sqlite:///{tmp_path}/cli.db"}
    runner = CliRunner()
    r = runner.invoke(cli, ["retention", "set", "--type", "ParkingSpot", "--raw", "60",
                            "--hourly", "800"], env=env)
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["retention", "list"], env=env)
    assert "set\tParkingSpot\t*\t*\t60\t800\tforever" in r.output
    assert "default\tWaterMeter\t*\t*\t1095\t1825\tforever" in r.output
    r = runner.invoke(cli, ["retention", "set", "--type", "ParkingSpot", "--raw", "7"], env=env)
    assert r.exit_code == 1 and "confirm" in r.output
    r = runner.invoke(cli, ["retention", "set", "--type", "ParkingSpot", "--raw", "7",
                            "--yes"], env=env)
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["retention", "delete", "--type", "ParkingSpot"], env=env)
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["retention", "delete", "--type", "ParkingSpot"], env=env)
    assert r.exit_code == 1


def test_temporal_reads_over_the_tiers(client: TestClient, store: object) -> None:
    import time
    from typing import cast

    from bocage.domain.timefmt import from_ms
    from bocage.storage.history_base import HistoryStore
    from bocage.storage.retention_admin import in_force

    day = 86_400_000
    now = int(time.time() * 1000)
    base = now - 100 * day
    base -= base % day
    readings = [{"type": "Property", "value": n % 5, "observedAt": from_ms(base + n * 900_000)}
                for n in range(96)]
    eid = "urn:ngsi-ld:Device:tiers"
    r = client.post("/ngsi-ld/v1/temporal/entities",
                    json={"id": eid, "type": "Device", "batteryLevel": readings})
    assert r.status_code == 201, r.text
    h = cast(HistoryStore, store)
    while h.compact(now + 600_000):  # the POST stamped its records after "now"
        pass
    assert h.apply_retention(now, in_force(h)) == (1, 0)  # Device: raw 30 days, then hourly
    r = client.get(f"/ngsi-ld/v1/temporal/entities/{eid}")
    assert r.status_code == 200, r.text
    instances = r.json()["batteryLevel"]
    # the 96 readings rolled into 24 hourly buckets, each shown at its start with its mean
    hourly = [i for i in instances if i.get("bocage:summary", {}).get("tier") == "hourly"]
    assert len(hourly) == len(instances) == 24
    assert sum(i["bocage:summary"]["count"] for i in hourly) == 96
    assert hourly[0]["value"] == sum(n % 5 for n in range(4)) / 4
    r = client.get(f"/ngsi-ld/v1/temporal/entities/{eid}", params={
        "options": "aggregatedValues", "aggrMethods": "totalCount,sum",
        "aggrPeriodDuration": "P1D", "timerel": "between", "timeAt": from_ms(base),
        "endTimeAt": from_ms(base + day)})
    assert r.status_code == 200, r.text
    agg = r.json()["batteryLevel"]
    assert agg["totalCount"][0][0] == 96
    assert agg["sum"][0][0] == sum(n % 5 for n in range(96))
