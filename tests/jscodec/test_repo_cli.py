"""`bocage devices import-repo` and `bocage codecs check` on our own small repository
(tests/fixtures/lorawan-repo), then the imported models on the real ingestion path."""

from __future__ import annotations

import base64
import shutil
from pathlib import Path

import pytest
from admin_client import admin_client
from typer.testing import CliRunner

from bocage.api.app import create_app
from bocage.cli import app as cli
from bocage.settings import Settings
from bocage.storage.sqlite import SQLiteStore

REPO = Path(__file__).parent.parent / "fixtures" / "lorawan-repo"
runner = CliRunner()


def env_for(tmp_path: Path) -> dict[str, str]:
    return {"BOCAGE_DATABASE_URL": f"sqlite:///{tmp_path}/bocage.db"}


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "repo"
    shutil.copytree(REPO, copy)
    return copy


def test_codecs_check_passes_on_a_sound_repository(tmp_path: Path) -> None:
    r = runner.invoke(cli, ["codecs", "check", str(REPO)], env=env_for(tmp_path))
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert "acme\t10\t0" in lines and "oldco\t1\t0" in lines
    assert lines[-1] == "11 example(s) passed, 0 failed"
    assert "FAIL" not in r.output


def test_codecs_check_counts_failures_per_vendor(repo_copy: Path, tmp_path: Path) -> None:
    th1 = repo_copy / "vendor" / "acme" / "th1-codec.yaml"
    th1.write_text(th1.read_text().replace("temperature: 21.5", "temperature: 21.4"))
    (repo_copy / "vendor" / "oldco" / "pulse.js").write_text("function Decoder(bytes {")
    r = runner.invoke(cli, ["codecs", "check", str(repo_copy)], env=env_for(tmp_path))
    assert r.exit_code == 1
    lines = r.output.splitlines()
    assert "acme\t9\t1" in lines and "oldco\t0\t1" in lines
    assert lines[-1] == "9 example(s) passed, 2 failed"
    assert any(line.startswith("FAIL acme/th1-codec uplinkDecoder 'mild room")
               and "data.temperature: expected 21.4, got 21.5" in line for line in lines)
    assert any(line.startswith("FAIL oldco/pulse-codec") and "SyntaxError" in line
               for line in lines)


def test_codecs_check_vendor_filter_and_not_a_repository(tmp_path: Path) -> None:
    r = runner.invoke(cli, ["codecs", "check", str(REPO), "--vendor", "oldco"],
                      env=env_for(tmp_path))
    assert r.exit_code == 0 and r.output.splitlines()[-1] == "1 example(s) passed, 0 failed"
    r = runner.invoke(cli, ["codecs", "check", str(tmp_path)], env=env_for(tmp_path))
    assert r.exit_code == 2 and "not a device repository" in r.output


def test_import_repo_creates_codecs_and_mapped_models(tmp_path: Path) -> None:
    env = env_for(tmp_path)
    r = runner.invoke(cli, ["devices", "import-repo", str(REPO)], env=env)
    assert r.exit_code == 0, r.output
    assert "acme: 3 codec(s), 2 model(s) imported" in r.output
    assert ("model acme.relay2 not created: no recognised quantity among its decoded keys "
            "(relay1, relay2)") in r.output
    assert "model acme.co2-box: unmapped keys raw" in r.output
    r = runner.invoke(cli, ["codecs", "list"], env=env)
    ids = [line.split("\t")[0] for line in r.output.splitlines()]
    assert ids == ["acme.co2-codec", "acme.relay-codec", "acme.th1-codec", "oldco.pulse-codec"]
    models = runner.invoke(cli, ["devices", "models"], env=env).output
    assert "acme.th1\tacme.th1-codec\tDeviceMeasurement\tAcme Field Sensors\tTH-1" in models
    # importing again replaces, it does not fail on existing ids
    again = runner.invoke(cli, ["devices", "import-repo", str(REPO), "--target-type",
                                "IndoorEnvironmentObserved"], env=env)
    assert again.exit_code == 0, again.output
    models = runner.invoke(cli, ["devices", "models"], env=env).output
    assert "acme.th1\tacme.th1-codec\tIndoorEnvironmentObserved" in models


