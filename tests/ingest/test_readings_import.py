"""``bocage import-readings``: CSV readings through the pipeline, whole file or nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import entity
from starlette.testclient import TestClient
from typer.testing import CliRunner

from bocage.cli import app as cli
from bocage.ingest.readings_csv import parse_readings, parse_value
from bocage.ingest.readings_import import ReadingsRejected, Summary, import_readings

METER = "70B3D57ED0000001"
NOW = "2026-11-02T10:00:00.000Z"
WATER = f"urn:ngsi-ld:WaterConsumptionObserved:{METER}"


def _import(api: TestClient, text: str) -> Summary:
    ing = api.app.state.ingestion  # type: ignore[attr-defined]
    terms = api.app.state.services.contexts.core_term_map  # type: ignore[attr-defined]
    return import_readings(ing.pipeline.store, text.encode(), "readings.csv", ing.catalogue,
                           ing.codecs, terms, lambda: NOW)


def _register(api: TestClient) -> None:
    r = api.post("/api/devices", json={"devEui": METER, "model": "bocage-wm1",
                                        "name": "Compteur école"})
    assert r.status_code == 201, r.text


def _snapshot(api: TestClient) -> list[Any]:
    r = api.get("/ngsi-ld/v1/entities",
                params={"type": "Device,WaterConsumptionObserved", "limit": 100})
    assert r.status_code == 200
    return sorted(r.json(), key=lambda e: e["id"])


def test_readings_land_like_decoded_uplinks(api: TestClient) -> None:
    _register(api)
    summary = _import(api, (
        "devEui,time,key,value\n"
        f"{METER.lower()},2026-11-01T07:30:00+01:00,index,1523.456\n"
        f"{METER},2026-11-01T07:30:00+01:00,battery,97\n"
        f"{METER},2026-11-02T07:30:00+01:00,waterConsumption,1524.1\n"  # by attribute name
        f"{METER},2026-11-02T07:30:00+01:00,leak,true\n"))
    assert summary == Summary(readings=2, devices=1, lines=4)
    water = entity(api, WATER)
    assert water["waterConsumption"] == {"type": "Property", "value": 1524.1,
                                         "unitCode": "MTQ",
                                         "observedAt": "2026-11-02T06:30:00.000Z"}
    assert water["alarmFlowPersistence"]["value"] is True
    device = entity(api, f"urn:ngsi-ld:Device:{METER}")
    assert device["batteryLevel"]["value"] == pytest.approx(0.97)
    assert device["batteryLevel"]["observedAt"] == "2026-11-01T06:30:00.000Z"
    # the same file again changes nothing
    before = _snapshot(api)
    _import(api, "devEui,time,key,value\n"
                 f"{METER},2026-11-01T07:30:00+01:00,index,1523.456\n")
    assert entity(api, WATER)["waterConsumption"]["value"] == 1524.1  # older: not applied
    assert _snapshot(api) == before


def test_a_semicolon_file_with_decimal_commas(api: TestClient) -> None:
    _register(api)
    _import(api, "\ufefftime;devEui;value;key\r\n"
                 f"2026-11-01T07:30:00Z;{METER};1523,5;index\r\n")
    assert entity(api, WATER)["waterConsumption"]["value"] == 1523.5


def test_a_bad_file_is_refused_whole_with_every_line_said(api: TestClient) -> None:
    _register(api)
    _import(api, f"devEui,time,key,value\n{METER},2026-11-01T07:30:00Z,index,10\n")
    before = _snapshot(api)
    with pytest.raises(ReadingsRejected) as err:
        _import(api, (
            "devEui,time,key,value\n"
            f"{METER},2026-11-03T07:30:00Z,index,11\n"           # fine on its own
            f"{METER},2026-11-03T08:30:00Z,flow,99999\n"         # beyond 20000 L/h
            "00000000000000FF,2026-11-03T07:30:00Z,index,1\n"    # not in the catalogue
            f"{METER},2026-11-03T09:30:00Z,temperature,4\n"      # not a quantity of wm1
            f"{METER},demain,index,12\n"
            f"{METER},2026-11-03T10:30:00Z,index,\n"
            "70B3,2026-11-03T07:30:00Z,index,1\n"
            f"{METER},2026-11-03T07:30:00Z,index,13\n"           # contradicts line 2
            f"{METER},2026-11-03T07:30:00Z\n"))
    said = {e.line: e.message for e in err.value.errors}
    assert sorted(said) == [3, 4, 5, 6, 7, 8, 9, 10]
    assert said[3].startswith("out-of-range: flow = 99999")
    assert said[4].startswith("unknown-device")
    assert "temperature" in said[5] and "index" in said[5]
    assert "time" in said[6] and "value is empty" in said[7]
    assert "16 hex digits" in said[8] and "already given, differently, on line 2" in said[9]
    assert "2 cells" in said[10]
    assert _snapshot(api) == before


@pytest.mark.parametrize("text,message", [
    ("", "empty"),
    ("eui,when,what,value\n", "the header must be devEui,time,key,value"),
    ("devEui,time,key,value\n", "no readings"),
])
def test_files_that_are_not_readings(text: str, message: str) -> None:
    readings, errors = parse_readings(text.encode())
    assert readings == [] and message in str(errors[0])


def test_values() -> None:
    assert parse_value("12") == 12 and parse_value("-1.5e3") == -1500.0
    assert parse_value("12,5", decimal_comma=True) == 12.5
    assert parse_value("12,5") == "12,5"
    assert parse_value("true") is True and parse_value("on") == "on"
    with pytest.raises(ValueError, match="empty"):
        parse_value(" ")


def test_cli_import_readings(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"BOCAGE_DATABASE_URL": f"sqlite:///{tmp_path}/bocage.db"}
    assert runner.invoke(cli, ["devices", "add", METER, "bocage-wm1"], env=env).exit_code == 0
    good = tmp_path / "releves.csv"
    good.write_text(f"devEui,time,key,value\n{METER},2026-11-01T07:30:00Z,index,10\n")
    r = runner.invoke(cli, ["import-readings", str(good)], env=env)
    assert r.exit_code == 0, r.output
    assert "1 reading(s) of 1 device(s) imported (1 line(s))" in r.output
    bad = tmp_path / "bad.csv"
    bad.write_text(f"devEui,time,key,value\n{METER},2026-11-01T07:30:00Z,flow,-1\n")
    r = runner.invoke(cli, ["import-readings", str(bad)], env=env)
    assert r.exit_code == 1
    assert f"{bad}:2: out-of-range: flow = -1" in r.output
    assert "nothing was imported" in r.output
