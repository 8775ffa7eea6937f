"""The durable queue of command deliveries, beside the commands (SQLite or PostgreSQL).

One row per device a command reaches (``access_command_deliveries``), in the
same database as the command itself (``access_commands``): a command and its
deliveries are written in one transaction when it is accepted, so a restart
finds every delivery still to send. State changes are conditional updates
(``... WHERE state IN (...)``): a late or repeated event never moves a
delivery backwards.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import orjson

from bocage.commands.downlink import ACKNOWLEDGED, OPEN, PENDING, SENT
from bocage.commands.lighting import CommandRecord, LightingCommand

_DDL = [
    "CREATE TABLE IF NOT EXISTS access_command_deliveries ("
    " id TEXT PRIMARY KEY, command_id TEXT NOT NULL, kind TEXT NOT NULL,"
    " dev_eui TEXT NOT NULL, asset TEXT NOT NULL, network TEXT NOT NULL,"
    " topic TEXT NOT NULL, message TEXT NOT NULL, f_port INTEGER NOT NULL,"
    " payload TEXT NOT NULL, expected TEXT NOT NULL, state TEXT NOT NULL,"
    " attempts INTEGER NOT NULL, next_at TEXT NOT NULL, sent_at TEXT NOT NULL,"
    " updated_at TEXT NOT NULL, detail TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS access_command_deliveries_due"
    " ON access_command_deliveries (state, next_at)",
    "CREATE INDEX IF NOT EXISTS access_command_deliveries_cmd"
    " ON access_command_deliveries (command_id)",
    "CREATE INDEX IF NOT EXISTS access_command_deliveries_dev"
    " ON access_command_deliveries (dev_eui, state)",
]
_COLS = ("id, command_id, kind, dev_eui, asset, network, topic, message, f_port, payload,"
         " expected, state, attempts, next_at, sent_at, updated_at, detail")
_CMD_COLS = "id, at, actor, target, action, level, duration_minutes, reason, scope, status"


@dataclass(frozen=True, slots=True)
class Delivery:
    id: str
    command_id: str
    kind: str
    dev_eui: str
    #: the equipment the device drives
    asset: str
    network: str
    topic: str
    #: the MQTT message body (JSON)
    message: str
    f_port: int
    #: hex
    payload: str
    #: attribute -> value the equipment reports once it obeyed
    expected: dict[str, Any]
    state: str = PENDING
    attempts: int = 0
    next_at: str = ""
    sent_at: str = ""
    updated_at: str = ""
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "devEui": self.dev_eui, "asset": self.asset,
                "networkServer": self.network, "topic": self.topic, "fPort": self.f_port,
                "payload": self.payload, "state": self.state, "attempts": self.attempts,
                "nextAttemptAt": self.next_at if self.state == PENDING and self.next_at
                else None, "sentAt": self.sent_at or None, "updatedAt": self.updated_at,
                "detail": self.detail}

    def _row(self) -> tuple[Any, ...]:
        return (self.id, self.command_id, self.kind, self.dev_eui, self.asset, self.network,
                self.topic, self.message, self.f_port, self.payload,
                orjson.dumps(self.expected).decode(), self.state, self.attempts, self.next_at,
                self.sent_at, self.updated_at, self.detail)


def _delivery(row: Sequence[Any]) -> Delivery:
    return Delivery(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7],
                    int(row[8]), row[9], orjson.loads(row[10]), row[11], int(row[12]),
                    row[13], row[14], row[15], row[16])


def _command(r: Sequence[Any]) -> CommandRecord:
    return CommandRecord(r[0], r[1], r[2], LightingCommand(r[3], r[4], r[7], r[5], r[6]),
                         tuple(orjson.loads(r[8])), r[9])


class CommandQueue:
    """Over the access store's connection source (``SqlAccessStore.dialect``)."""

    def __init__(self, dialect: Any) -> None:
        self._db = dialect
        with self._db.tx(exclusive=True) as cur:
            for stmt in _DDL:
                cur.execute(stmt)

    def _all(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        with self._db.tx(write=False) as cur:
            cur.execute(self._db.sql(sql), tuple(args))
            return list(cur.fetchall())

    def enqueue(self, record: CommandRecord, deliveries: Sequence[Delivery]) -> None:
        """The command and its deliveries, together or not at all."""
        r, c = record, record.command
        with self._db.tx() as cur:
            cur.execute(self._db.sql(f"INSERT INTO access_commands ({_CMD_COLS})"
                                     " VALUES (?,?,?,?,?,?,?,?,?,?)"),
                        (r.id, r.at, r.actor, c.target, c.action, c.level,
                         c.duration_minutes, c.reason, orjson.dumps(list(r.scope)).decode(),
                         r.status))
            self._insert(cur, deliveries)

    def add(self, deliveries: Sequence[Delivery]) -> None:
        with self._db.tx() as cur:
            self._insert(cur, deliveries)

    def _insert(self, cur: Any, deliveries: Iterable[Delivery]) -> None:
        sql = self._db.sql(f"INSERT INTO access_command_deliveries ({_COLS})"
                           " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
        for d in deliveries:
            cur.execute(sql, d._row())

    def command(self, command_id: str) -> CommandRecord | None:
        rows = self._all(f"SELECT {_CMD_COLS} FROM access_commands WHERE id = ?", (command_id,))
        return _command(rows[0]) if rows else None

    def recent(self, limit: int = 200) -> list[CommandRecord]:
        rows = self._all(f"SELECT {_CMD_COLS} FROM access_commands ORDER BY at DESC, id"
                         " LIMIT ?", (limit,))
        return [_command(r) for r in rows]

    def active_commands(self) -> list[CommandRecord]:
        """Commands whose duration may still have to end (not yet expired or failed)."""
        rows = self._all(f"SELECT {_CMD_COLS} FROM access_commands WHERE status IN"
                         " (?,?,?,?) AND duration_minutes IS NOT NULL",
                         ("pending", "sent", "acknowledged", "confirmed"))
        return [_command(r) for r in rows]

    def set_status(self, command_id: str, status: str) -> bool:
        with self._db.tx() as cur:
            cur.execute(self._db.sql("UPDATE access_commands SET status = ?"
                                     " WHERE id = ? AND status <> ?"),
                        (status, command_id, status))
            return bool(cur.rowcount)

    def of_command(self, command_id: str) -> list[Delivery]:
        return [_delivery(r) for r in self._all(
            f"SELECT {_COLS} FROM access_command_deliveries WHERE command_id = ?"
            " ORDER BY kind, dev_eui, id", (command_id,))]

    def get(self, delivery_id: str) -> Delivery | None:
        rows = self._all(f"SELECT {_COLS} FROM access_command_deliveries WHERE id = ?",
                         (delivery_id,))
        return _delivery(rows[0]) if rows else None

    def due(self, now: str, limit: int = 100) -> list[Delivery]:
        return [_delivery(r) for r in self._all(
            f"SELECT {_COLS} FROM access_command_deliveries WHERE state = ? AND next_at <= ?"
            " ORDER BY next_at, id LIMIT ?", (PENDING, now, limit))]

    def next_due(self) -> str | None:
        rows = self._all("SELECT MIN(next_at) FROM access_command_deliveries WHERE state = ?",
                         (PENDING,))
        return rows[0][0] if rows and rows[0][0] else None

    def open_for(self, dev_euis: Sequence[str]) -> list[Delivery]:
        """Deliveries still moving for these devices, oldest first."""
        if not dev_euis:
            return []
        marks = ",".join("?" * len(dev_euis))
        return [_delivery(r) for r in self._all(
            f"SELECT {_COLS} FROM access_command_deliveries WHERE dev_eui IN ({marks})"
            " AND state IN (?,?,?) ORDER BY sent_at, id", (*dev_euis, *OPEN))]

    def in_flight(self) -> list[Delivery]:
        """Orders sent or acknowledged, not yet confirmed (to look for their effect)."""
        return [_delivery(r) for r in self._all(
            f"SELECT {_COLS} FROM access_command_deliveries WHERE state IN (?,?)"
            " AND expected <> '{{}}' ORDER BY sent_at, id", (SENT, ACKNOWLEDGED))]

    def sent_before(self, cutoff: str) -> list[Delivery]:
        return [_delivery(r) for r in self._all(
            f"SELECT {_COLS} FROM access_command_deliveries WHERE state = ? AND sent_at < ?",
            (SENT, cutoff))]

    def claim(self, delivery: Delivery, until: str) -> bool:
        """Take a due delivery for sending (its next try moves to ``until``); False
        when another dispatcher took or changed it first."""
        with self._db.tx() as cur:
            cur.execute(self._db.sql(
                "UPDATE access_command_deliveries SET next_at = ?"
                " WHERE id = ? AND state = ? AND next_at = ?"),
                (until, delivery.id, PENDING, delivery.next_at))
            return bool(cur.rowcount)

    def move(self, delivery: Delivery, from_states: Sequence[str], **changes: Any) -> bool:
        """Write ``changes`` if the delivery is still in one of ``from_states``."""
        new = replace(delivery, **changes)
        marks = ",".join("?" * len(from_states))
        with self._db.tx() as cur:
            cur.execute(self._db.sql(
                "UPDATE access_command_deliveries SET state = ?, attempts = ?, next_at = ?,"
                f" sent_at = ?, updated_at = ?, detail = ? WHERE id = ? AND state IN ({marks})"),
                (new.state, new.attempts, new.next_at, new.sent_at, new.updated_at, new.detail,
                 new.id, *from_states))
            return bool(cur.rowcount)
