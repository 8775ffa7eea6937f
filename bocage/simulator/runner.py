"""Run a territory: backfill the past, then follow the (possibly accelerated) clock."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from bocage.simulator.encoding import Encoder
from bocage.simulator.profiles import World
from bocage.simulator.schedule import Schedule, uplink
from bocage.simulator.sinks import Sink
from bocage.simulator.territory import Territory

log = logging.getLogger("bocage.simulator")
BATCH = 500


@dataclass(frozen=True, slots=True)
class Clock:
    """Simulated time: ``start`` at wall time ``wall_start``, running ``speed`` x faster,
    never ahead of the wall clock: an accelerated run starts in the past, catches up
    with real time, then follows it (no reading is ever dated in the future)."""

    start: float
    wall_start: float
    speed: float = 1.0

    def now(self, wall: float | None = None) -> float:
        wall = time.time() if wall is None else wall
        return min(self.start + (wall - self.wall_start) * self.speed, wall)


def drive(schedule: Schedule, world: World, encoders: dict[str, Encoder], sink: Sink,
          until: float) -> int:
    """Send everything due up to ``until`` (simulated), in batches; returns how many."""
    sent = 0
    due = schedule.due(until)
    for i in range(0, len(due), BATCH):
        bodies = [b for t, d in due[i:i + BATCH]
                  if (b := uplink(d, t, world, encoders)) is not None]
        sink.send(bodies)
        sent += len(bodies)
    return sent


def backfill(territory: Territory, world: World, encoders: dict[str, Encoder], sink: Sink,
             start: float, end: float, min_step: float = 3600.0,
             progress: Callable[[float], None] | None = None) -> int:
    """Readings from ``start`` to ``end`` at each device's interval, but no more often
    than ``min_step`` (so a month of history stays quick); ``progress`` gets the
    simulated seconds covered after each hour."""
    schedule = Schedule(territory.devices, world.seed, start,
                        step=lambda d: max(float(d.interval), min_step))
    sent, t = 0, start
    while t < end:
        nxt = min(end, t + 3600.0)
        sent += drive(schedule, world, encoders, sink, nxt)
        if progress is not None:
            progress(nxt - t)
        t = nxt
    return sent


class LiveRun(threading.Thread):
    """Follow the clock in a daemon thread until ``stop()`` (or simulated ``end``)."""

    def __init__(self, schedule: Schedule, world: World, encoders: dict[str, Encoder],
                 sink: Sink, clock: Clock, tick: float = 0.5, end: float = math.inf) -> None:
        super().__init__(name="bocage-simulator", daemon=True)
        self.schedule, self.world, self.encoders = schedule, world, encoders
        self.sink, self.clock, self.tick, self.end = sink, clock, tick, end
        self._stop_event = threading.Event()
        self.first_sent: float | None = None

    def stop(self) -> None:
        self._stop_event.set()
        if self.is_alive():
            self.join(timeout=10)

    def run(self) -> None:
        while not self._stop_event.is_set():
            now = min(self.clock.now(), self.end)
            try:
                n = drive(self.schedule, self.world, self.encoders, self.sink, now)
            except Exception:
                if self._stop_event.is_set():
                    return
                log.exception("simulator batch failed; going on")
                n = 0
            if n and self.first_sent is None:
                self.first_sent = time.time()
                log.info("simulator: first readings sent", extra={"uplinks": n})
            if now >= self.end:
                return
            self._stop_event.wait(self.tick)
