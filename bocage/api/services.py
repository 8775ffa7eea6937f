"""What the routes need, built once per app and passed explicitly (no module globals)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bocage.ngsild.context import ContextResolver
from bocage.security.oidc import OidcClient
from bocage.security.service import Security
from bocage.settings import Settings
from bocage.storage.base import Store

_second: list[tuple[int, str]] = [(-1, "")]  # (epoch second, its formatted prefix)


def _utc_now() -> str:
    """Now, as ``format_utc`` writes it; every write asks, so the formatted second
    is kept (strftime cost more than the rest of a small create)."""
    ms = time.time_ns() // 1_000_000
    second, milli = divmod(ms, 1000)
    cached, prefix = _second[0]
    if cached != second:
        prefix = time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(second))
        _second[0] = (second, prefix)
    return f"{prefix}{milli:03d}Z"


@dataclass(frozen=True)
class Services:
    settings: Settings
    #: the store as the current request's principal may see it (a PrincipalStore)
    store: Store
    contexts: ContextResolver
    #: accounts, keys, sessions, audit
    security: Security
    #: OpenID Connect login, when configured
    oidc: OidcClient | None
    #: the clock, as an ISO UTC string (tests may pass a fixed one)
    now: Callable[[], str] = field(default=_utc_now)


def utc_now() -> str:
    return _utc_now()
