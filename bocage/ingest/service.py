"""Ingestion, assembled: inbox + catalogue + codecs + pipeline worker, one per app.

Cheap to build; ``start()`` opens the inbox file and starts the worker (at app
start-up, so records left pending by a previous run are drained at once), and
``close()`` stops both. Every entry point also starts it lazily, so an app
served without a lifespan (some tests) still ingests.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future

from bocage.codecs.registry import CodecRegistry, builtin_registry
from bocage.devices.catalogue import Catalogue
from bocage.domain.errors import ResourceNotFound
from bocage.domain.terms import Terms
from bocage.domain.timefmt import format_utc, parse_datetime
from bocage.ingest.catalogue_cache import CatalogueCache
from bocage.ingest.deadletters import REPLAYED, DeadLetter
from bocage.ingest.inbox import Accepted, Inbox
from bocage.ingest.inbox_sqlite import SQLiteInbox, inbox_path
from bocage.ingest.outcomes import Outcome
from bocage.ingest.record import Uplink
from bocage.ingest.worker import Pipeline, Worker
from bocage.jscodec.library import JsCodecLibrary
from bocage.jscodec.sandbox import Limits, Sandbox
from bocage.settings import Settings
from bocage.storage.base import Store
from bocage.storage.observed import ObservedStore

log = logging.getLogger("bocage.ingest")


def js_limits(settings: Settings) -> Limits:
    return Limits(time_ms=settings.js_codec_time_limit_ms,
                  memory_mb=settings.js_codec_memory_limit_mb)


class Ingestion:
    def __init__(self, settings: Settings, store: Store, terms: Terms,
                 now: Callable[[], str], codecs: CodecRegistry | None = None) -> None:
        self.settings = settings
        #: JavaScript codecs kept in the catalogue; the registry resolves them
        self.js_codecs = JsCodecLibrary(store, terms, now, Sandbox(js_limits(settings)))
        self.codecs = codecs if codecs is not None else builtin_registry().with_resolver(
            self.js_codecs.codec)
        self.catalogue = Catalogue(store, terms, self.codecs, now)
        cache = None
        if isinstance(store, ObservedStore):  # it tells the cache what changes
            cache = CatalogueCache(self.catalogue, terms)
            store.listeners = (*store.listeners, cache)
        self.pipeline = Pipeline(store, self.catalogue, self.codecs, terms, now, cache)
        self._now = now
        #: the clock (ISO UTC string), for connectors that need a reception time
        self.now = now
        self._lock = threading.Lock()
        self._inbox: Inbox | None = None
        self._worker: Worker | None = None
        #: told what became of each processed message (supervision's codec error rates)
        self.on_outcomes: Callable[[str, list[Outcome]], None] | None = None

    @property
    def started(self) -> bool:
        return self._inbox is not None

    def start_if_used(self) -> None:
        """At app start-up: drain what a previous run left, without creating
        anything (built-in models, the inbox file) in a database that never ingested."""
        if inbox_path(self.settings.database_url, self.settings.inbox_path).exists():
            self.start()

    @property
    def inbox(self) -> Inbox:
        return self.start()

    def start(self) -> Inbox:
        with self._lock:
            if self._inbox is None:
                self.catalogue.ensure_builtin_models()
                inbox = SQLiteInbox(
                    inbox_path(self.settings.database_url, self.settings.inbox_path),
                    max_backlog=self.settings.ingest_max_backlog, now=self._now)
                self._worker = Worker(inbox, self.pipeline, housekeeping=self.prune,
                                      on_outcomes=self._outcomes)
                self._worker.start()
                self._inbox = inbox
            return self._inbox

    def _outcomes(self, tenant: str, found: list[Outcome]) -> None:
        if self.on_outcomes is not None:
            self.on_outcomes(tenant, found)

    def close(self) -> None:
        with self._lock:
            if self._worker is not None:
                self._worker.stop()
            if self._inbox is not None:
                self._inbox.close()
            self._inbox = self._worker = None

    def prune(self) -> int:
        """Delete processed records older than the retention (dead letters stay)."""
        days = self.settings.ingest_retention_days
        if days <= 0:
            return 0
        cutoff = format_utc(parse_datetime(self._now()) - dt.timedelta(days=days))
        deleted = self.inbox.prune(cutoff)
        if deleted:
            log.info("inbox pruned: %d processed records accepted before %s", deleted, cutoff)
        return deleted

    def backlog(self) -> int:
        """Records accepted and not yet processed (0 before the inbox is opened)."""
        inbox = self._inbox
        return 0 if inbox is None else inbox.backlog()

    def accept(self, records: Sequence[Uplink]) -> Future[Accepted]:
        return self.inbox.accept(records)

    def accept_soon(self, records: Sequence[Uplink]) -> asyncio.Future[Accepted]:
        """``accept`` from the event loop (answered on it, once committed)."""
        return self.inbox.accept_soon(records)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        self.start()
        assert self._worker is not None
        return self._worker.wait_idle(timeout)

    def replay(self, letter_id: int) -> DeadLetter:
        """Run a dead letter through the pipeline again; returns it, settled."""
        inbox = self.inbox
        letter = inbox.dead_letter(letter_id)
        if letter is None:
            raise ResourceNotFound(f"no dead letter {letter_id}")
        if letter.status != REPLAYED:
            dead = self.pipeline.run([(letter.seq, letter.record)])
            inbox.settle_dead_letter(letter_id, dead[0] if dead else None, self._now()).result()
        out = inbox.dead_letter(letter_id)
        assert out is not None
        return out
