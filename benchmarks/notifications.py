"""Notification benchmarks against a real `bocage serve` process (SQLite).

    python benchmarks/notifications.py [--seconds 10] [--quick]

A minimal asyncio HTTP receiver in this process (keep-alive, answers 204) notes
when each notified entity arrives. Measured:

* latency: one write at a time, ~100 writes/s, one subscription; from just before
  the client sends the write to the receiver having the notification (p50, p95);
* reading latency: LoRaWAN readings of a street-light controller posted as ChirpStack
  would (~50/s), to the notification of the street light they update: ingestion inbox,
  codec, store and notification path;
* live throughput: wrk creates entities as fast as it can (16 connections) with one
  matching subscription; entities notified per second and requests per second at
  the receiver, from the first notification to the last (bounded by how fast single
  entities are written: compare create_per_s_no_subscription);
* live throughput with batch writes: 4 clients upsert batches of 50 entities, one
  matching subscription: the notification path's own throughput, writes no longer the
  bottleneck;
* backlog drain: 10 subscriptions, the receiver down while 2,000 entities are created
  (20,000 notifications queued), then up: how fast the outbox empties;
* the write benchmark (wrk create.lua) with no subscription, with 10 subscriptions
  that match nothing written, and with 10 that match every write.

Writes benchmarks/results/notifications.json and compares it with
benchmarks/baseline/notifications.json (ratios > 1 are better). The receiver, wrk
and the server share the machine's cores, so the figures are conservative.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
from run import bocage_server, free_port, machine, wrk

HERE = Path(__file__).parent
TARGETS = {
    "latency_p95_ms": (100, "lower"),
    "reading_latency_p95_ms": (100, "lower"),
    "live_notified_entities_per_s": (2000, "higher"),
    "batch_notified_entities_per_s": (2000, "higher"),
    "drain_notified_entities_per_s": (2000, "higher"),
    "create_per_s_no_subscription": (0, "higher"),
    "create_per_s_10_subscriptions_no_match": (0, "higher"),
    "create_per_s_10_subscriptions_matching": (0, "higher"),
}


class Receiver:
    """A bare HTTP/1.1 receiver: enough of the protocol for httpx's POSTs."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.arrivals: dict[str, float] = {}  # entity id -> first arrival (monotonic)
        self.every: dict[str, list[float]] = {}  # entity id -> each arrival, in order
        self.entities = 0
        self.requests = 0
        self.first = self.last = 0.0
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.AbstractServer | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(5)

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    def stop(self) -> None:
        async def close() -> None:
            assert self._server is not None
            self._server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def reset(self) -> None:
        self.arrivals.clear()
        self.entities = self.requests = 0
        self.first = self.last = 0.0

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                body = await reader.readexactly(length)
                now = time.monotonic()
                data = orjson.loads(body)["data"]
                for item in data:
                    self.arrivals.setdefault(item["id"], now)
                    self.every.setdefault(item["id"], []).append(now)
                self.entities += len(data)
                self.requests += 1
                self.first = self.first or now
                self.last = now
                writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            writer.close()


@contextmanager
def bocage(tmp: Path, **settings: str) -> Iterator[tuple[str, str]]:
    env = {**os.environ, "BOCAGE_DATABASE_URL": f"sqlite:///{tmp}/bench.db",
           "BOCAGE_LOG_LEVEL": "WARNING",
           **{f"BOCAGE_{k.upper()}": v for k, v in settings.items()}}
    with bocage_server(env) as (base, _, key):
        yield base, key


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def subscribe(base: str, key: str, entity_type: str, uri: str, **members: Any) -> None:
    r = httpx.post(f"{base}/ngsi-ld/v1/subscriptions", headers=auth(key), json={
        "type": "Subscription", "entities": [{"type": entity_type}],
        "notification": {"format": "keyValues", "endpoint": {"uri": uri}}, **members})
    r.raise_for_status()


