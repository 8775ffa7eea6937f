"""``bocage simulate``: drive a running bocage with N simulated devices, and measure.

Devices are taken from simulated territories (the Ain first, then the next
departments) so their payloads are the territory's; each sends on its own grid at
its nominal interval, or every ``interval`` seconds when given. Uplinks go to the
ChirpStack HTTP endpoint (``http(s)://...``) or to an MQTT broker as ChirpStack's MQTT
integration publishes them (``mqtt://host:port``). Reported: sent, acknowledged,
duplicates, rejected (HTTP 4xx/5xx, including 503 back-pressure), transport errors,
latency percentiles, and the CPU the generator itself used. Requests still unanswered 30 s
after the end are abandoned and reported as ``unanswered``.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx
import orjson

from bocage.codecs.registry import builtin_registry
from bocage.simulator import communes as cm
from bocage.simulator import territory as tr
from bocage.simulator.encoding import encoders
from bocage.simulator.profiles import World
from bocage.simulator.scenario import Scenario
from bocage.simulator.schedule import Schedule, uplink
from bocage.simulator.seeding import EV_MODEL, bodies

#: latencies kept for the percentiles (a reservoir beyond that)
_KEEP = 200_000


@dataclass
class Stats:
    sent: int = 0
    acknowledged: int = 0
    duplicates: int = 0
    rejected: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    _seen: int = 0
    _rng: random.Random = field(default_factory=lambda: random.Random(0))

    def latency(self, seconds: float) -> None:
        self._seen += 1
        if len(self.latencies) < _KEEP:
            self.latencies.append(seconds)
        else:  # reservoir sampling: a uniform sample of every latency seen
            j = self._rng.randrange(self._seen)
            if j < _KEEP:
                self.latencies[j] = seconds

    @property
    def unanswered(self) -> int:
        """Sent, and no answer yet (or none before the run gave up waiting)."""
        return self.sent - self.acknowledged - self.rejected - self.errors

    def percentile(self, p: float) -> float | None:
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1)]


@dataclass(frozen=True, slots=True)
class Report:
    stats: Stats
    seconds: float
    cpu_seconds: float
    devices: int

    @property
    def cpu_share(self) -> float:
        """The generator's CPU time over wall time (1.0 = one core busy)."""
        return self.cpu_seconds / self.seconds if self.seconds else 0.0

    def to_json(self) -> dict[str, Any]:
        s = self.stats

        def ms(p: float) -> float | None:
            v = s.percentile(p)
            return None if v is None else round(v * 1000, 2)

        return {"devices": self.devices, "seconds": round(self.seconds, 1),
                "sent": s.sent, "acknowledged": s.acknowledged, "duplicates": s.duplicates,
                "rejected": s.rejected, "errors": s.errors, "unanswered": s.unanswered,
                "statuses": {str(k): v for k, v in sorted(s.statuses.items())},
                "rate_per_s": round(s.sent / self.seconds, 2) if self.seconds else 0.0,
                "latency_ms": {"p50": ms(50), "p95": ms(95), "p99": ms(99), "max": ms(100)},
                "generator_cpu_seconds": round(self.cpu_seconds, 3),
                "generator_cpu_percent_of_one_core": round(100 * self.cpu_share, 2)}


def pick_devices(n: int, seed: int = 1) -> tuple[list[tr.Territory], list[tr.SimDevice]]:
    """``n`` healthy simulated devices, whole departments at a time from the Ain on."""
    models = tr.available_models(set(encoders(builtin_registry())))
    territories: list[tr.Territory] = []
    devices: list[tr.SimDevice] = []
    deps = cm.departements()
    for dep in deps[deps.index("01"):] + deps[:deps.index("01")]:
        if len(devices) >= n:
            break
        t = tr.build(cm.select(dep), cm.all_epci(), seed, models, misconfigured=False)
        territories.append(t)
        devices.extend(t.devices[:n - len(devices)])
    if len(devices) < n:
        raise ValueError(f"only {len(devices)} devices can be simulated, asked for {n}")
    return territories, devices


