"""The ObservedStore: before/after of every committed mutation, to every listener."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bocage.ngsild import mutations as mut
from bocage.storage.base import Mutation
from bocage.storage.observed import Changed, ObservedStore
from bocage.storage.sqlite import SQLiteStore

T0 = "2026-01-01T00:00:00.000Z"


class Listener:
    def __init__(self, tenants: set[str], hold: bool = False) -> None:
        self.tenants = tenants
        self.hold = hold
        self.seen: list[tuple[str, list[Changed]]] = []
        self.held: list[Callable[[], None]] = []
        self.called = threading.Event()

    def wants(self, tenant: str) -> bool:
        return tenant in self.tenants

    def changed(self, tenant: str, changes: list[Changed], release: Callable[[], None]) -> None:
        self.seen.append((tenant, changes))
        self.called.set()
        if self.hold:
            self.held.append(release)
        else:
            release()


def entity(value: int) -> dict[str, Any]:
    return {"id": "urn:e:1", "type": ["https://ex.org/T"],
            "https://ex.org/v": [{"type": "Property", "value": value}]}


def test_before_and_after_reach_every_listener_and_the_write_waits_for_them(
        tmp_path: Path) -> None:
    inner = SQLiteStore(str(tmp_path / "db.sqlite"))
    fast, slow = Listener({"t"}), Listener({"t"}, hold=True)
    store = ObservedStore(inner, fast, slow)
    try:
        future = store.submit("t", [Mutation("urn:e:1", mut.create(entity(1), T0)),
                                    Mutation("urn:e:2", mut.delete_entity("urn:e:2"))])
        assert slow.called.wait(5)  # committed, handed over, not yet released
        assert not future.done()
        slow.hold = False
        slow.held.pop()()
        created, missing = future.result(5)
        assert isinstance(missing, Exception)  # a failed mutation is no change
        [(tenant, changes)] = fast.seen
        assert tenant == "t" and [(i, b) for i, b, _ in changes] == [("urn:e:1", None)]
        assert changes[0][2] == created
        store.apply("t", [Mutation("urn:e:1", mut.merge(
            {"id": "urn:e:1", "https://ex.org/v": [{"type": "Property", "value": 2}]}, T0))])
        _, [(_, before, after)] = fast.seen[1]
        assert before is not None and after is not None
        assert before["https://ex.org/v"][0]["value"] == 1
        assert after["https://ex.org/v"][0]["value"] == 2
    finally:
        inner.close()


def test_a_tenant_nobody_wants_goes_straight_to_the_store(tmp_path: Path) -> None:
    inner = SQLiteStore(str(tmp_path / "db.sqlite"))
    listener = Listener({"other"})
    store = ObservedStore(inner, listener)
    try:
        store.apply("t", [Mutation("urn:e:1", mut.create(entity(1), T0))])
        assert listener.seen == []
        assert store.get("t", "urn:e:1") is not None
    finally:
        inner.close()
