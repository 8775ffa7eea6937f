#!/usr/bin/env python3
"""The load generator's own cost: `bocage simulate` driving a real `bocage serve`.

Starts a throwaway `bocage serve` (SQLite, ChirpStack endpoint enabled) on a free port,
then runs `bocage simulate` in its own process for each scenario and keeps its report:
sent / acknowledged / rejected, latencies, and the CPU the generator process used while
generating (process time over wall time; registration and start-up excluded, they are
reported apart). Results: benchmarks/results/simulate.json.

    python benchmarks/simulate.py                      # 10,000 devices, nominal rates, 5 min
    python benchmarks/simulate.py --duration 60 --devices 2000
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-secret"


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
            "system": platform.platform(), "load_average_at_start": os.getloadavg()}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def simulate(base: str, devices: int, duration: float, interval: float | None,
             register: bool, out: Path) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "bocage.cli", "simulate", "--target", base,
           "--devices", str(devices), "--duration", f"{duration}s", "--secret", SECRET,
           "--json", str(out)]
    if interval:
        cmd += ["--interval", str(interval)]
    if not register:
        cmd.append("--no-register")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if not out.exists():
        raise SystemExit(f"bocage simulate failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    report: dict[str, Any] = json.loads(out.read_text())
    report["process_wall_seconds"] = round(wall, 1)
    report["process_cpu_seconds_total"] = round(
        (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), 2)
    report["exit_code"] = proc.returncode
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--duration", type=float, default=300.0, help="seconds per scenario")
    parser.add_argument("--stress-interval", type=float, default=60.0,
                        help="interval of the second scenario (0: skip it)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/simulate.json")
    args = parser.parse_args()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    results: dict[str, Any] = {"date": dt.date.today().isoformat(), "machine": machine(),
                               "devices": args.devices, "scenarios": {}}
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "BOCAGE_DATABASE_URL": f"sqlite:///{tmp}/bocage.db",
               "BOCAGE_CHIRPSTACK_SECRET": SECRET, "BOCAGE_LOG_LEVEL": "WARNING"}
        log = open(Path(tmp) / "serve.log", "wb")  # noqa: SIM115
        server = subprocess.Popen([sys.executable, "-m", "bocage.cli", "serve", "--port",
                                   str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.2)
                if time.monotonic() > deadline:
                    raise SystemExit("bocage serve did not start")
            scenarios = [("nominal", None, True)]
            if args.stress_interval:
                scenarios.append((f"every {args.stress_interval:g} s", args.stress_interval,
                                  False))
            for name, interval, register in scenarios:
                print(f"scenario {name}: {args.devices} devices for {args.duration:g} s",
                      flush=True)
                report = simulate(base, args.devices, args.duration, interval, register,
                                  Path(tmp) / f"{len(results['scenarios'])}.json")
                results["scenarios"][name] = report
                print(json.dumps(report), flush=True)
        finally:
            server.terminate()
            server.wait(20)
            log.close()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    print("| scenario | uplinks/s | sent | acknowledged | rejected | p95 ms | generator CPU |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, r in results["scenarios"].items():
        print(f"| {name} | {r['rate_per_s']} | {r['sent']} | {r['acknowledged']} | "
              f"{r['rejected']} | {r['latency_ms']['p95']} | "
              f"{r['generator_cpu_percent_of_one_core']} % |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
