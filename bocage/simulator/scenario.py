"""The scripted incidents of a run: what happens, to which device, when. Pure.

A scenario is derived from the territory and the start of the run, so a demo
shows the same story every time: a water leak flagged 10 minutes in (it began the
night before), a lamp failing at 15 minutes, a bin overflowing at 20, a camera
going silent at 20, a classroom's ventilation failing at 25 (CO2 peak), a river
rising from 30 (flood), one device running on a flat battery. Profiles also have
their own, random, background incidents for long runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from bocage.simulator.territory import SimDevice, Territory

LEAK, LAMP, BIN_FULL, CO2, FLOOD, SILENT, BATTERY = (
    "leak", "lamp-failure", "bin-full", "co2-peak", "flood", "camera-silent", "battery-low")
#: incident -> (profile kind it needs, minutes after the start of the run)
SCRIPT: dict[str, tuple[str, float]] = {
    LEAK: ("water", 10), LAMP: ("streetlight", 15), BIN_FULL: ("bin", 20),
    SILENT: ("camera", 20), CO2: ("classroom", 25), FLOOD: ("level", 30),
    BATTERY: ("bin", 0),
}


@dataclass(frozen=True, slots=True)
class Incident:
    kind: str
    dev_eui: str
    #: Unix time the incident shows (a leak flag, a failure, full, silence...)
    at: float


@dataclass(frozen=True, slots=True)
class Scenario:
    start: float
    incidents: tuple[Incident, ...] = ()

    def of(self, dev_eui: str) -> list[Incident]:
        return [i for i in self.incidents if i.dev_eui == dev_eui]

    def first(self, kind: str) -> Incident | None:
        return next((i for i in self.incidents if i.kind == kind), None)


def _pick(devices: list[SimDevice], n: int = 0) -> SimDevice | None:
    healthy = [d for d in devices if not d.sends_as]
    return healthy[n] if len(healthy) > n else None


def scripted(territory: Territory, start: float) -> Scenario:
    """The incidents, on devices of the most populated commune that has the equipment."""
    by_pop = sorted(territory.places, key=lambda p: (-p.commune.population, p.commune.insee))
    rank = {p.commune.insee: i for i, p in enumerate(by_pop)}
    out = []
    for kind, (profile, minutes) in SCRIPT.items():
        devices = sorted(territory.devices_of(profile),
                         key=lambda d: (rank.get(d.insee, 0), d.dev_eui))
        dev = _pick(devices, 1 if kind == BATTERY else 0)
        if dev is not None:
            out.append(Incident(kind, dev.dev_eui, start + minutes * 60))
    return Scenario(start, tuple(out))
