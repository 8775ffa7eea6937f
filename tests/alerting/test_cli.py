"""``bocage recipients``: set from a file (all checked before any is written), list, delete."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from bocage.cli import app as cli


def test_recipients_from_a_yaml_file_then_list_and_delete(tmp_path: Path) -> None:
    env = {"BOCAGE_DATABASE_URL": f"sqlite:///{tmp_path}/bocage.db"}
    runner = CliRunner()
    good = tmp_path / "recipients.yaml"
    good.write_text("""
- id: mairie-a
  channel: email
  address: mairie@ambe.example.fr
  scope: /FR/01/240100883/01004
- id: epci
  channel: webhook
  address: https://supervision.example.fr/alarmes
  scope: /FR/01/240100883
  min_severity: major
""", "utf-8")
    r = runner.invoke(cli, ["recipients", "set", str(good)], env=env)
    assert r.exit_code == 0, r.output
    assert "2 recipient(s) set" in r.output
    bad = tmp_path / "bad.json"
    bad.write_text('[{"id": "ok", "channel": "email", "address": "ok@example.fr", '
                   '"scope": "/FR/01"}, {"id": "nope", "channel": "fax", "address": "1", '
                   '"scope": "/FR/01"}]', "utf-8")
    r = runner.invoke(cli, ["recipients", "set", str(bad)], env=env)
    assert r.exit_code == 1 and "channel must be one of" in r.output
    r = runner.invoke(cli, ["recipients", "list"], env=env)
    assert r.exit_code == 0, r.output
    lines = r.output.strip().splitlines()
    assert [line.split("\t")[0] for line in lines] == ["epci", "mairie-a"]  # not "ok"
    assert lines[0].split("\t")[1:] == ["webhook", "https://supervision.example.fr/alarmes",
                                        "/FR/01/240100883", "major"]
    r = runner.invoke(cli, ["recipients", "delete", "epci"], env=env)
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["recipients", "delete", "epci"], env=env)
    assert r.exit_code == 1 and "no recipient epci" in r.output
    r = runner.invoke(cli, ["recipients", "list"], env=env)
    assert [line.split("\t")[0] for line in r.output.strip().splitlines()] == ["mairie-a"]
