"""IRVE static + dynamic feeds -> EVChargingStation entities, from files and over HTTP."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from admin_client import admin_client
from irve_data import GYMNASE, dynamic_csv, state, static_csv, static_rows
from starlette.testclient import TestClient
from typer.testing import CliRunner

from bocage.api.app import create_app
from bocage.cli import app as cli
from bocage.irve import importer
from bocage.irve.poller import IrvePoller
from bocage.irve.source import SourceError, read_source
from bocage.settings import Settings
from bocage.storage.base import Store

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "schemas-fr"
NOW = "2026-11-02T07:05:00.000Z"
MAIRIE_ID = "urn:ngsi-ld:EVChargingStation:FRBCGP01004001"
GYM_ID = "urn:ngsi-ld:EVChargingStation:FRBCGP01004002"


@pytest.fixture
def api(settings: Settings, store: Store) -> Iterator[TestClient]:
    with admin_client(create_app(settings, store)) as c:
        yield c


def _import(api: TestClient, static: bytes, dynamic: bytes | None) -> importer.Summary:
    services = api.app.state.services  # type: ignore[attr-defined]
    # a system import, as the CLI and the poller run it: the store itself, not a caller's view
    raw = api.app.state.ingestion.pipeline.store  # type: ignore[attr-defined]
    return importer.run(raw, static, dynamic, services.contexts.core_term_map, NOW)


def _entity(api: TestClient, entity_id: str) -> dict[str, Any]:
    r = api.get(f"/ngsi-ld/v1/entities/{entity_id}")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _stations(api: TestClient) -> list[dict[str, Any]]:
    r = api.get("/ngsi-ld/v1/entities", params={"type": "EVChargingStation", "limit": 100})
    assert r.status_code == 200
    return sorted(r.json(), key=lambda e: e["id"])


def test_static_and_dynamic_make_stations(api: TestClient) -> None:
    dynamic = dynamic_csv([
        state("FRBCGE010040011", occupation="occupe"),
        state("FRBCGE010040012", at="2026-11-02T08:03:00+01:00"),
        state("FRBCGE010040021", etat="hors_service", occupation="inconnu"),
        state("FRZZZE999999999"),  # another network's point, in the national feed
    ])
    summary = _import(api, static_csv(), dynamic)
    assert summary == importer.Summary(stations=2, charging_points=3, updated=2, skipped=1)
    mairie = _entity(api, MAIRIE_ID)
    assert mairie["type"] == "EVChargingStation"
    assert mairie["name"]["value"] == "Place de la mairie"
    assert mairie["location"]["value"] == {"type": "Point", "coordinates": [5.3632, 45.9555]}
    assert mairie["address"]["value"] == {
        "streetAddress": "1 place de la Mairie 01400 Abergement", "addressCountry": "FR"}
    assert mairie["operator"]["value"] == "Opérateur Rural"
    assert mairie["network"]["value"] == "Réseau Bocage"
    assert mairie["contactPoint"]["value"] == {"email": "support@operateur.example",
                                               "telephone": "0474000000"}
    assert mairie["capacity"]["value"] == 2 and mairie["socketNumber"]["value"] == 4
    assert mairie["socketType"]["value"] == ["Type2", "Wall_Euro"]
    assert mairie["allowedVehicleType"]["value"] == ["car"]
    assert mairie["openingHours"]["value"] == "24/7"
    assert "chargeType" not in mairie
    # one of two points free; the latest report of the station is its observedAt
    assert mairie["availableCapacity"]["value"] == 1
    assert mairie["availableCapacity"]["observedAt"] == "2026-11-02T07:03:00.000Z"
    assert mairie["status"]["value"] == "working"
    gym = _entity(api, GYM_ID)
    assert gym["status"]["value"] == "outOfService" and gym["availableCapacity"]["value"] == 0
    assert gym["socketType"]["value"] == ["CCS/SAE", "CHAdeMO"]
    assert gym["chargeType"]["value"] == ["free"] and "operator" not in gym


@pytest.mark.parametrize("states,status,free", [
    ([("en_service", "occupe"), ("en_service", "reserve")], "full", 0),
    ([("hors_service", "inconnu"), ("en_service", "libre")], "withIncidence", 1),
    ([("inconnu", "inconnu"), ("en_service", "occupe")], "full", 0),
])
def test_station_status(api: TestClient, states: list[tuple[str, str]], status: str,
                        free: int) -> None:
    rows = [state(f"FRBCGE01004001{i + 1}", etat, occ) for i, (etat, occ) in enumerate(states)]
    _import(api, static_csv(), dynamic_csv(rows))
    mairie = _entity(api, MAIRIE_ID)
    assert (mairie["status"]["value"], mairie["availableCapacity"]["value"]) == (status, free)


def test_an_older_dynamic_file_does_not_overwrite_a_newer_one(api: TestClient) -> None:
    _import(api, static_csv(), dynamic_csv([state("FRBCGE010040021", occupation="occupe",
                                                  at="2026-11-02T09:00:00+01:00")]))
    _import(api, static_csv(), dynamic_csv([state("FRBCGE010040021",
                                                  at="2026-11-02T08:00:00+01:00")]))
    assert _entity(api, GYM_ID)["status"]["value"] == "full"


def test_bad_rows_are_reported_with_their_lines_and_nothing_is_written(
        api: TestClient) -> None:
    _import(api, static_csv(), dynamic_csv([state("FRBCGE010040021")]))
    before = _stations(api)
    rows = static_rows()
    rows[1] = {**rows[1], "implantation_station": "Trottoir", "contact_operateur": "",
               "coordonneesXY": "[545.1,45.9]"}
    rows.append({**GYMNASE, "id_pdc_itinerance": "FRBCGE010040021"})  # described twice
    dynamic = dynamic_csv([state("FRBCGE010040011", at="yesterday"),
                           state("fr-bad", occupation="busy")])
    with pytest.raises(importer.Rejected) as err:
        _import(api, static_csv(rows), dynamic)
    got = [(p.source, p.line, p.message) for p in err.value.problems]
    assert ("static", 3, "contact_operateur is required") in got
    assert any(s == "static" and line == 3 and m.startswith("implantation_station: 'Trottoir'")
               for s, line, m in got)
    assert any(s == "static" and line == 3 and "WGS84" in m for s, line, m in got)
    assert ("static", 5, "charging point FRBCGE010040021 already described on line 4") in got
    assert any(s == "dynamic" and line == 2 and "horodatage" in m for s, line, m in got)
    assert any(s == "dynamic" and line == 3 and "id_pdc_itinerance" in m for s, line, m in got)
    assert any(s == "dynamic" and line == 3 and "occupation_pdc" in m for s, line, m in got)
    assert _stations(api) == before


@pytest.mark.parametrize("static,message", [
    (b"", "empty"),
    (b"nom_station\nx\n", "missing column(s)"),
    ("\u00e9".encode("latin-1") + b"\n", "not UTF-8"),
])
def test_files_that_are_not_irve(api: TestClient, static: bytes, message: str) -> None:
    with pytest.raises(importer.Rejected) as err:
        _import(api, static, None)
    assert message in str(err.value.problems[0])
    assert _stations(api) == []


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data/schemas-fr is absent")
def test_the_published_valid_examples(api: TestClient) -> None:
    summary = _import(api, (SHARED / "exemple-valide-statique.csv").read_bytes(),
                      (SHARED / "exemple-valide-dynamique.csv").read_bytes())
    # the dynamic example's first row names a station id, not a charging point: skipped
    assert summary == importer.Summary(stations=2, charging_points=2, updated=1, skipped=1)
    station = _entity(api, "urn:ngsi-ld:EVChargingStation:ESZUNP395912133460086982")
    assert station["status"]["value"] == "working"
    assert station["availableCapacity"]["observedAt"] == "2022-10-18T12:35:49.000Z"


# ----------------------------------------------------------------- over HTTP


class _Feed(http.server.BaseHTTPRequestHandler):
    routes: ClassVar[dict[str, bytes]] = {}

    def do_GET(self) -> None:
        if self.path == "/slow":
            time.sleep(2)
        body = self.routes.get(self.path.split("?")[0])
        if self.path == "/huge":
            self.send_response(200)
            self.send_header("Content-Type", "text/csv")
            self.end_headers()
            for _ in range(200):  # 2 MB, no Content-Length
                self.wfile.write(b"x" * 10_000)
            return
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/csv")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def feed() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Feed)
    server.daemon_threads = True
    _Feed.routes = {
        "/static.csv": static_csv(),
        "/dynamic.csv": dynamic_csv([state("FRBCGE010040011"), state("FRBCGE010040012")]),
        "/slow": b"late",
    }
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_read_source_limits(feed: str, tmp_path: Path) -> None:
    assert read_source(f"{feed}/static.csv", timeout=5, max_bytes=1 << 20) == static_csv()
    with pytest.raises(SourceError, match="HTTP 404"):
        read_source(f"{feed}/nope", timeout=5, max_bytes=1 << 20)
    with pytest.raises(SourceError, match=r"within 0\.5 s"):
        read_source(f"{feed}/slow", timeout=0.5, max_bytes=1 << 20)
    with pytest.raises(SourceError, match="more than the 100000 bytes"):
        read_source(f"{feed}/huge", timeout=5, max_bytes=100_000)
    with pytest.raises(SourceError, match="more than the 10 allowed"):
        read_source(f"{feed}/static.csv", timeout=5, max_bytes=10)
    with pytest.raises(SourceError, match="No such file"):
        read_source(str(tmp_path / "absent.csv"), timeout=5, max_bytes=10)


def test_the_poller_imports_the_url_and_survives_a_bad_round(
        api: TestClient, settings: Settings, feed: str) -> None:
    services = api.app.state.services  # type: ignore[attr-defined]
    s = settings.replace(irve_static=f"{feed}/static.csv",
                         irve_dynamic_url=f"{feed}/dynamic.csv")
    raw = api.app.state.ingestion.pipeline.store  # type: ignore[attr-defined]
    poller = IrvePoller(s, raw, services.contexts.core_term_map, lambda: NOW)
    first = poller.run_once()
    assert first.ok, first.detail
    assert _entity(api, MAIRIE_ID)["availableCapacity"]["value"] == 2
    _Feed.routes["/dynamic.csv"] = b"id_pdc_itinerance\nFRBCGE010040011\n"
    bad = poller.run_once()
    assert not bad.ok and "missing column(s)" in bad.detail
    assert _entity(api, MAIRIE_ID)["availableCapacity"]["value"] == 2
    gone = IrvePoller(s.replace(irve_dynamic_url=f"{feed}/gone.csv"), raw,
                      services.contexts.core_term_map, lambda: NOW).run_once()
    assert not gone.ok and "HTTP 404" in gone.detail


def test_the_app_polls_when_a_dynamic_url_is_set(
        settings: Settings, store: Store, feed: str) -> None:
    s = settings.replace(irve_static=f"{feed}/static.csv",
                         irve_dynamic_url=f"{feed}/dynamic.csv", irve_poll_interval=3600)
    with admin_client(create_app(s, store)) as c:
        poller = c.app.state.irve  # type: ignore[attr-defined]
        deadline = time.monotonic() + 10
        while poller.last is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert poller.last is not None and poller.last.ok, poller.last
        assert _entity(c, MAIRIE_ID)["status"]["value"] == "working"


def test_cli_import_irve(tmp_path: Path, feed: str) -> None:
    runner = CliRunner()
    env = {"BOCAGE_DATABASE_URL": f"sqlite:///{tmp_path}/bocage.db"}
    static = tmp_path / "statique.csv"
    static.write_bytes(static_csv())
    r = runner.invoke(cli, ["import-irve", "--static", str(static), "--dynamic",
                            f"{feed}/dynamic.csv"], env=env)
    assert r.exit_code == 0, r.output
    assert "2 station(s), 3 charging point(s), 1 availability update(s)" in r.output
    bad = tmp_path / "bad.csv"
    rows = static_rows()
    rows[0] = {**rows[0], "nbre_pdc": "deux"}
    bad.write_bytes(static_csv(rows))
    r = runner.invoke(cli, ["import-irve", "--static", str(bad)], env=env)
    assert r.exit_code == 1
    assert f"{bad}:2: nbre_pdc: 'deux' is not an integer" in r.output
    assert "nothing was imported" in r.output
    r = runner.invoke(cli, ["import-irve", "--static", str(tmp_path / "absent.csv")], env=env)
    assert r.exit_code == 2 and "No such file" in r.output



def test_stations_carry_their_commune_scope_and_are_open_data(api: TestClient) -> None:
    from bocage.domain.access import Grant

    _import(api, static_csv(), None)
    mairie = _entity(api, MAIRIE_ID)
    assert mairie["scope"] == ["/FR/01/240100883/01004", "/open"]
    app = api.app
    security = app.state.security  # type: ignore[attr-defined]
    _, agent = security.create_key([Grant("agent", "/FR/01/240100883/01004")], name="a", by="t")
    with TestClient(app) as other:
        # the commune's agent finds its stations with scopeQ on its commune
        r = other.get("/ngsi-ld/v1/entities", headers={"Authorization": f"Bearer {agent}"},
                      params={"type": "EVChargingStation",
                              "scopeQ": "/FR/01/240100883/01004"})
        assert r.status_code == 200 and {e["id"] for e in r.json()} == {MAIRIE_ID, GYM_ID}
        # anyone reads them: the IRVE file is open data
        r = other.get("/ngsi-ld/v1/entities", params={"type": "EVChargingStation"})
        assert r.status_code == 200 and {e["id"] for e in r.json()} == {MAIRIE_ID, GYM_ID}
    assert importer.station_scopes("99999", "/open") == ["/open"]  # unknown commune
    assert importer.station_scopes(None, "") == []
