"""What the routes need, built once per app and passed explicitly (no module globals)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from bocage.domain.timefmt import format_utc
from bocage.ngsild.context import ContextResolver
from bocage.settings import Settings
from bocage.storage.base import Store


def _utc_now() -> str:
    return format_utc(dt.datetime.now(dt.UTC))


@dataclass(frozen=True)
class Services:
    settings: Settings
    store: Store
    contexts: ContextResolver
    #: the clock, as an ISO UTC string (tests may pass a fixed one)
    now: Callable[[], str] = field(default=_utc_now)
