"""A client that leaves mid-request is not an error of ours."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import Response

from bocage.api.fastpath import FastRoutes


def test_a_client_gone_mid_body_is_neither_answered_nor_logged_as_an_error(
        caplog: pytest.LogCaptureFixture) -> None:
    routes = FastRoutes()

    async def handler(request: Request) -> Response:
        await request.body()  # the client disconnects before sending it
        return Response("never")

    routes.add("POST", "/things", handler)
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/things", "headers": [],
             "query_string": b""}
    with caplog.at_level(logging.WARNING, logger="bocage.api"):
        assert asyncio.run(routes.handle(scope, receive, send)) is True
    assert sent == []
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
