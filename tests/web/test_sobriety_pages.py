"""The sobriety panel and /api/sobriety, on both backends, after real uplinks."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient

from bocage.api.app import create_app
from bocage.api.sobriety import Process, per_thousand, read_process
from bocage.domain.access import ROOT, Grant
from bocage.settings import Settings
from bocage.storage.base import Store
from bocage.web.i18n import Translator
from bocage.web.sobriety_pages import duration, size

UP = orjson.loads((Path(__file__).parents[1] / "connectors" / "fixtures" /
                   "chirpstack-v4/event-up.json").read_bytes())
CS = {"Authorization": "Bearer cs-secret"}
EPCI = "/FR/01/240100883"
EUI = "A0A0A0A0A0A0A0A2"


def uplink(n: int, port: int = 1) -> dict[str, Any]:
    body = copy.deepcopy(UP)
    body["deduplicationId"] = f"up-{n}"
    body["deviceInfo"]["devEui"] = EUI.lower()
    body["fPort"], body["fCnt"] = port, n
    body["time"] = f"2026-11-26T08:{n:02d}:00Z"
    body["data"] = "qg==" if n % 2 else "AA=="
    return body


@pytest.fixture
def world(settings: Settings, store: Store) -> Iterator[dict[str, Any]]:
    app = create_app(settings.replace(chirpstack_secret="cs-secret"), store)
    security = app.state.security

    def client(*grants: tuple[str, str]) -> TestClient:
        headers = {}
        if grants:
            _, key = security.create_key([Grant(r, s) for r, s in grants], name="t", by="t")
            headers = {"Authorization": f"Bearer {key}"}
        return TestClient(app, raise_server_exceptions=False, headers=headers)

    with client(("admin", ROOT)) as root:
        r = root.post("/api/devices", json={"devEui": EUI, "model": "bocage-ps1",
                                            "scope": EPCI + "/01004"})
        assert r.status_code == 201, r.text
        for n in range(6):
            assert root.post("/ingest/chirpstack?event=up", json=uplink(n),
                             headers=CS).status_code == 202
        root.post("/ingest/chirpstack?event=up", json=uplink(2), headers=CS)  # a duplicate
        root.post("/ingest/chirpstack?event=up", json=uplink(40, port=99), headers=CS)
        assert app.state.ingestion.wait_idle(10.0)
        yield {"root": root, "elu": client(("elu", EPCI)),
               "agent": client(("agent", EPCI + "/01004")), "anonymous": client()}


def test_the_figures_as_json(world: dict[str, Any]) -> None:
    r = world["root"].get("/api/sobriety")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["devices"] == 1
    assert body["messages"] == 7 and body["duplicatesDropped"] == 1
    assert body["messagesPerDay"][-1]["messages"] == 7 and len(body["messagesPerDay"]) == 14
    assert body["deadLetters"] == {"open": 1, "replayed": 0}
    readings = body["readings"]
    # six uplinks of the parking sensor: its spot's status changed each time, and more
    assert readings["collected"] >= 6 and readings["raw"] == readings["collected"]
    assert body["bytes"]["perRawReading"] > 10 and body["bytes"]["database"] > 0
    assert body["bytes"]["inbox"] > 0
    process = body["process"]
    assert process["rssBytes"] > 10_000_000 and process["cpuSeconds"] > 0
    assert process["rssBytesPer1000Devices"] == process["rssBytes"] * 1000


def test_admins_and_elected_officials_read_them_others_do_not(world: dict[str, Any]) -> None:
    assert world["elu"].get("/api/sobriety").status_code == 200
    assert world["agent"].get("/api/sobriety").status_code == 403
    assert world["anonymous"].get("/api/sobriety").status_code == 401
    page = world["elu"].get("/ui/sobriete")
    assert page.status_code == 200
    assert "Sobriété numérique" in page.text and "Doublons écartés" in page.text
    assert 'href="/ui/sobriete"' in page.text  # in the navigation
    refused = world["agent"].get("/ui/sobriete")
    assert refused.status_code == 403 and "réservé aux administrateurs et aux élus" in refused.text
    assert 'href="/ui/sobriete"' not in refused.text
    assert world["anonymous"].get("/ui/sobriete").status_code == 403


def test_the_panel_in_both_languages(world: dict[str, Any]) -> None:
    fr = world["root"].get("/ui/sobriete")
    assert "relevés collectés" in fr.text and "Bruts, récents" in fr.text
    assert "1 ouvertes, 0 rejouées" in fr.text
    en = world["root"].get("/ui/sobriete", params={"lang": "en"})
    assert "Digital sobriety" in en.text and "Duplicates dropped" in en.text


# ------------------------------------------------------------------ pure parts

def test_sizes_durations_and_ratios_in_words() -> None:
    fr, en = Translator("fr"), Translator("en")
    assert size(fr, 12_345_678) == "12,3\u00a0Mo" and size(en, 12_345_678) == "12.3\u00a0MB"
    assert size(fr, 999) == "999\u00a0o" and size(fr, None) == "–"
    assert size(en, 3.5) == "3.5\u00a0B"
    assert duration(fr, 42) == "42 s" and duration(fr, 3 * 3600 + 5 * 60) == "3 h 05 min"
    assert duration(en, 2 * 86_400 + 4 * 3600) == "2 d 4 h"
    assert per_thousand(50.0, 2000) == 25.0 and per_thousand(1.0, 0) is None
    assert Process(10.0, 0, 1000.0).cpu_share == 0.01 and Process(1.0, 0, 0).cpu_share is None


def test_the_process_reads_itself(tmp_path: Path) -> None:
    me = read_process()
    assert me.rss_bytes > 1_000_000 and me.cpu_seconds > 0 and me.uptime_seconds > 0
    without_proc = read_process(tmp_path / "nothing")  # another system: the peak RSS
    assert without_proc.rss_bytes > 1_000_000


def test_stats_show_compression_once_compacted(world: dict[str, Any]) -> None:
    app = world["root"].app
    assert app.state.ingestion.pipeline.store.compact(2**50) > 0
    body = world["root"].get("/api/stats").json()  # /api/sobriety under its issue's name
    assert body["readings"]["compacted"] >= 6
    ratio = body["bytes"]["compressionRatio"]  # raw rows written since (alarms) or none
    assert ratio is None if body["readings"]["raw"] == 0 else ratio > 1
    assert world["agent"].get("/api/stats").status_code == 403


def test_bocage_stats_on_the_command_line(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from bocage.cli import app as cli
    from bocage.ngsild import mutations as mut
    from bocage.storage.base import Mutation
    from bocage.storage.sqlite import SQLiteStore

    db = tmp_path / "bocage.db"
    store = SQLiteStore(db)
    co2 = "https://smartdatamodels.org/dataModel.Environment/co2"
    for n in range(50):
        at = f"2026-11-26T08:{n:02d}:00Z"
        store.apply("", [Mutation("urn:ngsi-ld:Sensor:1", mut.merge(
            {"id": "urn:ngsi-ld:Sensor:1", "type": ["https://example.org/Sensor"],
             co2: [{"type": "Property", "value": 400 + n, "observedAt": at}]}, at,
            upsert=True))])
    store.compact(2**50)
    for n in range(50, 60):  # a raw tail beside the chunks
        at = f"2026-11-26T08:{n:02d}:00Z"
        store.apply("", [Mutation("urn:ngsi-ld:Sensor:1", mut.merge(
            {"id": "urn:ngsi-ld:Sensor:1", co2: [{"type": "Property", "value": 400 + n,
                                                  "observedAt": at}]}, at))])
    store.close()
    env = {"BOCAGE_DATABASE_URL": f"sqlite:///{db}"}
    done = CliRunner().invoke(cli, ["stats", "--json"], env=env)
    assert done.exit_code == 0, done.output
    body = orjson.loads(done.output)
    assert body["readings"]["compacted"] == 50 and body["readings"]["raw"] == 10
    assert body["bytes"]["compressionRatio"] > 1  # a raw reading costs more (whole pages here)
    text = CliRunner().invoke(cli, ["stats"], env=env)
    assert text.exit_code == 0 and "readings collected   60" in text.output
    assert "compression x" in text.output
