"""The AccessStore in SQL: one implementation, two dialects (SQLite, PostgreSQL).

The tables sit beside the entity tables, prefixed ``access_``; they are
created when missing (``CREATE TABLE IF NOT EXISTS``), so opening the store is
its migration. The audit table refuses UPDATE and DELETE by trigger: the
application never rewrites history, and someone who bypasses the trigger with
direct database access still cannot forge the hash chain unnoticed
(``bocage.domain.audit``).

Appends to the audit chain are serialised by the database (SQLite:
``BEGIN IMMEDIATE``; PostgreSQL: a transaction-scoped advisory lock), so
several processes on one database still build one chain.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import orjson

from bocage.commands.lighting import CommandRecord, LightingCommand
from bocage.domain.access import Grant
from bocage.domain.audit import GENESIS, AuditEvent, AuditRecord, chain
from bocage.domain.errors import AlreadyExists, ResourceNotFound
from bocage.security.access_store import Account, ApiKey, Session

_TABLES = """
CREATE TABLE IF NOT EXISTS access_accounts (
  username TEXT PRIMARY KEY, password_hash TEXT NOT NULL, display_name TEXT NOT NULL,
  grants TEXT NOT NULL, created_at TEXT NOT NULL, failed_logins INTEGER NOT NULL,
  locked_until TEXT NOT NULL, disabled INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS access_keys (
  key_id TEXT PRIMARY KEY, name TEXT NOT NULL, secret_hash TEXT NOT NULL,
  grants TEXT NOT NULL, created_at TEXT NOT NULL, created_by TEXT NOT NULL,
  expires_at TEXT NOT NULL, revoked_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS access_sessions (
  token_hash TEXT PRIMARY KEY, username TEXT NOT NULL, csrf_token TEXT NOT NULL,
  created_at TEXT NOT NULL, expires_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS access_commands (
  id TEXT PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL, target TEXT NOT NULL,
  action TEXT NOT NULL, level INTEGER, duration_minutes INTEGER, reason TEXT NOT NULL,
  scope TEXT NOT NULL, status TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS access_audit (
  seq BIGINT PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
  target TEXT NOT NULL, detail TEXT NOT NULL, prev TEXT NOT NULL, hash TEXT NOT NULL);
"""

_SQLITE_GUARDS = """
CREATE TRIGGER IF NOT EXISTS access_audit_no_update BEFORE UPDATE ON access_audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS access_audit_no_delete BEFORE DELETE ON access_audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""

_PG_GUARDS = [
    "CREATE OR REPLACE FUNCTION access_audit_append_only() RETURNS trigger"
    " LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$",
    "CREATE OR REPLACE TRIGGER access_audit_append_only BEFORE UPDATE OR DELETE"
    " ON access_audit FOR EACH ROW EXECUTE FUNCTION access_audit_append_only()",
]

#: key of the PostgreSQL advisory lock that serialises audit appends
_AUDIT_LOCK = 0x626F63616765  # "bocage"

_ACCOUNT_COLS = ("username, password_hash, display_name, grants, created_at, failed_logins,"
                 " locked_until, disabled")
_KEY_COLS = "key_id, name, secret_hash, grants, created_at, created_by, expires_at, revoked_at"
_AUDIT_COLS = "seq, at, actor, action, target, detail, prev, hash"


def _grants_json(grants: Sequence[Grant]) -> str:
    return orjson.dumps([g.to_json() for g in grants]).decode()


def _grants(raw: str) -> tuple[Grant, ...]:
    return tuple(Grant(g["role"], g["scope"]) for g in orjson.loads(raw))


def _account(row: Sequence[Any]) -> Account:
    return Account(username=row[0], password_hash=row[1], display_name=row[2],
                   grants=_grants(row[3]), created_at=row[4], failed_logins=int(row[5]),
                   locked_until=row[6], disabled=bool(row[7]))


def _key(row: Sequence[Any]) -> ApiKey:
    return ApiKey(key_id=row[0], name=row[1], secret_hash=row[2], grants=_grants(row[3]),
                  created_at=row[4], created_by=row[5], expires_at=row[6], revoked_at=row[7])


def _record(row: Sequence[Any]) -> AuditRecord:
    return AuditRecord(seq=int(row[0]), at=row[1], actor=row[2], action=row[3],
                       target=row[4], detail=orjson.loads(row[5]), prev=row[6], hash=row[7])


class SqlAccessStore:
    """The AccessStore on a DB-API connection source (see :func:`sqlite_access`,
    :func:`postgres_access`). SQL is written with ``?`` placeholders."""

    def __init__(self, dialect: _Dialect) -> None:
        self._db = dialect
        with self._db.tx(exclusive=True) as cur:
            for stmt in self._db.ddl():
                cur.execute(stmt)

    @property
    def dialect(self) -> _Dialect:
        """The connection source, for tables of other modules in the same database
        (``bocage.commands.queue_sql``)."""
        return self._db

    # ------------------------------------------------------------ helpers

    def _one(self, sql: str, args: Sequence[Any] = ()) -> Any:
        with self._db.tx(write=False) as cur:
            cur.execute(self._db.sql(sql), tuple(args))
            return cur.fetchone()

    def _all(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        with self._db.tx(write=False) as cur:
            cur.execute(self._db.sql(sql), tuple(args))
            return list(cur.fetchall())

    def _insert(self, sql: str, args: Sequence[Any], what: str) -> None:
        try:
            with self._db.tx() as cur:
                cur.execute(self._db.sql(sql), tuple(args))
        except self._db.integrity_errors as exc:
            raise AlreadyExists(f"{what} already exists") from exc

    # ----------------------------------------------------------- accounts

    def create_account(self, account: Account) -> None:
        a = account
        self._insert(f"INSERT INTO access_accounts ({_ACCOUNT_COLS}) VALUES (?,?,?,?,?,?,?,?)",
                     (a.username, a.password_hash, a.display_name, _grants_json(a.grants),
                      a.created_at, a.failed_logins, a.locked_until, int(a.disabled)),
                     f"account {a.username}")

    def get_account(self, username: str) -> Account | None:
        row = self._one(f"SELECT {_ACCOUNT_COLS} FROM access_accounts WHERE username = ?",
                        (username,))
        return None if row is None else _account(row)

    def list_accounts(self) -> list[Account]:
        rows = self._all(f"SELECT {_ACCOUNT_COLS} FROM access_accounts ORDER BY username")
        return [_account(r) for r in rows]

    def update_account(self, account: Account) -> None:
        a = account
        with self._db.tx() as cur:
            cur.execute(self._db.sql(
                "UPDATE access_accounts SET password_hash = ?, display_name = ?, grants = ?,"
                " failed_logins = ?, locked_until = ?, disabled = ? WHERE username = ?"),
                (a.password_hash, a.display_name, _grants_json(a.grants), a.failed_logins,
                 a.locked_until, int(a.disabled), a.username))
            if cur.rowcount == 0:
                raise ResourceNotFound(f"no account {a.username}")

    def login_failed(self, username: str, now: str, max_failures: int,
                     lock_until: str) -> Account | None:
        with self._db.tx() as cur:
            # a lock that has run out starts a fresh count
            cur.execute(self._db.sql(
                "UPDATE access_accounts SET failed_logins = CASE"
                " WHEN locked_until <> '' AND locked_until <= ? THEN 1"
                " ELSE failed_logins + 1 END,"
                " locked_until = CASE WHEN locked_until <> '' AND locked_until <= ? THEN ''"
                " ELSE locked_until END WHERE username = ?"), (now, now, username))
            cur.execute(self._db.sql(
                "UPDATE access_accounts SET locked_until = ?"
                " WHERE username = ? AND failed_logins >= ? AND locked_until = ''"),
                (lock_until, username, max_failures))
            cur.execute(self._db.sql(
                f"SELECT {_ACCOUNT_COLS} FROM access_accounts WHERE username = ?"), (username,))
            row = cur.fetchone()
        return None if row is None else _account(row)

    # ----------------------------------------------------------- API keys

    def create_key(self, key: ApiKey) -> None:
        k = key
        self._insert(f"INSERT INTO access_keys ({_KEY_COLS}) VALUES (?,?,?,?,?,?,?,?)",
                     (k.key_id, k.name, k.secret_hash, _grants_json(k.grants), k.created_at,
                      k.created_by, k.expires_at, k.revoked_at), f"API key {k.key_id}")

    def get_key(self, key_id: str) -> ApiKey | None:
        row = self._one(f"SELECT {_KEY_COLS} FROM access_keys WHERE key_id = ?", (key_id,))
        return None if row is None else _key(row)

    def list_keys(self) -> list[ApiKey]:
        return [_key(r) for r in
                self._all(f"SELECT {_KEY_COLS} FROM access_keys ORDER BY created_at, key_id")]

    def revoke_key(self, key_id: str, at: str) -> bool:
        with self._db.tx() as cur:
            cur.execute(self._db.sql(
                "UPDATE access_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at = ''"),
                (at, key_id))
            return bool(cur.rowcount)

    # ----------------------------------------------------------- sessions

    def create_session(self, session: Session) -> None:
        s = session
        self._insert("INSERT INTO access_sessions (token_hash, username, csrf_token,"
                     " created_at, expires_at) VALUES (?,?,?,?,?)",
                     (s.token_hash, s.username, s.csrf_token, s.created_at, s.expires_at),
                     "session")

    def get_session(self, token_hash: str) -> Session | None:
        row = self._one("SELECT token_hash, username, csrf_token, created_at, expires_at"
                        " FROM access_sessions WHERE token_hash = ?", (token_hash,))
        return None if row is None else Session(*row)

    def delete_session(self, token_hash: str) -> None:
        with self._db.tx() as cur:
            cur.execute(self._db.sql("DELETE FROM access_sessions WHERE token_hash = ?"),
                        (token_hash,))

    def delete_sessions_of(self, username: str) -> None:
        with self._db.tx() as cur:
            cur.execute(self._db.sql("DELETE FROM access_sessions WHERE username = ?"),
                        (username,))

    # ----------------------------------------------------------- commands

    def create_command(self, record: CommandRecord) -> None:
        r, c = record, record.command
        self._insert("INSERT INTO access_commands (id, at, actor, target, action, level,"
                     " duration_minutes, reason, scope, status) VALUES (?,?,?,?,?,?,?,?,?,?)",
                     (r.id, r.at, r.actor, c.target, c.action, c.level, c.duration_minutes,
                      c.reason, orjson.dumps(list(r.scope)).decode(), r.status),
                     f"command {r.id}")

    def list_commands(self, limit: int = 1000) -> list[CommandRecord]:
        rows = self._all("SELECT id, at, actor, target, action, level, duration_minutes,"
                         " reason, scope, status FROM access_commands ORDER BY at DESC, id"
                         " LIMIT ?", (limit,))
        return [CommandRecord(r[0], r[1], r[2],
                              LightingCommand(r[3], r[4], r[7], r[5], r[6]),
                              tuple(orjson.loads(r[8])), r[9]) for r in rows]

    # -------------------------------------------------------------- audit

    def append_audit(self, event: AuditEvent) -> AuditRecord:
        with self._db.tx(exclusive=True) as cur:
            cur.execute("SELECT seq, hash FROM access_audit ORDER BY seq DESC LIMIT 1")
            last = cur.fetchone()
            seq, prev = (int(last[0]) + 1, last[1]) if last else (1, GENESIS)
            record = chain(seq, event, prev)
            cur.execute(self._db.sql(
                f"INSERT INTO access_audit ({_AUDIT_COLS}) VALUES (?,?,?,?,?,?,?,?)"),
                (record.seq, record.at, record.actor, record.action, record.target,
                 orjson.dumps(record.detail, option=orjson.OPT_SORT_KEYS).decode(),
                 record.prev, record.hash))
        return record

    def audit_records(self, after_seq: int = 0, limit: int | None = None) -> list[AuditRecord]:
        sql = f"SELECT {_AUDIT_COLS} FROM access_audit WHERE seq > ? ORDER BY seq"
        args: list[Any] = [after_seq]
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        return [_record(r) for r in self._all(sql, args)]

    def close(self) -> None:
        self._db.close()


class _Dialect:
    integrity_errors: tuple[type[Exception], ...] = ()

    def ddl(self) -> list[str]:
        raise NotImplementedError

    def sql(self, text: str) -> str:
        return text

    def tx(self, write: bool = True, exclusive: bool = False) -> Any:
        """A transaction; ``exclusive`` serialises it with every other exclusive one."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


def _statements(script: str) -> list[str]:
    return [s.strip() + ";" for s in script.split(";\n") if s.strip()]


class _SQLite(_Dialect):
    """One connection of our own to the store's file (WAL: readers never wait)."""

    integrity_errors = (sqlite3.IntegrityError,)

    def __init__(self, path: str) -> None:
        self._path = path
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def _connection(self) -> sqlite3.Connection:
        # opened on first use, and again after close(): an app may be started twice
        if self._conn is None:
            conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout = 5000")
            conn.execute("PRAGMA synchronous = FULL")
            self._conn = conn
        return self._conn

    def ddl(self) -> list[str]:
        guards = [s.strip() for s in _SQLITE_GUARDS.split("END;") if s.strip()]
        return _statements(_TABLES) + [g + " END;" for g in guards]

    @contextmanager
    def tx(self, write: bool = True, exclusive: bool = False) -> Iterator[sqlite3.Cursor]:
        with self._lock:
            cur = self._connection().cursor()
            # a writer takes the lock at BEGIN: upgrading later could fail with BUSY
            cur.execute("BEGIN IMMEDIATE" if write or exclusive else "BEGIN")
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            cur.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


class _Postgres(_Dialect):
    def __init__(self, conninfo: str) -> None:
        import psycopg
        from psycopg_pool import ConnectionPool

        self.integrity_errors = (psycopg.errors.UniqueViolation,)
        self._conninfo = conninfo
        self._factory = ConnectionPool
        self._pool: Any = None
        self._lock = threading.Lock()

    def _opened(self) -> Any:
        with self._lock:  # opened on first use, and again after close()
            if self._pool is None:
                self._pool = self._factory(self._conninfo, min_size=1, max_size=4, open=True,
                                           kwargs={"application_name": "bocage-access"})
            return self._pool

    def ddl(self) -> list[str]:
        return [*_statements(_TABLES), *_PG_GUARDS]

    def sql(self, text: str) -> str:
        return text.replace("?", "%s")

    @contextmanager
    def tx(self, write: bool = True, exclusive: bool = False) -> Iterator[Any]:
        with self._opened().connection() as conn, conn.transaction(), conn.cursor() as cur:
            if exclusive:
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (_AUDIT_LOCK,))
            yield cur

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.close()
                self._pool = None


def sqlite_access(path: str) -> SqlAccessStore:
    return SqlAccessStore(_SQLite(path))


def postgres_access(conninfo: str) -> SqlAccessStore:
    return SqlAccessStore(_Postgres(conninfo))


def open_access_store(store: object) -> SqlAccessStore:
    """The AccessStore in the same database as ``store`` (a SQLite or PostgreSQL store)."""
    from bocage.storage.sqlite import SQLiteStore

    if isinstance(store, SQLiteStore):
        return sqlite_access(store.path)
    conninfo = getattr(store, "conninfo", None)
    if isinstance(conninfo, str):
        return postgres_access(conninfo)
    raise TypeError(f"no access store for a {type(store).__name__}")
