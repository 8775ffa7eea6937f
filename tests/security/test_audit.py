"""The audit log: the pure hash chain, and `bocage audit verify` on a tampered database
(both backends)."""

from __future__ import annotations

import dataclasses

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from bocage.cli import app as cli
from bocage.domain.audit import GENESIS, AuditEvent, AuditRecord, chain, verify
from bocage.security.access_sql import open_access_store
from bocage.storage.base import Store
from bocage.storage.sqlite import SQLiteStore

T0 = "2026-11-26T00:00:00.000Z"
events = st.builds(AuditEvent, at=st.just(T0), actor=st.text(max_size=5),
                   action=st.sampled_from(["login", "key.create", "command.lighting"]),
                   target=st.text(max_size=5),
                   detail=st.dictionaries(st.text(max_size=3), st.integers() | st.text(max_size=3),
                                          max_size=3))


def build(evs: list[AuditEvent]) -> list[AuditRecord]:
    out: list[AuditRecord] = []
    for i, e in enumerate(evs, 1):
        out.append(chain(i, e, out[-1].hash if out else GENESIS))
    return out


@given(st.lists(events, min_size=1, max_size=8), st.data())
def test_any_change_to_any_record_is_detected(evs: list[AuditEvent], data: st.DataObject) -> None:
    records = build(evs)
    assert verify(records).ok and verify(records).head == records[-1].hash
    i = data.draw(st.integers(0, len(records) - 1))
    field = data.draw(st.sampled_from(["actor", "action", "target", "detail", "at"]))
    old = getattr(records[i], field)
    new = {**old, "tampered": 1} if field == "detail" else old + "x"
    tampered = [*records[:i], dataclasses.replace(records[i], **{field: new}),
                *records[i + 1:]]
    verdict = verify(tampered)
    assert not verdict.ok and verdict.bad_seq == i + 1 and verdict.records == i


def test_deleted_or_reordered_records_are_detected() -> None:
    records = build([AuditEvent(T0, "a", "login", str(i)) for i in range(4)])
    assert verify(records[:2] + records[3:]).bad_seq == 4
    assert verify([records[1], records[0], *records[2:]]).bad_seq == 2
    # a forger who recomputes the hash of the record he changed breaks the next link
    forged = chain(2, AuditEvent(T0, "mallory", "login", "1"), records[0].hash)
    verdict = verify([records[0], forged, *records[2:]])
    assert verdict.bad_seq == 3 and "link" in verdict.reason


def _url(store: Store) -> str:
    if isinstance(store, SQLiteStore):
        return f"sqlite:///{store.path}"
    return str(store.conninfo)  # type: ignore[attr-defined]


def test_bocage_audit_verify_finds_a_tampered_row(store: Store) -> None:
    runner = CliRunner()
    env = {"BOCAGE_DATABASE_URL": _url(store)}
    made = runner.invoke(cli, ["keys", "create", "--role", "agent", "--scope",
                               "/FR/01/240100883/01004", "--name", "gateway"], env=env)
    assert made.exit_code == 0, made.output
    key_id = made.stdout.strip().removeprefix("bck_").split("_")[0]
    assert runner.invoke(cli, ["keys", "revoke", key_id], env=env).exit_code == 0
    ok = runner.invoke(cli, ["audit", "verify"], env=env)
    assert ok.exit_code == 0 and "audit log OK: 2 record(s)" in ok.stdout
    exported = runner.invoke(cli, ["audit", "export"], env=env)
    lines = [orjson.loads(line) for line in exported.stdout.splitlines()]
    assert [r["action"] for r in lines] == ["key.create", "key.revoke"]

    # someone with direct database access drops the guard and rewrites record 1
    access = open_access_store(store)
    try:
        with access._db.tx() as cur:
            if isinstance(store, SQLiteStore):
                cur.execute("DROP TRIGGER access_audit_no_update")
            else:
                cur.execute("DROP TRIGGER access_audit_append_only ON access_audit")
            cur.execute("UPDATE access_audit SET detail = ? WHERE seq = 1".replace(
                "?", "?" if isinstance(store, SQLiteStore) else "%s"), ('{"name":"x"}',))
    finally:
        access.close()
    bad = runner.invoke(cli, ["audit", "verify"], env=env)
    assert bad.exit_code == 1
    assert "TAMPERED: record 1: its content does not match its hash" in bad.output


@pytest.mark.parametrize("argv", [["keys", "create", "--role", "king", "--scope", "/"],
                                  ["keys", "create", "--role", "agent", "--scope", "FR"],
                                  ["keys", "revoke", "nope"]])
def test_keys_cli_errors_are_clear(store: Store, argv: list[str]) -> None:
    out = CliRunner().invoke(cli, argv, env={"BOCAGE_DATABASE_URL": _url(store)})
    assert out.exit_code == 1 and out.output.startswith("bocage: ")
