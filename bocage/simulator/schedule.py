"""Who sends when: each device on its own grid, plus the scripted incidents' alarms.

A device with interval I and phase p (in [0, 1), from the seed) reports at
``(k + p) * I`` for every integer k: an absolute grid, so the same moments come
back after a restart or in a backfill. ``prime`` spreads one extra first reading
of every device over the first seconds of a run, so a fresh demo is alive at once.
Devices carrying a scripted incident send an alarm uplink when it happens.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Sequence
from typing import Any

from bocage.simulator import profiles
from bocage.simulator.encoding import DECODED_BY_NETWORK, Encoder
from bocage.simulator.envelope import up_event
from bocage.simulator.profiles import World
from bocage.simulator.territory import SimDevice, jitter


class Schedule:
    def __init__(self, devices: Sequence[SimDevice], seed: int, start: float,
                 prime: float = 0.0, alarms: Sequence[tuple[float, str]] = (),
                 step: Callable[[SimDevice], float] | None = None) -> None:
        """``prime``: seconds over which every device sends a first reading (0: none);
        ``alarms``: (time, DevEUI) of extra uplinks; ``step``: a device's interval
        (default its nominal ``interval``)."""
        self.devices = list(devices)
        self._seed = seed
        self._step = step or (lambda d: float(d.interval))
        self._phase = [jitter(seed, d.dev_eui) for d in self.devices]
        self._heap: list[tuple[float, int, int]] = []
        self._n = 0
        index = {d.dev_eui: i for i, d in enumerate(self.devices)}
        for i in range(len(self.devices)):
            if prime > 0:
                self._push(start + self._phase[i] * prime, i, regular=False)
            self._push(self._next(i, start), i)
        for at, eui in alarms:
            if eui in index and at >= start:
                self._push(at + 1.0, index[eui], regular=False)

    def _next(self, i: int, after: float) -> float:
        interval = self._step(self.devices[i])
        k = math.floor(after / interval - self._phase[i]) + 1
        t = (k + self._phase[i]) * interval
        while t <= after:  # rounding may land on ``after`` itself
            k += 1
            t = (k + self._phase[i]) * interval
        return t

    def _push(self, t: float, i: int, regular: bool = True) -> None:
        self._n += 1
        heapq.heappush(self._heap, (t, self._n if regular else -self._n, i))

    def next_time(self) -> float:
        return self._heap[0][0] if self._heap else math.inf

    def due(self, until: float) -> list[tuple[float, SimDevice]]:
        """Every (time, device) up to ``until`` inclusive, in time order."""
        out = []
        heap = self._heap
        while heap and heap[0][0] <= until:
            t, n, i = heapq.heappop(heap)
            out.append((t, self.devices[i]))
            if n > 0:  # a regular slot: schedule the next one
                self._push(self._next(i, t), i)
        return out


def uplink(dev: SimDevice, t: float, world: World, encoders: dict[str, Encoder],
           ) -> dict[str, Any] | None:
    """The ChirpStack ``up`` event the device sends at t, or None when it is silent."""
    values = profiles.values(dev, t, world)
    if values is None:
        return None
    model = dev.sends_as or dev.model
    if model in DECODED_BY_NETWORK:
        return up_event(dev.dev_eui, model, dev.name, t, 1, b"", world.seed, decoded=values)
    f_port, payload = encoders[model](values)
    return up_event(dev.dev_eui, model, dev.name, t, f_port, payload, world.seed)
