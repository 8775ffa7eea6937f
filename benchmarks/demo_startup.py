#!/usr/bin/env python3
"""Time from a fresh clone to a living territory: `make demo`, then the first readings.

Clones the repository (its committed HEAD) into a temporary directory, runs
`make demo DEMO_ARGS="--port <free port>"` there and polls the API:

- *API up*: `/readyz` answers 200;
- *first data*: a Streetlight carries a `powerState` reading (it went through the
  ChirpStack connector, the inbox, the decoder and the store);
- *territory alive*: every simulated street light has reported.

Run it twice to see both cases: the first run builds `.venv` (pip install from the
local cache or PyPI), `--reuse-venv PATH` links an existing one to time `bocage demo`
alone. Results: benchmarks/results/demo-startup.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def count(base: str, **params: str) -> int:
    r = httpx.get(f"{base}/ngsi-ld/v1/entities",
                  params={**params, "count": "true", "limit": "0"}, timeout=5)
    return int(r.headers.get("NGSILD-Results-Count", "0")) if r.status_code == 200 else 0


def measure(reuse_venv: Path | None, timeout: float) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    from bocage.simulator import simulation

    lights = len(simulation.build_territory(simulation.Options()).devices_of("streetlight"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    out: dict[str, Any] = {"reused_venv": reuse_venv is not None, "street_lights": lights}
    with tempfile.TemporaryDirectory() as tmp:
        clone = Path(tmp) / "bocage"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        if reuse_venv is not None:
            (clone / ".venv").symlink_to(reuse_venv.resolve())
        t0 = time.monotonic()
        log = open(Path(tmp) / "demo.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(["make", "demo", f"DEMO_ARGS=--port {port}"], cwd=clone,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                env={k: v for k, v in os.environ.items()
                                     if not k.startswith("BOCAGE_")})
        try:
            marks: dict[str, float] = {}
            while time.monotonic() - t0 < timeout and "territory_alive_s" not in marks:
                if proc.poll() is not None:
                    raise SystemExit(f"make demo exited:\n{(Path(tmp) / 'demo.log').read_text()}")
                try:
                    if "api_up_s" not in marks and httpx.get(base + "/readyz",
                                                             timeout=1).status_code == 200:
                        marks["api_up_s"] = time.monotonic() - t0
                    if "api_up_s" in marks:
                        n = count(base, type="Streetlight", q="powerState")
                        if n and "first_data_s" not in marks:
                            marks["first_data_s"] = time.monotonic() - t0
                        if n >= lights:
                            marks["territory_alive_s"] = time.monotonic() - t0
                except httpx.TransportError:
                    pass
                time.sleep(0.2)
            out.update({k: round(v, 1) for k, v in marks.items()})
        finally:
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
            log.close()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--reuse-venv", type=Path, default=None)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/demo-startup.json")
    args = parser.parse_args()
    result = measure(args.reuse_venv, args.timeout)
    result.update({"date": dt.date.today().isoformat(), "load_average": os.getloadavg(),
                   "cpus": os.cpu_count()})
    runs = json.loads(args.out.read_text()) if args.out.exists() else []
    runs.append(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(runs, indent=2) + "\n")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
