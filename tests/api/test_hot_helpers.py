"""Helpers made cheap for the hot routes: same answers as the slow versions."""

from __future__ import annotations

import datetime as dt
import gc
import re

import pytest
from starlette.requests import Request
from starlette.testclient import TestClient

from bocage.api.fastpath import GC_THRESHOLDS, BocageApp, FastRoutes
from bocage.api.guard import Guard
from bocage.api.negotiation import header, tenant_of
from bocage.api.services import _utc_now
from bocage.domain.errors import BadRequestData
from bocage.domain.timefmt import format_utc
from bocage.ngsild.context import ContextResolver
from bocage.ngsild.parse import parse_entity


def _request(*headers: tuple[bytes, bytes]) -> Request:
    return Request({"type": "http", "method": "GET", "path": "/", "headers": list(headers)})


def test_header_reads_like_starlette() -> None:
    request = _request((b"accept", b"application/json"), (b"x-a", b"1"), (b"x-a", b"2"),
                       (b"x-l", "é".encode("latin-1")))
    for name in ("accept", "x-a", "x-l", "missing"):
        assert header(request, name.encode()) == request.headers.get(name)
    assert tenant_of(_request((b"ngsi-ld-tenant", b"t1"))) == "t1"
    assert tenant_of(_request()) == ""


def test_the_cached_clock_formats_like_format_utc() -> None:
    before = format_utc(dt.datetime.now(dt.UTC))
    now = _utc_now()
    after = format_utc(dt.datetime.now(dt.UTC))
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", now)
    assert before <= now <= after


def test_observed_at_is_normalised_every_time_and_still_validated() -> None:
    terms = ContextResolver(lambda u: None, lambda *a: None, 5, 10**6).resolve(None)

    def observed(text: object) -> object:
        body = {"id": "urn:x:1", "type": "T", "p": {"value": 1, "observedAt": text}}
        [inst] = next(v for k, v in parse_entity(body, terms).items() if k.endswith("/p"))
        return inst["observedAt"]

    for _ in range(2):  # the second time from the cache
        assert observed("2026-01-01T01:00:00+01:00") == "2026-01-01T00:00:00.000Z"
    for bad in ("yesterday", 3):
        with pytest.raises(BadRequestData, match="observedAt"):
            observed(bad)


def test_serving_tunes_the_garbage_collector(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[object] = []
    monkeypatch.setattr(gc, "get_threshold", lambda: (700, 10, 10))
    monkeypatch.setattr(gc, "freeze", lambda: calls.append("freeze"))
    monkeypatch.setattr(gc, "set_threshold", lambda *t: calls.append(t))
    guard = Guard(None, auth=False, max_body=1000, login_per_minute=1)
    with TestClient(BocageApp(FastRoutes(), guard)):  # runs the lifespan, as a server does
        pass
    assert calls == ["freeze", GC_THRESHOLDS]
