"""A short path for the hottest NGSI-LD routes.

FastAPI's routing, dependency solving and middleware stack cost more than the
NGSI-LD work of a small create or a point read (measured: ~58 % of an in-process
create). The handlers registered here are the very same functions FastAPI routes
to (and documents in OpenAPI); this module only reaches them with less machinery:
one regular expression per route, a Starlette ``Request``, and the same error
mapping as ``bocage.api.errors``.
"""

from __future__ import annotations

import gc
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Final

from fastapi import FastAPI
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from bocage.api.errors import problem_response
from bocage.api.guard import Guard, guarded
from bocage.domain.errors import BocageError

log = logging.getLogger("bocage.api")
Handler = Callable[..., Awaitable[Response]]
_PARAM = re.compile(r"\{(\w+)(:path)?\}")


def _compile(template: str) -> re.Pattern[str]:
    """``/entities/{entity_id:path}/attrs/{attr}`` -> a regex with named groups."""
    out, last = [], 0
    for m in _PARAM.finditer(template):
        out.append(re.escape(template[last : m.start()]))
        out.append(f"(?P<{m.group(1)}>{'.+' if m.group(2) else '[^/]+'})")
        last = m.end()
    out.append(re.escape(template[last:]))
    return re.compile("".join(out))


@dataclass
class FastRoutes:
    """(method, path template) -> handler, tried in registration order."""

    routes: list[tuple[str, re.Pattern[str], str, Handler]] = field(default_factory=list)
    #: called with (method, route template, status, seconds) after each response
    observe: Callable[[str, str, int, float], None] | None = None

    def add(self, method: str, template: str, handler: Handler) -> None:
        self.routes.append((method, _compile(template), template, handler))

    def match(self, method: str, path: str) -> tuple[str, Handler, dict[str, str]] | None:
        for m_, pattern, template, handler in self.routes:
            if m_ == method:
                found = pattern.fullmatch(path)
                if found is not None:
                    return template, handler, found.groupdict()
        return None

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> bool:
        """Serve the request if a route matches; False lets FastAPI take it."""
        hit = self.match(scope["method"], scope["path"])
        if hit is None:
            return False
        template, handler, params = hit
        start = time.perf_counter()
        try:
            response = await handler(request=Request(scope, receive), **params)
        except BocageError as err:
            response = problem_response(err)
        except ClientDisconnect:  # the client left mid-request: nobody to answer
            log.debug("client gone during %s %s", scope["method"], scope["path"])
            return True
        except Exception:
            log.exception("unexpected error on %s %s", scope["method"], scope["path"])
            response = problem_response(BocageError("internal error; see the server log"))
        await response(scope, receive, send)
        if self.observe is not None:
            self.observe(scope["method"], template, response.status_code,
                         time.perf_counter() - start)
        return True


class BocageApp(FastAPI):
    """FastAPI, with the hot routes answered before its machinery."""

    def __init__(self, fast: FastRoutes, guard: Guard, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fast = fast
        self.guard = guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            # every request, fast path included, passes the guard first
            await guarded(self.guard, scope, receive, _echo_tenant(scope, send), self._serve)
            return
        if scope["type"] == "lifespan":  # the server starts serving this app
            tune_gc()
        await super().__call__(scope, receive, send)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not await self.fast.handle(scope, receive, send):
            await super().__call__(scope, receive, send)


#: gen0 threshold of a serving process (CPython's default is 700 allocations).
GC_THRESHOLDS: Final = (50_000, 20, 10)


def tune_gc() -> None:
    """Make the cyclic garbage collector cheap for a server (idempotent).

    A batch of 1000 entities allocates ~100k containers that live until the
    response is sent; with the default thresholds they are promoted and trigger
    full collections over the whole heap, which took a third of a batch upsert
    (measured in-process: 1.9 s of gen-2 collections for 20k entities, upsert
    2.9k -> 4.5k entities/s with this). So: freeze what start-up built (modules,
    the app, @context maps: never garbage) out of the collector's sight, and
    collect the young generation every 50k allocations instead of 700. Request
    data holds no reference cycles, so reference counting frees it anyway; the
    collector only has to find the rare cycle, later.
    """
    if gc.get_threshold() == GC_THRESHOLDS:
        return
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def _echo_tenant(scope: Scope, send: Send) -> Send:
    """A response names the tenant its request named (NGSILD-Tenant, clause 6.3.14)."""
    tenant = next((v for k, v in scope["headers"] if k == b"ngsild-tenant"), None)
    if tenant is None:
        return send

    async def sender(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []),
                                               (b"ngsild-tenant", tenant)]}
        await send(message)

    return sender