def wait_for(receiver: Receiver, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while receiver.entities < count and time.monotonic() < deadline:
        time.sleep(0.02)


def latency(base: str, key: str, receiver: Receiver, n: int) -> dict[str, float]:
    subscribe(base, key, "LatencyProbe", f"http://127.0.0.1:{receiver.port}/latency")
    sent: dict[str, float] = {}
    with httpx.Client(base_url=base, headers=auth(key)) as client:
        for i in range(n):
            eid = f"urn:ngsi-ld:LatencyProbe:{i}"
            body = {"id": eid, "type": "LatencyProbe",
                    "value": {"type": "Property", "value": i}}
            sent[eid] = time.monotonic()
            client.post("/ngsi-ld/v1/entities", json=body).raise_for_status()
            time.sleep(0.01)
    wait_for(receiver, n, 30)
    samples = [(receiver.arrivals[e] - t) * 1000 for e, t in sent.items()
               if e in receiver.arrivals]
    if len(samples) < n:
        raise RuntimeError(f"only {len(samples)} of {n} notifications arrived")
    return {"latency_p50_ms": statistics.median(samples),
            "latency_p95_ms": statistics.quantiles(samples, n=100)[94],
            "latency_max_ms": max(samples)}


def reading_latency(base: str, key: str, receiver: Receiver, n: int) -> dict[str, float]:
    """From a LoRaWAN reading posted by the network server (ChirpStack HTTP integration)
    to the notification of the equipment it feeds: the ingestion inbox, the codec, the
    store write and the notification path. One street-light controller, one reading
    every 20 ms; the k-th notification of the light answers the k-th reading."""
    from bocage.codecs.registry import builtin_registry
    from bocage.simulator.encoding import encoders
    from bocage.simulator.envelope import up_event

    light, eui = "urn:ngsi-ld:Streetlight:bench-1", "B0CA6E00BE4C0001"
    with httpx.Client(base_url=base, headers=auth(key)) as client:
        client.post("/ngsi-ld/v1/entities", json={
            "id": light, "type": "Streetlight", "scope": "/FR/01/240100883/01004"},
        ).raise_for_status()
        client.post("/api/devices", json={"devEui": eui, "model": "bocage-sl1",
                                          "assetId": light}).raise_for_status()
    subscribe(base, key, "Streetlight", f"http://127.0.0.1:{receiver.port}/readings")
    encode = encoders(builtin_registry())["bocage-sl1"]
    sent: list[float] = []
    t0 = time.time() - n
    with httpx.Client(base_url=base, headers={"Authorization": "Bearer bench-ingest"}) as c:
        for i in range(n):
            _, payload = encode({"powerState": "on", "lampStatus": "ok", "dimmingLevel": 80,
                                 "power": 30.0 + i % 10, "energy": 1000.0 + i})
            body = up_event(eui, "bocage-sl1", "bench", t0 + i, 10, payload, seed=1)
            sent.append(time.monotonic())
            c.post("/ingest/chirpstack?event=up", json=body).raise_for_status()
            time.sleep(0.02)
    deadline = time.monotonic() + 30
    while len(receiver.every.get(light, ())) < n and time.monotonic() < deadline:
        time.sleep(0.02)
    arrived = receiver.every.get(light, [])
    if len(arrived) < n:
        raise RuntimeError(f"only {len(arrived)} of {n} readings were notified")
    samples = [(a - s) * 1000 for s, a in zip(sent, arrived, strict=False)]
    return {"reading_latency_p50_ms": statistics.median(samples),
            "reading_latency_p95_ms": statistics.quantiles(samples, n=100)[94],
            "reading_latency_max_ms": max(samples)}


def created(base: str, key: str) -> int:
    r = httpx.get(f"{base}/ngsi-ld/v1/entities", headers=auth(key), params={
        "type": "WasteContainer", "count": "true", "limit": 0})
    return int(r.headers["NGSILD-Results-Count"])


def live(base: str, key: str, receiver: Receiver, seconds: int) -> dict[str, float]:
    subscribe(base, key, "WasteContainer", f"http://127.0.0.1:{receiver.port}/live")
    receiver.reset()
    writes, _ = wrk(base, "create.lua", seconds, 16, 0, key)
    total = created(base, key)
    wait_for(receiver, total, 60)
    span = receiver.last - receiver.first
    return {"live_writes_per_s": writes,
            "live_notified_entities_per_s": receiver.entities / span,
            "live_requests_per_s": receiver.requests / span,
            "live_notified": receiver.entities, "live_written": total}


def live_batches(base: str, key: str, receiver: Receiver, seconds: int) -> dict[str, float]:
    """Notification throughput with writes that are not the bottleneck: 4 clients upsert
    batches of 50 entities for ``seconds``; entities notified per second at the receiver,
    from the first notification to the last."""
    subscribe(base, key, "BatchProbe", f"http://127.0.0.1:{receiver.port}/batches")
    receiver.reset()
    written = [0]

    async def client(k: int) -> None:
        async with httpx.AsyncClient(base_url=base, headers=auth(key), timeout=60) as c:
            deadline, i = time.monotonic() + seconds, 0
            while time.monotonic() < deadline:
                batch = [{"id": f"urn:ngsi-ld:BatchProbe:{k}-{i}-{j}", "type": "BatchProbe",
                          "v": {"type": "Property", "value": j}} for j in range(50)]
                (await c.post("/ngsi-ld/v1/entityOperations/upsert",
                              json=batch)).raise_for_status()
                written[0] += len(batch)
                i += 1

    async def run_all() -> None:
        await asyncio.gather(*(client(k) for k in range(4)))

    start = time.monotonic()
    asyncio.run(run_all())
    writes = written[0] / (time.monotonic() - start)
    wait_for(receiver, written[0], 60)
    span = receiver.last - receiver.first
    return {"batch_writes_entities_per_s": writes,
            "batch_notified_entities_per_s": receiver.entities / span,
            "batch_notified": receiver.entities, "batch_written": written[0]}


def drain(tmp: Path, n: int) -> dict[str, float]:
    port = free_port()
    # retries every 0.2 s at most while the receiver is down: the drain starts at once
    with bocage(tmp, notification_retry_base="0.1", notification_retry_max="0.2",
                notification_max_attempts="0") as (base, key):
        for k in range(10):
            subscribe(base, key, "Drain", f"http://127.0.0.1:{port}/drain/{k}")
        with httpx.Client(base_url=base, headers=auth(key)) as client:
            for j in range(n):
                client.post("/ngsi-ld/v1/entities", json={
                    "id": f"urn:ngsi-ld:Drain:{j}", "type": "Drain",
                    "v": {"type": "Property", "value": j}}).raise_for_status()
        receiver = Receiver(port)
        start = time.monotonic()
        receiver.start()
        try:
            wait_for(receiver, n * 10, 120)
            elapsed = receiver.last - start
        finally:
            receiver.stop()
    return {"drain_notified_entities_per_s": receiver.entities / elapsed,
            "drain_requests_per_s": receiver.requests / elapsed,
            "drain_queued": n * 10}


def writes(tmp: Path, receiver: Receiver, seconds: int) -> dict[str, float]:
    """create.lua on a fresh database each time (it reuses its entity ids)."""
    out: dict[str, float] = {}
    for n, (label, entity_type) in enumerate((("no_subscription", None),
                                              ("10_subscriptions_no_match", "NothingWritten"),
                                              ("10_subscriptions_matching", "WasteContainer"))):
        (tmp / str(n)).mkdir()
        with bocage(tmp / str(n)) as (base, key):
            for k in range(10 if entity_type else 0):
                assert entity_type is not None
                subscribe(base, key, entity_type,
                          f"http://127.0.0.1:{receiver.port}/{label}/{k}")
            out[f"create_per_s_{label}"], out[f"create_p95_ms_{label}"] = wrk(
                base, "create.lua", seconds, 16, 0, key)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="short runs (smoke test)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("benchmarks/notifications.py needs wrk (Debian package wrk)")
        return 2
    seconds = 3 if args.quick else args.seconds
    results: dict[str, float] = {}
    receiver = Receiver(free_port())
    receiver.start()
    try:
        with tempfile.TemporaryDirectory() as tmp, bocage(
                Path(tmp), chirpstack_secret="bench-ingest") as (base, key):
            results.update(latency(base, key, receiver, 200 if args.quick else 1000))
            results.update(reading_latency(base, key, receiver, 200 if args.quick else 1000))
            results.update(live(base, key, receiver, seconds))
            results.update(live_batches(base, key, receiver, seconds))
        with tempfile.TemporaryDirectory() as tmp:
            results.update(drain(Path(tmp), 500 if args.quick else 2000))
        with tempfile.TemporaryDirectory() as tmp:
            results.update(writes(Path(tmp), receiver, seconds))
    finally:
        receiver.stop()
    report = {"benchmark": "notifications", "backend": "sqlite", "quick": args.quick,
              "seconds": seconds, "machine": machine(),
              "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "results": results}
    out = HERE / "results" / "notifications.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    base_path = HERE / "baseline" / "notifications.json"
    base = json.loads(base_path.read_text())["results"] if base_path.exists() else {}
    print(f"{'metric':42} {'target':>8} {'value':>10} {'vs base':>7}")
    for key, value in results.items():
        target, sense = TARGETS.get(key, (0, "lower" if "_ms" in key else "higher"))
        ok = not target or (value >= target if sense == "higher" else value <= target)
        vs = "-"
        if base.get(key):
            vs = f"{(value / base[key] if sense == 'higher' else base[key] / value):.2f}"
        shown = ("<=" if sense == "lower" else ">=") + format(target, "g") if target else ""
        print(f"{key:42} {shown:>8} {value:10.1f}{'' if ok else '!'} {vs:>6}")
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
