"""The pipeline worker: one thread draining the inbox in order, into the Store.

At-least-once with idempotent effects: the processed marker moves only after
the Store committed a batch, so a crash in between replays that batch on
restart, and replaying a merge of the same observations changes nothing.
A batch the Store refuses for want of capacity is retried, never skipped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

from bocage.codecs.model import ModelSpec
from bocage.codecs.registry import Codec, CodecRegistry
from bocage.devices.catalogue import TENANT, Catalogue
from bocage.devices.records import DeviceRecord
from bocage.domain.errors import BocageError, ServiceUnavailable
from bocage.domain.terms import Terms
from bocage.ingest import deadletters as reasons
from bocage.ingest.apply import to_mutation
from bocage.ingest.catalogue_cache import CatalogueCache
from bocage.ingest.deadletters import NewDeadLetter
from bocage.ingest.inbox import Inbox
from bocage.ingest.outcomes import Outcome, outcomes
from bocage.ingest.pipeline import Rejected, needs_device, process
from bocage.ingest.record import Uplink
from bocage.storage.base import Mutation, Store

log = logging.getLogger("bocage.ingest")
BATCH = 500


class Pipeline:
    """Records -> mutations (+ dead letters); shared by the worker and replays."""

    def __init__(self, store: Store, catalogue: Catalogue, codecs: CodecRegistry,
                 terms: Terms, now: Callable[[], str],
                 cache: CatalogueCache | None = None) -> None:
        self.store = store
        self.catalogue = catalogue
        #: devices and models kept between batches (None: read each batch)
        self.cache = cache
        self.codecs = codecs
        self.terms = terms
        self.now = now
        #: told each batch once the Store committed it (commands follow their acks)
        self.listeners: tuple[Callable[[list[Uplink]], None], ...] = ()

    def plan(self, seq: int, record: Uplink,
             seen: _Seen | None = None) -> list[Mutation] | NewDeadLetter:
        seen = seen if seen is not None else self._seen()
        try:
            device = seen.device(record.dev_eui) if (
                needs_device(record) and record.dev_eui) else None
            model = seen.model(device.model) if device is not None else None
            patches = process(record, device, model, seen)
            now = self.now()
            return [to_mutation(p, self.terms, now) for p in patches]
        except Rejected as exc:
            return NewDeadLetter(record, exc.reason, exc.detail, seq)
        except ServiceUnavailable:
            raise
        except BocageError as exc:  # e.g. a patch the NGSI-LD parser refuses
            return NewDeadLetter(record, reasons.STORE_REJECTED, exc.detail, seq)

    def run(self, batch: list[tuple[int, Uplink]]) -> list[NewDeadLetter]:
        """Apply a batch to the Store; returns its dead letters."""
        dead: list[NewDeadLetter] = []
        mutations: list[Mutation] = []
        owners: list[tuple[int, Uplink]] = []
        seen = self._seen()  # one look-up per device, model and codec per batch
        for seq, record in batch:
            planned = self.plan(seq, record, seen)
            if isinstance(planned, NewDeadLetter):
                dead.append(planned)
                continue
            mutations.extend(planned)
            owners.extend([(seq, record)] * len(planned))
        if mutations:
            results = self.store.apply(TENANT, mutations)
            failed: dict[int, NewDeadLetter] = {}
            for (seq, record), result in zip(owners, results, strict=True):
                if isinstance(result, BocageError) and seq not in failed:
                    failed[seq] = NewDeadLetter(record, reasons.STORE_REJECTED,
                                                result.detail, seq)
            dead.extend(failed.values())
        for listener in self.listeners:
            listener([record for _, record in batch])
        return sorted(dead, key=lambda d: d.seq)

    def _seen(self) -> _Seen:
        return _Seen(self.cache if self.cache is not None else self.catalogue, self.codecs)


class _Lookup(Protocol):
    def device(self, eui: str) -> DeviceRecord | None: ...

    def model(self, ident: str) -> ModelSpec | None: ...


class _Seen:
    """The catalogue and the codecs as one batch sees them: each device, model and
    codec looked up once.

    A batch is planned in a few milliseconds; a catalogue change lands between
    two batches, as it would between two uplinks.
    """

    def __init__(self, catalogue: _Lookup, codecs: CodecRegistry) -> None:
        self._catalogue = catalogue
        self._codecs = codecs
        self._devices: dict[str, DeviceRecord | None] = {}
        self._models: dict[str, ModelSpec | None] = {}
        self._codec_of: dict[str, Codec | None] = {}

    def get(self, codec_id: str) -> Codec | None:
        """A codec by id (JavaScript codecs are resolved from the catalogue)."""
        try:
            return self._codec_of[codec_id]
        except KeyError:
            found = self._codec_of[codec_id] = self._codecs.get(codec_id)
            return found

    def device(self, eui: str) -> DeviceRecord | None:
        try:
            return self._devices[eui]
        except KeyError:
            found = self._devices[eui] = self._catalogue.device(eui)
            return found

    def model(self, ident: str) -> ModelSpec | None:
        try:
            return self._models[ident]
        except KeyError:
            found = self._models[ident] = self._catalogue.model(ident)
            return found


class Worker:
    def __init__(self, inbox: Inbox, pipeline: Pipeline,
                 housekeeping: Callable[[], object] | None = None,
                 every: float = 600.0,
                 on_outcomes: Callable[[str, list[Outcome]], None] | None = None) -> None:
        self._inbox = inbox
        self._pipeline = pipeline
        #: told what became of each message of a batch once it is processed (supervision)
        self._on_outcomes = on_outcomes
        #: run when idle, at most every ``every`` seconds (inbox pruning)
        self._housekeeping = housekeeping
        self._every = every
        self._last_housekeeping = -every
        self._stop = threading.Event()
        self._idle = threading.Condition()
        self._busy = False
        self._thread = threading.Thread(target=self._run, name="bocage-ingest-worker",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """True once everything accepted so far is processed (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._busy or self._inbox.backlog():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(min(left, 0.05))
        return True

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._idle:
                self._busy = True
            try:
                batch = self._inbox.pending(BATCH)
                if batch:
                    self._drain(batch)
                    continue
            except Exception:  # keep draining: the batch stays pending and is retried
                log.exception("ingest pipeline batch failed; retrying")
                self._stop.wait(1.0)
                continue
            finally:
                with self._idle:
                    self._busy = False
                    self._idle.notify_all()
            self._keep_house()
            self._inbox.wait_for_records(0.5)

    def _keep_house(self) -> None:
        if self._housekeeping is None or time.monotonic() - self._last_housekeeping < self._every:
            return
        self._last_housekeeping = time.monotonic()
        try:
            self._housekeeping()
        except Exception:  # the next round tries again; ingestion goes on meanwhile
            log.exception("ingest housekeeping failed")

    def _drain(self, batch: list[tuple[int, Uplink]]) -> None:
        while True:
            try:
                dead = self._pipeline.run(batch)
                break
            except ServiceUnavailable as exc:  # store busy or down: wait, never skip
                log.warning("store unavailable, ingest waits", extra={"detail": exc.detail})
                if self._stop.wait(exc.retry_after):
                    return
        self._inbox.mark_processed(batch[-1][0], dead).result()
        if self._on_outcomes is not None:
            try:
                self._on_outcomes(TENANT, outcomes(batch, dead))
            except Exception:  # the batch is processed: a listener's bug must not redo it
                log.exception("reporting message outcomes failed")
        for d in dead:
            log.info("dead letter", extra={"reason": d.reason, "detail": d.detail,
                                           "devEui": d.record.dev_eui})