def register(base_url: str, territories: Sequence[tr.Territory],
             devices: Sequence[tr.SimDevice],
             progress: Callable[[int, int], None] | None = None, api_key: str = "") -> int:
    """Create the devices and their equipment in a running bocage (upsert, idempotent);
    ``progress(done, total)`` after each batch of entities. ``api_key``: a key allowed to
    write devices and entities there (a server with authentication on needs one)."""
    chosen = {d.dev_eui for d in devices}
    batches = [list(bodies(t, [d for d in t.devices if d.dev_eui in chosen]))
               for t in territories]
    total = sum(len(b) for b in batches)
    created = 0
    auth = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    with httpx.Client(base_url=base_url.rstrip("/"), timeout=120, headers=auth) as client:
        models = client.get("/api/device-models")  # installs the built-ins
        if models.status_code in (401, 403):
            raise RuntimeError(f"the target refused to register devices ({models.status_code}): "
                               "give an API key with devices.write (--api-key or "
                               "BOCAGE_API_KEY), e.g. `bocage keys create --role admin "
                               "--scope /` on the target")
        models.raise_for_status()
        r = client.post("/api/device-models", json=EV_MODEL.to_json())
        if r.status_code not in (201, 409):
            raise RuntimeError(f"cannot create the EV model: {r.status_code} {r.text}")
        for batch in batches:
            for i in range(0, len(batch), 1000):
                chunk = batch[i:i + 1000]
                r = client.post("/ngsi-ld/v1/entityOperations/upsert",
                                params={"options": "update"}, content=orjson.dumps(chunk),
                                headers={"Content-Type": "application/json"})
                if r.status_code not in (201, 204):
                    raise RuntimeError(f"cannot register devices: {r.status_code} {r.text}")
                created += len(chunk)
                if progress is not None:
                    progress(created, total)
    return created


class HttpTarget:
    def __init__(self, url: str, secret: str, concurrency: int) -> None:
        parts = urlsplit(url)
        self._path = parts.path.rstrip("/") or ""
        if not self._path.endswith("/ingest/chirpstack"):
            self._path += "/ingest/chirpstack"
        base = f"{parts.scheme}://{parts.netloc}"
        self._client = httpx.AsyncClient(
            base_url=base, timeout=30,
            limits=httpx.Limits(max_connections=concurrency,
                                max_keepalive_connections=concurrency),
            headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/json"})

    async def send(self, body: dict[str, Any], stats: Stats) -> None:
        start = time.perf_counter()
        try:
            r = await self._client.post(self._path, params={"event": "up"},
                                        content=orjson.dumps(body))
        except httpx.HTTPError:
            stats.errors += 1
            return
        stats.latency(time.perf_counter() - start)
        stats.statuses[r.status_code] = stats.statuses.get(r.status_code, 0) + 1
        if r.status_code == 202:
            stats.acknowledged += 1
            if b'"duplicates":1' in r.content:
                stats.duplicates += 1
        else:
            stats.rejected += 1

    async def close(self) -> None:
        await self._client.aclose()


class Target(Protocol):
    async def send(self, body: dict[str, Any], stats: Stats) -> None: ...

    async def close(self) -> None: ...


async def run(devices: Sequence[tr.SimDevice], target: Target, duration: float,
              interval: float | None = None, seed: int = 1, concurrency: int = 64,
              tick: float = 0.1, report: Callable[[Report], None] | None = None,
              report_every: float = 10.0) -> Report:
    """Send for ``duration`` seconds of real time; returns the final report."""
    stats = Stats()
    start_wall, start_cpu = time.time(), time.process_time()
    step = (lambda d: interval) if interval else None
    schedule = Schedule(devices, seed, start_wall, step=step)
    world = World(seed, Scenario(start_wall))
    codecs = encoders(builtin_registry())
    sem = asyncio.Semaphore(concurrency)
    pending: set[asyncio.Task[None]] = set()

    async def one(body: dict[str, Any]) -> None:
        async with sem:
            await target.send(body, stats)

    def snapshot() -> Report:
        return Report(stats, time.time() - start_wall, time.process_time() - start_cpu,
                      len(devices))

    next_report = start_wall + report_every
    end = start_wall + duration
    while True:
        now = time.time()
        if now >= end:
            break
        for t, d in schedule.due(now):
            body = uplink(d, t, world, codecs)
            if body is None:
                continue
            stats.sent += 1
            task = asyncio.create_task(one(body))
            pending.add(task)
            task.add_done_callback(pending.discard)
        if report is not None and now >= next_report:
            report(snapshot())
            next_report += report_every
        await asyncio.sleep(min(tick, end - now))
    if pending:
        await asyncio.wait(pending, timeout=30)
    await target.close()
    return snapshot()
