"""The audit log's hash chain. Pure.

Every audit record carries the SHA-256 of its own content chained to the hash
of the record before it (``prev``); the first record chains to
:data:`GENESIS`. Changing, inserting or deleting a record in the middle breaks
every hash from there on, which :func:`verify` finds. Dropping records from
the *end* leaves a valid shorter chain: keep the head hash that
``bocage audit verify`` prints somewhere else (a ticket, a printed report) to
detect that too.

The hashed content is a canonical JSON array (sorted keys, no spaces) of
``[seq, at, actor, action, target, detail, prev]``, so a verifier in any
language can recompute it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final

GENESIS: Final = "0" * 64


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """What happened, before it gets its place in the chain."""

    at: str
    actor: str
    action: str
    target: str = ""
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AuditRecord:
    seq: int
    at: str
    actor: str
    action: str
    target: str
    detail: dict[str, Any]
    prev: str
    hash: str

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "at": self.at, "actor": self.actor, "action": self.action,
                "target": self.target, "detail": self.detail, "prev": self.prev,
                "hash": self.hash}


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def record_hash(seq: int, event: AuditEvent, prev: str) -> str:
    content = [seq, event.at, event.actor, event.action, event.target, event.detail, prev]
    return hashlib.sha256(canonical(content).encode()).hexdigest()


def chain(seq: int, event: AuditEvent, prev: str) -> AuditRecord:
    """The record ``event`` becomes at position ``seq`` after a record hashed ``prev``."""
    return AuditRecord(seq, event.at, event.actor, event.action, event.target,
                       event.detail, prev, record_hash(seq, event, prev))


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    records: int
    #: hash of the last record (GENESIS for an empty log)
    head: str
    #: the first record that does not verify, and why
    bad_seq: int | None = None
    reason: str = ""


def verify(records: Iterable[AuditRecord]) -> Verdict:
    """Walk the chain in ``seq`` order; stop at the first broken link."""
    prev, expected, count = GENESIS, 1, 0
    for r in records:
        if r.seq != expected:
            return Verdict(False, count, prev, r.seq,
                           f"record {expected} is missing (found {r.seq} after {expected - 1})")
        if r.prev != prev:
            return Verdict(False, count, prev, r.seq,
                           "its link to the previous record does not match")
        event = AuditEvent(r.at, r.actor, r.action, r.target, r.detail)
        if record_hash(r.seq, event, r.prev) != r.hash:
            return Verdict(False, count, prev, r.seq, "its content does not match its hash")
        prev, expected, count = r.hash, expected + 1, count + 1
    return Verdict(True, count, prev)
