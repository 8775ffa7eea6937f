"""The front door: every HTTP request passes here before any route (fast path included).

In order: request size limit, rate limit (login and token endpoints), who is
calling (API key, session cookie, or nobody), CSRF for cookie-authenticated
writes, the route rule (``policy``), then the request runs *as* that
principal (``scoped_store.acting_as``), so the store every route uses filters
by the caller's scopes. Every response gets the security headers.

With ``BOCAGE_AUTH=off`` every caller acts as the all-seeing system principal
and every response says so (``X-Bocage-Auth: off``); the server refuses to
listen beyond loopback in that mode (``bocage.cli``).
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Final
from urllib.parse import urlsplit

from starlette.types import Message, Receive, Scope, Send

from bocage.api.calls import run
from bocage.api.errors import problem_response
from bocage.api.policy import Rule, rule_for
from bocage.domain.access import ANONYMOUS, SYSTEM, Principal
from bocage.domain.errors import (
    BocageError,
    Forbidden,
    PayloadTooLarge,
    TooManyRequests,
    Unauthorized,
)
from bocage.security.access_store import Session
from bocage.security.scoped_store import acting_as
from bocage.security.service import KEY_PREFIX, Security

log = logging.getLogger("bocage.security")

SESSION_COOKIE: Final = "bocage_session"
CSRF_HEADER: Final = b"x-csrf-token"
_UNSAFE: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})

#: a strict policy: the API serves no script, style or frame at all
API_CSP: Final = ("default-src 'none'; frame-ancestors 'none'; base-uri 'none'; "
                  "form-action 'self'")
#: the API docs page: its scripts and styles from files, never inline
DOCS_CSP: Final = ("default-src 'none'; script-src 'self'; "
                   "style-src 'self'; img-src 'self' data:; "
                   "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
                   "form-action 'none'")
#: the web UI: its own scripts, styles and images only (map tiles from their configured origin)
UI_CSP: Final = ("default-src 'self'; script-src 'self'; style-src 'self'; "
                 "img-src 'self' data:{tiles}; connect-src 'self'; object-src 'none'; "
                 "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
_BASE_HEADERS: Final = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
_HSTS: Final = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")


@dataclass
class RateLimiter:
    """A token bucket per client address: ``per_minute`` attempts, refilled steadily."""

    per_minute: int
    buckets: dict[str, tuple[float, float]] = field(default_factory=dict)

    def take(self, client: str) -> None:
        now = time.monotonic()
        tokens, last = self.buckets.get(client, (float(self.per_minute), now))
        tokens = min(float(self.per_minute), tokens + (now - last) * self.per_minute / 60.0)
        if tokens < 1.0:
            wait = int((1.0 - tokens) * 60.0 / self.per_minute) + 1
            raise TooManyRequests(f"too many attempts; retry in {wait} s", retry_after=wait)
        self.buckets[client] = (tokens - 1.0, now)
        if len(self.buckets) > 100_000:  # forget the oldest buckets: bounded memory
            for key in list(self.buckets)[:50_000]:
                del self.buckets[key]


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def client_of(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


@dataclass
class Admission:
    principal: Principal
    session: Session | None = None


class Guard:
    def __init__(self, security: Security | None, *, auth: bool, max_body: int,
                 login_per_minute: int, tiles_url: str = "") -> None:
        if auth and security is None:
            raise ValueError("authentication needs an access store")
        self.security = security
        parts = urlsplit(tiles_url)
        tiles = f" {parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""
        self.ui_csp = UI_CSP.format(tiles=tiles).encode()
        self.auth = auth
        self.max_body = max_body
        self.limiter = RateLimiter(login_per_minute)

    # ------------------------------------------------------------- admit

    async def admit(self, scope: Scope) -> Admission:
        """Who is calling and whether the rule lets them; raises a BocageError."""
        method, path = scope["method"], scope["path"]
        length = _header(scope, b"content-length")
        if length is not None and length.isascii() and length.isdigit() \
                and int(length) > self.max_body:
            raise PayloadTooLarge(f"request body larger than {self.max_body} bytes")
        rule = rule_for(method, path)
        if rule.limited:
            self.limiter.take(client_of(scope))
        if not self.auth:
            return Admission(SYSTEM)
        if rule.own_auth:
            return Admission(ANONYMOUS)
        admission = await self._identify(scope)
        self._check(rule, admission.principal)
        if (admission.session is not None and method in _UNSAFE and not rule.own_csrf
                and not path.startswith("/auth/")):
            given = _header(scope, CSRF_HEADER) or ""
            if not hmac.compare_digest(given.encode(), admission.session.csrf_token.encode()):
                raise Forbidden("missing or wrong CSRF token: send the X-CSRF-Token header "
                                "given at login")
        return admission

    async def _identify(self, scope: Scope) -> Admission:
        security = self.security
        assert security is not None
        authorization = _header(scope, b"authorization")
        if authorization is not None:
            kind, _, token = authorization.partition(" ")
            token = token.strip()
            if kind.lower() != "bearer" or not token:
                raise Unauthorized("send Authorization: Bearer <API key>")
            if not token.startswith(KEY_PREFIX):
                raise Unauthorized("invalid, expired or revoked API key")
            # a key seen in the last seconds is judged inline: a thread hop costs
            # more than the check (measured: a quarter of a point read's CPU)
            principal = security.cached_key_principal(token)
            if principal is None:
                principal = await run(lambda: security.key_principal(token))
            return Admission(principal)
        cookie = _header(scope, b"cookie")
        if cookie:
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(cookie)
            except Exception:  # a malformed Cookie header: as if absent
                return Admission(ANONYMOUS)
            morsel = jar.get(SESSION_COOKIE)
            if morsel is not None and morsel.value:
                found = await run(lambda: security.session(morsel.value))
                if found is not None:
                    return Admission(found[0], found[1])
        return Admission(ANONYMOUS)

    @staticmethod
    def _check(rule: Rule, principal: Principal) -> None:
        if rule.action is None or rule.anonymous:
            return
        if principal is ANONYMOUS:
            raise Unauthorized("authentication required: send Authorization: Bearer <API key> "
                               "or log in (POST /auth/login)")
        if not principal.can(rule.action):
            roles = ", ".join(principal.roles) or "none"
            raise Forbidden(f"your roles ({roles}) do not allow {rule.action.value}")
        if rule.root and principal.scopes(rule.action) is not None:
            raise Forbidden(f"{rule.action.value} is instance-wide: it needs a grant on /")

    # ----------------------------------------------------------- headers

    def headers(self, scope: Scope, send: Send) -> Send:
        path = scope["path"]
        if path == "/ui" or path.startswith("/ui/"):
            csp = self.ui_csp
        else:
            csp = (DOCS_CSP if path == "/docs" else API_CSP).encode()
        extra = [*_BASE_HEADERS, (b"content-security-policy", csp)]
        if scope.get("scheme") == "https":
            extra.append(_HSTS)
        if not self.auth:
            extra.append((b"x-bocage-auth", b"off"))
        if path.startswith("/auth/"):
            extra.append((b"cache-control", b"no-store"))

        async def sender(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        return sender

    def limit_body(self, receive: Receive) -> Receive:
        """Count the bytes of a body sent without Content-Length (chunked)."""
        seen = 0
        limit = self.max_body

        async def receiver() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise PayloadTooLarge(f"request body larger than {limit} bytes")
            return message

        return receiver


async def guarded(guard: Guard, scope: Scope, receive: Receive, send: Send,
                  inner: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
    """Run ``inner`` for an HTTP request behind the guard."""
    send = guard.headers(scope, send)
    try:
        admission = await guard.admit(scope)
    except BocageError as err:
        await problem_response(err)(scope, receive, send)
        return
    scope["bocage.principal"] = admission.principal
    scope.setdefault("state", {})["principal"] = admission.principal  # request.state
    with acting_as(admission.principal):
        await inner(scope, guard.limit_body(receive), send)


__all__ = ["SESSION_COOKIE", "Guard", "guarded"]
