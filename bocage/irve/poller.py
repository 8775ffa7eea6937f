"""The periodic IRVE import: fetch the feeds every ``irve_poll_interval`` seconds.

Off unless ``irve_dynamic_url`` is set. Each round reads the static source (file
or URL) and the dynamic URL, checks both and writes them in one transaction;
a round that fails (unreachable, too big, a bad row) changes nothing, is
logged with its problems, and the next round tries again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from bocage.domain.terms import Terms
from bocage.irve import importer
from bocage.irve.source import SourceError, read_source
from bocage.settings import Settings
from bocage.storage.base import Store

log = logging.getLogger("bocage.irve")


@dataclass(frozen=True, slots=True)
class Round:
    at: str
    ok: bool
    detail: str


class IrvePoller:
    def __init__(self, settings: Settings, store: Store, terms: Terms,
                 now: Callable[[], str]) -> None:
        self._settings = settings
        self._store = store
        self._terms = terms
        self._now = now
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: the outcome of the last round (None before the first)
        self.last: Round | None = None

    @property
    def enabled(self) -> bool:
        return bool(self._settings.irve_dynamic_url)

    def run_once(self) -> Round:
        s = self._settings
        at = self._now()
        try:
            if not s.irve_static:
                raise SourceError("irve_static (the static file or URL) is not set")
            static = read_source(s.irve_static, timeout=s.irve_fetch_timeout,
                                 max_bytes=s.irve_max_bytes)
            dynamic = read_source(s.irve_dynamic_url, timeout=s.irve_fetch_timeout,
                                  max_bytes=s.irve_max_bytes)
            summary = importer.run(self._store, static, dynamic, self._terms, at,
                                   s.open_data_scope)
            result = Round(at, True, f"{summary.stations} stations, "
                                     f"{summary.updated} availability updates")
        except SourceError as exc:
            result = Round(at, False, str(exc))
        except importer.Rejected as exc:
            result = Round(at, False, f"{exc}: " + "; ".join(
                str(p) for p in exc.problems[:20]))
        except Exception as exc:  # keep polling whatever happens in one round
            log.exception("IRVE import round failed")
            result = Round(at, False, f"{type(exc).__name__}: {exc}")
        (log.info if result.ok else log.warning)("IRVE import: %s", result.detail)
        self.last = result
        return result

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.run_once()
            self._stop.wait(self._settings.irve_poll_interval)

    def start(self) -> None:
        if self.enabled and self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="bocage-irve",
                                            daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
