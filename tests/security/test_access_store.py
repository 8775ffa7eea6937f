"""The AccessStore contract, on both backends (the ``store`` fixture gives the database):
accounts, lockout counting, API keys, sessions, commands and the audit chain."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator

import psycopg
import pytest

from bocage.commands.lighting import CommandRecord, LightingCommand
from bocage.domain.access import ROOT, Grant
from bocage.domain.audit import GENESIS, AuditEvent, verify
from bocage.domain.errors import AlreadyExists, ResourceNotFound
from bocage.security.access_sql import SqlAccessStore, open_access_store
from bocage.security.access_store import Account, ApiKey, Session
from bocage.storage.base import Store

T0 = "2026-11-26T00:00:00.000Z"
AMBE = "/FR/01/240100883/01004"


@pytest.fixture
def access(store: Store) -> Iterator[SqlAccessStore]:
    a = open_access_store(store)
    yield a
    a.close()


def test_accounts(access: SqlAccessStore) -> None:
    alice = Account("alice", "h1", (Grant("agent", AMBE),), T0, display_name="Alice")
    access.create_account(alice)
    with pytest.raises(AlreadyExists):
        access.create_account(alice)
    assert access.get_account("alice") == alice
    assert access.get_account("bob") is None
    access.update_account(Account("alice", "h2", (Grant("elu", ROOT),), T0, disabled=True))
    got = access.get_account("alice")
    assert got is not None and got.password_hash == "h2" and got.disabled
    assert got.grants == (Grant("elu", ROOT),) and got.created_at == T0
    with pytest.raises(ResourceNotFound):
        access.update_account(Account("bob", "", (), T0))
    assert [a.username for a in access.list_accounts()] == ["alice"]


def test_login_failures_lock_then_a_run_out_lock_starts_afresh(access: SqlAccessStore) -> None:
    access.create_account(Account("carol", "h", (), T0))
    until = "2026-11-26T00:15:00.000Z"
    states = [access.login_failed("carol", T0, 3, until) for _ in range(4)]
    assert [(s.failed_logins, s.locked_until) for s in states if s] == [
        (1, ""), (2, ""), (3, until), (4, until)]
    later = "2026-11-26T00:20:00.000Z"
    after = access.login_failed("carol", later, 3, "2026-11-26T00:35:00.000Z")
    assert after is not None and (after.failed_logins, after.locked_until) == (1, "")
    assert access.login_failed("nobody", T0, 3, until) is None


def test_keys(access: SqlAccessStore) -> None:
    k = ApiKey("abc", "sensor gateway", "hash", (Grant("integrator", AMBE),), T0, "admin",
               expires_at="2027-01-01T00:00:00.000Z")
    access.create_key(k)
    with pytest.raises(AlreadyExists):
        access.create_key(k)
    assert access.get_key("abc") == k and access.list_keys() == [k]
    assert access.revoke_key("abc", T0) and not access.revoke_key("abc", T0)
    assert not access.revoke_key("nope", T0)
    got = access.get_key("abc")
    assert got is not None and got.revoked_at == T0


def test_sessions(access: SqlAccessStore) -> None:
    s1 = Session("t1", "alice", "csrf1", T0, "2026-11-26T12:00:00.000Z")
    s2 = Session("t2", "alice", "csrf2", T0, "2026-11-26T12:00:00.000Z")
    access.create_session(s1)
    access.create_session(s2)
    assert access.get_session("t1") == s1
    access.delete_session("t1")
    assert access.get_session("t1") is None and access.get_session("t2") == s2
    access.delete_sessions_of("alice")
    assert access.get_session("t2") is None


def test_commands(access: SqlAccessStore) -> None:
    r1 = CommandRecord("c1", T0, "key:x", LightingCommand("urn:l:1", "on", "incident", None, 30),
                       (AMBE,))
    r2 = CommandRecord("c2", "2026-11-26T00:01:00.000Z", "alice",
                       LightingCommand("urn:l:2", "dim", "test", 40), (AMBE, "/open"))
    access.create_command(r1)
    access.create_command(r2)
    assert access.list_commands() == [r2, r1]


def test_the_audit_chain_verifies_and_refuses_updates(access: SqlAccessStore,
                                                      store: Store) -> None:
    assert verify(access.audit_records()).head == GENESIS
    records = [access.append_audit(AuditEvent(T0, "alice", "login", "alice", {"n": i}))
               for i in range(5)]
    assert [r.seq for r in records] == [1, 2, 3, 4, 5]
    assert records[0].prev == GENESIS and records[1].prev == records[0].hash
    assert access.audit_records() == records
    assert access.audit_records(after_seq=3, limit=1) == [records[3]]
    verdict = verify(access.audit_records())
    assert verdict.ok and verdict.records == 5 and verdict.head == records[-1].hash
    # the database itself refuses to rewrite history
    with pytest.raises((sqlite3.DatabaseError, psycopg.Error)), access._db.tx() as cur:
        cur.execute("UPDATE access_audit SET actor = 'mallory' WHERE seq = 2")
    with pytest.raises((sqlite3.DatabaseError, psycopg.Error)), access._db.tx() as cur:
        cur.execute("DELETE FROM access_audit WHERE seq = 5")
    assert verify(access.audit_records()).ok


def test_concurrent_appends_build_one_chain(store: Store) -> None:
    """Two access stores on one database (two processes, say) append to one chain."""
    a, b = open_access_store(store), open_access_store(store)
    try:
        def worker(s: SqlAccessStore, who: str) -> None:
            for i in range(20):
                s.append_audit(AuditEvent(T0, who, "x", str(i)))

        threads = [threading.Thread(target=worker, args=(s, n)) for s, n in ((a, "a"), (b, "b"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        verdict = verify(a.audit_records())
        assert verdict.ok and verdict.records == 40
    finally:
        a.close()
        b.close()
