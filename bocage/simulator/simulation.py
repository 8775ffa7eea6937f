"""A simulation wired to an ingestion service: options -> territory -> store -> live run."""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from bocage.codecs.registry import builtin_registry
from bocage.domain.timefmt import format_utc
from bocage.ingest.service import Ingestion
from bocage.simulator import communes as cm
from bocage.simulator import scenario as sc
from bocage.simulator import territory as tr
from bocage.simulator.encoding import encoders
from bocage.simulator.profiles import World
from bocage.simulator.runner import Clock, LiveRun, backfill
from bocage.simulator.schedule import Schedule
from bocage.simulator.seeding import seed
from bocage.simulator.sinks import InProcessSink, Sink
from bocage.storage.base import Store

log = logging.getLogger("bocage.simulator")
#: the default demo: three EPCI of the Ain (103 communes, ~5,300 devices)
DEFAULT_EPCI = ("240100883", "200029999", "200069193")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")


def parse_duration(text: str) -> float:
    """``30d``, ``12h``, ``90m``, ``45s`` -> seconds; ValueError otherwise."""
    m = _DURATION.match(text.strip())
    if not m:
        raise ValueError(f"duration {text!r}: expected a number and s, m, h or d (e.g. 30d)")
    return float(m.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86_400}[m.group(2)]


@dataclass(frozen=True, slots=True)
class Options:
    departement: str | None = None
    epci: tuple[str, ...] = ()
    seed: int = 1
    speed: float = 1.0
    #: with speed > 1, how far back the live run starts (seconds): it replays that span
    #: speed x faster (the scripted incidents in it), then follows real time
    catch_up: float = 86_400.0
    history: float = 0.0
    #: seconds over which every device sends a first reading at start
    prime: float = 20.0

    def communes(self) -> list[cm.Commune]:
        if self.departement is None and not self.epci:
            return cm.select(epci=DEFAULT_EPCI)
        return cm.select(self.departement, self.epci)


def build_territory(options: Options) -> tr.Territory:
    """The territory, with devices for every kind whose model this build has."""
    return tr.build(options.communes(), cm.all_epci(), options.seed,
                    tr.available_models(set(encoders(builtin_registry()))))


def now_iso() -> str:
    return format_utc(dt.datetime.now(dt.UTC))


def prepare(options: Options, store: Store, ingestion: Ingestion, sink: Sink | None = None,
            history_progress: Callable[[float, float], None] | None = None) -> LiveRun:
    """Seed the territory and backfill ``options.history``; returns the live run, not
    started. Blocking: the caller runs it in the foreground or in a thread. The live
    run sends through ``sink`` (default: in-process)."""
    t0 = time.monotonic()
    territory = build_territory(options)
    ingestion.start()
    created = seed(store, ingestion.pipeline.terms, ingestion.catalogue, territory, now_iso)
    log.info("simulated territory ready", extra={
        "communes": len(territory.places), "equipment": len(territory.equipment),
        "devices": len(territory.devices), "entities_created": created,
        "seconds": round(time.monotonic() - t0, 2)})
    sink = sink or InProcessSink(ingestion)
    wall = time.time()
    # an accelerated run starts in the past so that it never runs ahead of real time
    start = wall - options.catch_up if options.speed > 1 else wall
    scenario = sc.scripted(territory, start)
    world = World.of(options.seed, scenario)
    codecs = encoders(ingestion.codecs)
    if options.history > 0:
        covered = 0.0

        def step(seconds: float) -> None:
            nonlocal covered
            covered += seconds
            if history_progress is not None:
                history_progress(covered, options.history)

        # the past always goes in-process, in batches of 500 (the bulk path)
        n = backfill(territory, World(options.seed, sc.Scenario(wall)), codecs,
                     InProcessSink(ingestion),
                     start - options.history, start, progress=step)
        log.info("history backfilled", extra={"uplinks": n})
    schedule = Schedule(territory.devices, options.seed, start, prime=options.prime,
                        alarms=[(i.at, i.dev_eui) for i in scenario.incidents])
    return LiveRun(schedule, world, codecs, sink, Clock(start, wall, options.speed))


def start(options: Options, store: Store, ingestion: Ingestion, sink: Sink | None = None,
          history_progress: Callable[[float, float], None] | None = None) -> Starter:
    """Prepare and run the simulation in a daemon thread; ``stop()`` ends it."""
    starter = Starter(lambda: prepare(options, store, ingestion, sink, history_progress))
    starter.start()
    return starter


class Starter(threading.Thread):
    """Prepares the simulation in the background (the server answers meanwhile)."""

    def __init__(self, make: Callable[[], LiveRun]) -> None:
        super().__init__(name="bocage-simulator-setup", daemon=True)
        self._make = make
        self._lock = threading.Lock()
        self._stopped = False
        self.live: LiveRun | None = None

    def run(self) -> None:
        try:
            live = self._make()
        except Exception:
            log.exception("the simulation could not start")
            return
        with self._lock:
            if self._stopped:
                return
            self.live = live
            live.start()

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            live = self.live
        if live is not None:
            live.stop()
