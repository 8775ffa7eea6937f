"""Summaries are reused for ttl seconds, then refreshed in the background (one at a time)."""

from __future__ import annotations

import threading

from bocage.web.cache import SummaryCache
from bocage.web.equipment import Equipment, Place


def item(n: int) -> Equipment:
    return Equipment(id=f"urn:{n}", type="Streetlight", domain="lighting", status="ok",
                     reason="", name=str(n), place=Place(), lon=None, lat=None,
                     last_seen=None, values=(), device=None)


class Loader:
    def __init__(self) -> None:
        self.calls: list[str] = []
        self.release = threading.Event()
        self.release.set()
        self.done = threading.Event()

    def __call__(self, tenant: str) -> list[Equipment]:
        self.release.wait(5)
        self.calls.append(tenant)
        self.done.set()
        return [item(len(self.calls))]


def test_fresh_then_stale_while_one_background_refresh_runs() -> None:
    now = [0.0]
    loader = Loader()
    cache = SummaryCache(loader, ttl=10, clock=lambda: now[0])
    assert cache.get("") == [item(1)]
    now[0] = 5
    assert cache.get("") == [item(1)] and loader.calls == [""]  # within ttl: no load
    now[0] = 11
    loader.release.clear()
    loader.done.clear()
    assert cache.get("") == [item(1)]  # stale copy served at once
    assert cache.get("") == [item(1)]  # and no second refresh started meanwhile
    loader.release.set()
    assert loader.done.wait(5)
    for _ in range(100):
        if cache.get("") == [item(2)]:
            break
        threading.Event().wait(0.01)
    assert cache.get("") == [item(2)]
    assert loader.calls == ["", ""]


def test_tenants_are_kept_apart_and_ttl_zero_always_loads() -> None:
    loader = Loader()
    cache = SummaryCache(loader, ttl=10)
    cache.get("a")
    cache.get("b")
    cache.get("a")
    assert loader.calls == ["a", "b"]
    always = SummaryCache(loader, ttl=0)
    always.get("a")
    always.get("a")
    assert loader.calls == ["a", "b", "a", "a"]
