"""Subscriptions in the SQLite entity database (own connection, own table)."""

from __future__ import annotations

import sqlite3
import threading
from typing import Any

import orjson

from bocage.domain.errors import AlreadyExists
from bocage.subscriptions.repository import StoredSubscription, owner_from_json

_SCHEMA = """
CREATE TABLE IF NOT EXISTS subscriptions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    body BLOB NOT NULL,
    UNIQUE (tenant, id)
);
"""


def _row(tenant: str, sub_id: str, body: bytes) -> StoredSubscription:
    data = orjson.loads(body)
    return StoredSubscription(tenant, sub_id, data["doc"], data.get("context"),
                              owner_from_json(data.get("owner")))


def _body(sub: StoredSubscription) -> bytes:
    return orjson.dumps({"doc": sub.doc, "context": sub.context,
                         "owner": sub.owner.to_json() if sub.owner else None})


class SQLiteSubscriptions:
    def __init__(self, path: str) -> None:
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA busy_timeout = 10000")
        self._conn.execute("PRAGMA synchronous = FULL")
        self._lock = threading.Lock()
        with self._lock:
            self._conn.executescript(_SCHEMA)

    def _run(self, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        with self._lock:
            return self._conn.execute(sql, params)

    def create(self, sub: StoredSubscription) -> None:
        try:
            self._run("INSERT INTO subscriptions (tenant, id, body) VALUES (?, ?, ?)",
                      (sub.tenant, sub.id, _body(sub)))
        except sqlite3.IntegrityError:
            raise AlreadyExists(f"subscription {sub.id} already exists",
                                instance=sub.id) from None

    def get(self, tenant: str, sub_id: str) -> StoredSubscription | None:
        row = self._run("SELECT body FROM subscriptions WHERE tenant = ? AND id = ?",
                        (tenant, sub_id)).fetchone()
        return _row(tenant, sub_id, row[0]) if row else None

    def page(self, tenant: str, limit: int, offset: int) -> tuple[list[StoredSubscription], int]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, body FROM subscriptions WHERE tenant = ? ORDER BY seq "
                "LIMIT ? OFFSET ?", (tenant, limit, offset)).fetchall()
            total = self._conn.execute(
                "SELECT count(*) FROM subscriptions WHERE tenant = ?", (tenant,)).fetchone()[0]
        return [_row(tenant, i, b) for i, b in rows], int(total)

    def replace(self, sub: StoredSubscription) -> bool:
        cur = self._run("UPDATE subscriptions SET body = ? WHERE tenant = ? AND id = ?",
                        (_body(sub), sub.tenant, sub.id))
        return cur.rowcount > 0

    def delete(self, tenant: str, sub_id: str) -> bool:
        cur = self._run("DELETE FROM subscriptions WHERE tenant = ? AND id = ?",
                        (tenant, sub_id))
        return cur.rowcount > 0

    def all(self) -> list[StoredSubscription]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT tenant, id, body FROM subscriptions ORDER BY seq").fetchall()
        return [_row(t, i, b) for t, i, b in rows]

    def close(self) -> None:
        with self._lock:
            self._conn.close()
