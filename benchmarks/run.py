"""Entity benchmarks over HTTP against a real `bocage serve` process, per backend.

    python benchmarks/run.py [--entities 100000] [--quick] [--backends sqlite,postgres]

Runs the same load on SQLite and on PostgreSQL (a throwaway database on the server
named by BOCAGE_BENCH_POSTGRES_URL, skipped with a message when there is none) and
prints them side by side. Writes benchmarks/results/entities-<backend>.json and
compares each with the committed baseline benchmarks/baseline/entities-<backend>.json
(ratios > 1 are better).

Throughput and retrieve latency are driven by wrk (Debian package `wrk`, Lua
scripts in benchmarks/wrk/) when it is installed, else by an httpx client in this
process. Either way the client shares the machine's cores with the server, so the
figures are conservative. Query latencies are measured one request at a time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
from throwaway_pg import postgres_database, unavailable

HERE = Path(__file__).parent
TARGETS = {
    "create_per_s": (2000, "higher"),
    "batch_upsert_entities_per_s": (20000, "higher"),
    "partial_update_per_s": (3000, "higher"),
    "query_type_q_p95_ms": (50, "lower"),
    "query_type_q_selective_p95_ms": (50, "lower"),
    "query_geo_near_p95_ms": (50, "lower"),
    "retrieve_p95_ms": (2, "lower"),
    "rss_mb_loaded": (250, "lower"),
}


def entity(n: int) -> dict[str, Any]:
    rnd = random.Random(n)
    return {
        "id": f"urn:ngsi-ld:WasteContainer:bench-{n}",
        "type": "WasteContainer",
        "fillingLevel": {"type": "Property", "value": rnd.randint(0, 100), "unitCode": "P1",
                         "observedAt": "2026-11-25T10:00:00Z"},
        "binFullnessThreshold": {"type": "Property", "value": rnd.randint(0, 100)},
        "temperature": {"type": "Property", "value": round(rnd.uniform(-5, 35), 1),
                        "unitCode": "CEL"},
        "status": {"type": "Property", "value": rnd.choice(["ok", "full", "damaged"])},
        "location": {"type": "GeoProperty", "value": {
            "type": "Point",
            "coordinates": [round(rnd.uniform(4.8, 6.1), 5), round(rnd.uniform(45.6, 46.5), 5)],
        }},
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100)[94] if len(samples) >= 20 else max(samples)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def timed_requests(client: httpx.AsyncClient, requests: list[Any], concurrency: int) -> float:
    """Run (method, url, kwargs) requests with `concurrency` workers; return requests/s."""
    queue: asyncio.Queue[Any] = asyncio.Queue()
    for r in requests:
        queue.put_nowait(r)

    async def worker() -> None:
        while not queue.empty():
            method, url, kwargs = queue.get_nowait()
            resp = await client.request(method, url, **kwargs)
            if resp.status_code >= 300:
                raise RuntimeError(f"{method} {url}: {resp.status_code} {resp.text[:200]}")

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(requests) / (time.perf_counter() - start)


async def latencies(
    client: httpx.AsyncClient, urls: list[tuple[str, dict[str, str]]]
) -> list[float]:
    out = []
    for url, params in urls:
        start = time.perf_counter()
        resp = await client.get(url, params=params)
        out.append((time.perf_counter() - start) * 1000)
        if resp.status_code != 200:
            raise RuntimeError(f"GET {url} {params}: {resp.status_code} {resp.text[:200]}")
    return out


def wrk(base: str, script: str, seconds: int, connections: int, n: int,
        key: str) -> tuple[float, float]:
    """Run wrk with one of our Lua scripts; (requests/s, p95 ms)."""
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", str(HERE / "wrk" / script), base],
        capture_output=True, text=True, check=True,
        env={**os.environ, "BENCH_N": str(n), "BENCH_KEY": key},
    ).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    result = re.search(r"RESULT p95_ms=([\d.]+) errors=(\d+)", out)
    if rate is None or result is None:
        raise RuntimeError(f"cannot read wrk output:\n{out}")
    if int(result.group(2)):
        raise RuntimeError(f"wrk {script}: {result.group(2)} failed requests\n{out}")
    return float(rate.group(1)), float(result.group(1))


async def bench(base: str, pid: int, n_entities: int, quick: bool,
                key: str) -> dict[str, float]:
    """Every request carries a platform-admin API key: authentication is measured too."""
    api = f"{base}/ngsi-ld/v1"
    results: dict[str, float] = {}
    use_wrk = shutil.which("wrk") is not None
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
    async with httpx.AsyncClient(timeout=60, limits=limits,
                                 headers={"Authorization": f"Bearer {key}"}) as client:
        n_single = 500 if quick else 3000
        seconds = 3 if quick else 10
        if use_wrk:
            results["create_per_s"], _ = wrk(base, "create.lua", seconds, 16, 0, key)
        else:
            results["create_per_s"] = await timed_requests(client, [
                ("POST", f"{api}/entities", {"json": entity(10_000_000 + i)})
                for i in range(n_single)
            ], concurrency=16)

        batch = 1000
        start = time.perf_counter()
        for first in range(0, n_entities, batch):
            body = orjson.dumps([entity(i) for i in range(first, min(first + batch, n_entities))])
            resp = await client.post(f"{api}/entityOperations/upsert", content=body,
                                     headers={"Content-Type": "application/json"})
            if resp.status_code not in (201, 204):
                raise RuntimeError(f"upsert: {resp.status_code} {resp.text[:200]}")
        results["batch_upsert_entities_per_s"] = n_entities / (time.perf_counter() - start)

        rnd = random.Random(7)
        if use_wrk:
            results["partial_update_per_s"], _ = wrk(base, "update.lua", seconds, 16,
                                                     n_entities, key)
        else:
            results["partial_update_per_s"] = await timed_requests(client, [
                ("PATCH",
                 f"{api}/entities/urn:ngsi-ld:WasteContainer:bench-{rnd.randrange(n_entities)}"
                 "/attrs/fillingLevel", {"json": {"value": rnd.randint(0, 100)}})
                for _ in range(n_single)
            ], concurrency=16)

        samples = 100 if quick else 300
        # warm-up
        broad = {"type": "WasteContainer", "q": "fillingLevel>50"}
        await latencies(client, [(f"{api}/entities", broad)] * 5)
        q_broad = await latencies(client, [
            (f"{api}/entities",
             {"type": "WasteContainer", "q": f"fillingLevel>{rnd.randint(20, 80)}"})
            for _ in range(samples)
        ])
        results["query_type_q_p95_ms"] = p95(q_broad)
        q_sel = await latencies(client, [
            (f"{api}/entities", {"type": "WasteContainer",
                                 "q": f"temperature>34.5;status==\"{rnd.choice(['ok', 'full'])}\""})
            for _ in range(samples)
        ])
        results["query_type_q_selective_p95_ms"] = p95(q_sel)
        geo = await latencies(client, [
            (f"{api}/entities", {"type": "WasteContainer", "georel": "near;maxDistance==2000",
                                 "geometry": "Point",
                                 "coordinates": f"[{rnd.uniform(4.9, 6.0):.4f},"
                                                f"{rnd.uniform(45.7, 46.4):.4f}]"})
            for _ in range(samples)
        ])
        results["query_geo_near_p95_ms"] = p95(geo)
        if use_wrk:
            _, results["retrieve_p95_ms"] = wrk(base, "retrieve.lua", seconds // 2 or 1, 1,
                                                n_entities, key)
        else:
            by_id = await latencies(client, [
                (f"{api}/entities/urn:ngsi-ld:WasteContainer:bench-{rnd.randrange(n_entities)}",
                 {})
                for _ in range(samples * 3)
            ])
            results["retrieve_p95_ms"] = p95(by_id)
        results["rss_mb_loaded"] = rss_mb(pid)
    return results


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "system": platform.platform()}


@contextmanager
def bocage_server(env: dict[str, str]) -> Iterator[tuple[str, int, str]]:
    """A `bocage serve` on a free port with ``env`` (its BOCAGE_* settings), ready:
    (base URL, pid, a platform administrator's API key). Every benchmark request
    carries such a key: authentication is on, as deployed. Stopped on exit."""
    port = free_port()
    key = subprocess.run([sys.executable, "-m", "bocage.cli", "keys", "create", "--role",
                          "admin", "--scope", "/", "--name", "benchmark"], env=env,
                         capture_output=True, text=True, check=True).stdout.strip()
    proc = subprocess.Popen([sys.executable, "-m", "bocage.cli", "serve", "--port", str(port)],
                            env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise RuntimeError(f"bocage did not become ready ({env.get('BOCAGE_DATABASE_URL')})")
        yield base, proc.pid, key
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def serve_and_bench(database_url: str, n_entities: int, quick: bool) -> dict[str, float]:
    """Start `bocage serve` on `database_url`, load and measure it, stop it."""
    env = {**os.environ, "BOCAGE_DATABASE_URL": database_url,
           "BOCAGE_LOG_LEVEL": "WARNING", "BOCAGE_MAX_BATCH": "10000"}
    with bocage_server(env) as (base, pid, key):
        return asyncio.run(bench(base, pid, n_entities, quick, key))


def run_backend(backend: str, n_entities: int, quick: bool) -> dict[str, float]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            return serve_and_bench(f"sqlite:///{tmp}/bench.db", n_entities, quick)
    with postgres_database() as url:
        return serve_and_bench(url, n_entities, quick)


def write_report(backend: str, n_entities: int, quick: bool, results: dict[str, float]) -> Path:
    report = {"benchmark": "entities", "backend": backend, "entities": n_entities,
              "quick": quick, "client": "wrk" if shutil.which("wrk") else "httpx",
              "machine": machine(),
              "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "results": results}
    out = HERE / "results" / f"entities-{backend}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    return out


def baseline(backend: str) -> dict[str, float]:
    path = HERE / "baseline" / f"entities-{backend}.json"
    return dict(json.loads(path.read_text())["results"]) if path.exists() else {}


def ratio(value: float, base: float | None, sense: str) -> str:
    """Against the committed baseline; > 1 is better."""
    if not base:
        return "-"
    return f"{(value / base if sense == 'higher' else base / value):.2f}"


def print_table(results: dict[str, dict[str, float]]) -> list[str]:
    """One row per metric, the backends side by side; returns the targets missed."""
    backends = list(results)
    bases = {b: baseline(b) for b in backends}
    header = f"{'metric':30} {'target':>8}"
    for b in backends:
        header += f" {b:>10} {'vs base':>7}"
    print(header)
    missed = []
    for key, (target, sense) in TARGETS.items():
        line = f"{key:30} {('>=' if sense == 'higher' else '<=') + format(target, 'g'):>8}"
        for b in backends:
            value = results[b][key]
            ok = value >= target if sense == "higher" else value <= target
            line += f" {value:10.1f}{'' if ok else '!'} {ratio(value, bases[b].get(key), sense):>6}"
            if not ok:
                missed.append(f"{b} {key}")
        print(line)
    print("('!' marks a missed target; 'vs base' is the ratio to benchmarks/baseline/, > 1 better)")
    return missed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entities", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="fewer samples (smoke run)")
    parser.add_argument("--backends", default="sqlite,postgres",
                        help="comma-separated: sqlite, postgres (default: both)")
    args = parser.parse_args()

    results: dict[str, dict[str, float]] = {}
    for backend in args.backends.split(","):
        if backend not in ("sqlite", "postgres"):
            parser.error(f"unknown backend {backend!r}")
        if backend == "postgres" and (why := unavailable()):
            print(f"postgres: skipped ({why})", file=sys.stderr)
            continue
        print(f"{backend}: {args.entities} entities...", file=sys.stderr)
        results[backend] = run_backend(backend, args.entities, args.quick)
        out = write_report(backend, args.entities, args.quick, results[backend])
        print(f"results written to {out}", file=sys.stderr)
    missed = print_table(results)
    subprocess.run([sys.executable, str(HERE / "history_codec.py")], check=True)
    if missed:
        print("targets missed: " + ", ".join(missed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