def test_a_malformed_codec_is_refused_at_import_with_a_clear_message(
        repo_copy: Path, tmp_path: Path) -> None:
    (repo_copy / "vendor" / "acme" / "co2.js").write_text(
        "// broken\nfunction decodeUplink(input) {\n  return { data: { co2: } };\n}\n")
    r = runner.invoke(cli, ["devices", "import-repo", str(repo_copy)], env=env_for(tmp_path))
    assert r.exit_code == 1
    assert ("codec acme.co2-codec refused: codec acme.co2-codec: co2.js is refused: "
            "acme.co2-codec (co2.js): does not compile: SyntaxError") in r.output
    assert "(line 3, column" in r.output
    assert "model acme.co2-box not created: its codec co2-codec is refused" in r.output
    # the rest of the repository is imported
    assert "acme: 2 codec(s), 1 model(s) imported" in r.output
    assert "oldco: 1 codec(s), 1 model(s) imported" in r.output


def test_a_codec_without_its_function_is_refused(repo_copy: Path, tmp_path: Path) -> None:
    (repo_copy / "vendor" / "oldco" / "pulse.js").write_text("function decode(b) { return {}; }")
    r = runner.invoke(cli, ["devices", "import-repo", str(repo_copy), "--vendor", "oldco"],
                      env=env_for(tmp_path))
    assert r.exit_code == 1
    assert "pulse.js defines none of decodeUplink, Decode, Decoder, needed as uplinkDecoder" \
        in r.output


def test_imported_models_decode_chirpstack_uplinks(tmp_path: Path) -> None:
    r = runner.invoke(cli, ["devices", "import-repo", str(REPO)], env=env_for(tmp_path))
    assert r.exit_code == 0, r.output
    settings = Settings(database_url=f"sqlite:///{tmp_path}/bocage.db",
                        chirpstack_secret="cs-secret")
    store = SQLiteStore(str(tmp_path / "bocage.db"))
    try:
        with admin_client(create_app(settings, store)) as api:
            for eui, model in (("00000000000000A1", "acme.th1"),
                               ("00000000000000A2", "oldco.pulse")):
                r = api.post("/api/devices", json={"devEui": eui, "model": model})
                assert r.status_code == 201, r.text
            for eui, port, frame in (("00000000000000A1", 1, "00d7505a"),
                                     ("00000000000000A2", 3, "000111704d")):
                body = {"deduplicationId": f"11111111-2222-4333-8444-{eui[-12:]}",
                        "time": "2026-04-01T06:30:00Z", "deviceInfo": {"devEui": eui},
                        "fPort": port, "fCnt": 1,
                        "data": base64.b64encode(bytes.fromhex(frame)).decode()}
                r = api.post("/ingest/chirpstack?event=up", json=body,
                             headers={"Authorization": "Bearer cs-secret"})
                assert r.status_code == 202, r.text
            assert api.app.state.ingestion.wait_idle(30.0)  # type: ignore[attr-defined]
            assert api.get("/api/dead-letters").json() == []
            th1 = api.get("/ngsi-ld/v1/entities/urn:ngsi-ld:DeviceMeasurement:"
                          "00000000000000A1").json()
            assert th1["temperature"]["value"] == 21.5
            assert th1["temperature"]["unitCode"] == "CEL"
            assert th1["relativeHumidity"]["value"] == 40
            dev = api.get("/ngsi-ld/v1/entities/urn:ngsi-ld:Device:00000000000000A1").json()
            assert dev["batteryLevel"]["value"] == pytest.approx(0.9)
            pulse = api.get("/ngsi-ld/v1/entities/urn:ngsi-ld:Device:00000000000000A2").json()
            assert pulse["batteryLevel"]["value"] == pytest.approx(0.77)  # legacy Decoder
    finally:
        store.close()
