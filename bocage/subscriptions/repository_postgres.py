"""Subscriptions in the PostgreSQL entity database (own connection, own table)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

import orjson
import psycopg
from psycopg.types.json import Jsonb

from bocage.domain.errors import AlreadyExists, ServiceUnavailable
from bocage.subscriptions.repository import StoredSubscription, owner_from_json

T = TypeVar("T")
Conn = psycopg.Connection[Any]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS bocage_subscriptions (
    seq bigserial PRIMARY KEY,
    tenant text NOT NULL,
    id text NOT NULL,
    body jsonb NOT NULL,
    UNIQUE (tenant, id)
)
"""


def _row(tenant: str, sub_id: str, body: Any) -> StoredSubscription:
    data = orjson.loads(body) if isinstance(body, str | bytes) else body
    return StoredSubscription(tenant, sub_id, data["doc"], data.get("context"),
                              owner_from_json(data.get("owner")))


def _body(sub: StoredSubscription) -> Jsonb:
    return Jsonb({"doc": sub.doc, "context": sub.context,
                  "owner": sub.owner.to_json() if sub.owner else None})


class PostgresSubscriptions:
    """One connection, serialised by a lock; reconnects once when it broke."""

    def __init__(self, conninfo: str) -> None:
        self._conninfo = conninfo
        self._lock = threading.Lock()
        self._conn: Conn | None = None
        self._call(lambda c: c.execute(_SCHEMA))

    def _connect(self) -> Conn:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self._conninfo, autocommit=True, connect_timeout=5,
                                         application_name="bocage-subscriptions")
        return self._conn

    def _call(self, fn: Callable[[Conn], T]) -> T:
        with self._lock:
            for attempt in (1, 2):
                try:
                    return fn(self._connect())
                except psycopg.OperationalError as exc:
                    if self._conn is not None:
                        self._conn.close()
                    self._conn = None
                    if attempt == 2:
                        raise ServiceUnavailable(f"subscription database unavailable: {exc}",
                                                 retry_after=5) from None
            raise AssertionError("unreachable")

    def create(self, sub: StoredSubscription) -> None:
        try:
            self._call(lambda c: c.execute(
                "INSERT INTO bocage_subscriptions (tenant, id, body) VALUES (%s, %s, %s)",
                (sub.tenant, sub.id, _body(sub))))
        except psycopg.errors.UniqueViolation:
            raise AlreadyExists(f"subscription {sub.id} already exists",
                                instance=sub.id) from None

    def get(self, tenant: str, sub_id: str) -> StoredSubscription | None:
        row = self._call(lambda c: c.execute(
            "SELECT body FROM bocage_subscriptions WHERE tenant = %s AND id = %s",
            (tenant, sub_id)).fetchone())
        return _row(tenant, sub_id, row[0]) if row else None

    def page(self, tenant: str, limit: int, offset: int) -> tuple[list[StoredSubscription], int]:
        def run(c: Conn) -> tuple[list[Any], int]:
            rows = c.execute(
                "SELECT id, body FROM bocage_subscriptions WHERE tenant = %s ORDER BY seq "
                "LIMIT %s OFFSET %s", (tenant, limit, offset)).fetchall()
            total = c.execute("SELECT count(*) FROM bocage_subscriptions WHERE tenant = %s",
                              (tenant,)).fetchone()
            return rows, int(total[0]) if total else 0

        rows, total = self._call(run)
        return [_row(tenant, i, b) for i, b in rows], total

    def replace(self, sub: StoredSubscription) -> bool:
        cur = self._call(lambda c: c.execute(
            "UPDATE bocage_subscriptions SET body = %s WHERE tenant = %s AND id = %s",
            (_body(sub), sub.tenant, sub.id)))
        return cur.rowcount > 0

    def delete(self, tenant: str, sub_id: str) -> bool:
        cur = self._call(lambda c: c.execute(
            "DELETE FROM bocage_subscriptions WHERE tenant = %s AND id = %s", (tenant, sub_id)))
        return cur.rowcount > 0

    def all(self) -> list[StoredSubscription]:
        rows = self._call(lambda c: c.execute(
            "SELECT tenant, id, body FROM bocage_subscriptions ORDER BY seq").fetchall())
        return [_row(t, i, b) for t, i, b in rows]

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
            self._conn = None
