"""Ingestion benchmarks against a real `bocage serve` process (SQLite), full path.

    python benchmarks/ingest.py [--seconds 10] [--devices 1000] [--mqtt 20000] [--quick]

HTTP: wrk (Debian package `wrk`) posts ChirpStack v4 uplinks (each its own
deduplicationId, over --devices registered parking sensors) to
/ingest/chirpstack for --seconds; `accepted/s` is wrk's rate of 202 answers
(committed to the inbox), `processed/s` the pipeline's rate (decode -> entity
update) from the first request until the backlog is drained. GET /healthz is
measured the same way in the same run: the ratio says how far ingestion is from
the cheapest request the server answers.

The machine is shared (other processes, the load generator): wall-clock rates
vary with its load. So the server's CPU time (all threads, from /proc) is
measured too: `cpu_us_per_uplink` is what one uplink costs the server through
the full path (accept + decode + entity update), and `one_core_uplinks_per_s`
= 1 / that, the rate one core given to the server alone would sustain.

History: the same two HTTP rounds on a second server started with
BOCAGE_HISTORY_ENABLED=false (no history recorded); `history_on_to_off_one_core_ratio`
is what recording history leaves of the one-core rate (1 = it costs nothing).

The floor: a raw ASGI app (benchmarks/asgi_hello.py) served by the same
uvicorn/httptools/uvloop stack, measured the same way (`asgi_hello_cpu_us`):
what the HTTP stack alone costs per request on this machine, under any
endpoint, before any framework or work.

MQTT: a private Mosquitto (free port, in-flight window 1000) and a publisher
process sending --mqtt uplinks with QoS 1 (1000 in flight); `stored/s` is
the rate at which bocage committed them (it acknowledges only then).

Writes benchmarks/results/ingest-sqlite.json and compares it with the committed
baseline benchmarks/baseline/ingest-sqlite.json. wrk, the publisher and the
broker share the machine's cores with the server: the figures are conservative.
"""

from __future__ import annotations

import argparse
import copy
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import orjson

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from run import bocage_server, free_port, machine  # noqa: E402

FIXTURE = HERE.parent / "tests" / "connectors" / "fixtures" / "chirpstack-v4" / "event-up.json"
SECRET = "bench-secret"
TOPIC = "application/bench/device/{eui}/event/up"
TARGETS = {
    "http_accepted_per_s": (10_000, "higher"),
    "http_processed_per_s": (10_000, "higher"),
    "mqtt_stored_per_s": (5_000, "higher"),
    "mqtt_processed_per_s": (5_000, "higher"),
}


def template() -> str:
    body = copy.deepcopy(orjson.loads(FIXTURE.read_bytes()))
    body["deduplicationId"] = "__DEDUP__"
    body["time"] = "__TIME__"
    body["deviceInfo"]["devEui"] = "__EUI__"
    body["fCnt"] = 999_999
    return orjson.dumps(body).decode().replace("999999", "__FCNT__")


def eui(n: int) -> str:
    return f"{n:016X}"


#: the administrator's key (``/metrics`` and the admin API need one); set by main()
ADMIN: dict[str, str] = {}


def metric(base: str, name: str, labels: str = "") -> float:
    text = httpx.get(base + "/metrics", timeout=10, headers=ADMIN).text
    m = re.search("^" + re.escape(name + labels) + r" (\S+)$", text, re.M)
    return float(m.group(1)) if m else 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all threads (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_drained(base: str, timeout: float = 600) -> float:
    """Poll the backlog until empty; the time it was first seen empty."""
    deadline = time.monotonic() + timeout
    while metric(base, "bocage_ingest_backlog") > 0:
        if time.monotonic() > deadline:
            raise RuntimeError("the ingest backlog did not drain")
        time.sleep(0.1)  # each poll costs the server a /metrics render
    return time.perf_counter()


def wrk(base: str, script: str, seconds: int, connections: int,
        env: dict[str, str]) -> tuple[float, int, float]:
    """(requests/s, requests, p95 ms)."""
    path = "/healthz" if script == "healthz.lua" else "/"
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", str(HERE / "wrk" / script),
         base + path],
        capture_output=True, text=True, check=True, env={**os.environ, **env}).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    result = re.search(r"RESULT p95_ms=([\d.]+) errors=(\d+)", out)
    if rate is None or total is None or result is None:
        raise RuntimeError(f"cannot read wrk output:\n{out}")
    if int(result.group(2)):
        raise RuntimeError(f"wrk {script}: {result.group(2)} failed requests\n{out}")
    return float(rate.group(1)), int(total.group(1)), float(result.group(1))


#: wrk runs of ingest_chirpstack.lua so far, and the first instant the next may use:
#: each run has its own deduplicationIds and later times than the one before, so no
#: round replays duplicates (answered without pipeline work) or readings older than
#: the stored ones (left out); times follow the clock (ten uplinks a second), as a
#: live network's do, so the supervisor's silence rule sees no device silent
_RUNS = itertools.count()
_NEXT_INSTANT = [0]


def uplinks(base: str, seconds: int, env: dict[str, str]) -> tuple[float, int, float]:
    """One wrk run of ChirpStack uplinks: (requests/s, requests, p95 ms)."""
    start = max(int(time.time()), _NEXT_INSTANT[0])
    out = wrk(base, "ingest_chirpstack.lua", seconds, 16,
              {**env, "BENCH_RUN": f"r{next(_RUNS)}", "BENCH_TIME_BASE": str(start)})
    _NEXT_INSTANT[0] = start + out[1] // 10 + 2
    return out


def http_bench(base: str, pid: int, seconds: int, devices: int,
               tmp: Path) -> dict[str, float]:
    tpl = tmp / "template.json"
    tpl.write_text(template())
    env = {"BENCH_TEMPLATE": str(tpl), "BENCH_DEVICES": str(devices),
           "BENCH_SECRET": SECRET}
    uplinks(base, 2, env)  # warm-up
    wait_drained(base)
    cpu = cpu_seconds(pid)
    healthz, healthz_total, _ = wrk(base, "healthz.lua", seconds, 16, {})
    healthz_cpu = (cpu_seconds(pid) - cpu) / healthz_total
    cpu = cpu_seconds(pid)
    start = time.perf_counter()
    accepted, total, p95 = uplinks(base, seconds, env)
    drained = wait_drained(base)
    uplink_cpu = (cpu_seconds(pid) - cpu) / total
    return {"healthz_per_s": healthz, "http_accepted_per_s": accepted,
            "http_accept_p95_ms": p95, "http_uplinks": total,
            "http_processed_per_s": total / (drained - start),
            "http_accepted_to_healthz": accepted / healthz,
            # server CPU per request, all threads: what one core could do alone
            "healthz_cpu_us": healthz_cpu * 1e6,
            "http_cpu_us_per_uplink": uplink_cpu * 1e6,
            "http_one_core_uplinks_per_s": 1 / uplink_cpu,
            "http_cpu_ratio_to_healthz": healthz_cpu / uplink_cpu}


def asgi_floor(seconds: int) -> dict[str, float]:
    """CPU per request of a raw ASGI app on the same server stack (the floor)."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(HERE / "asgi_hello.py"), str(port)])
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                httpx.get(base + "/", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        wrk(base, "healthz.lua", 1, 16, {})  # warm-up
        cpu = cpu_seconds(proc.pid)
        rate, total, _ = wrk(base, "healthz.lua", seconds, 16, {})
        return {"asgi_hello_per_s": rate,
                "asgi_hello_cpu_us": (cpu_seconds(proc.pid) - cpu) / total * 1e6}
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def publish(port: int, count: int, inflight: int) -> None:
    """The publisher process: ``count`` uplinks with QoS 1, ``inflight`` unacknowledged."""
    import paho.mqtt.client as paho

    body = orjson.loads(FIXTURE.read_bytes())
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{os.getpid()}")
    client.max_inflight_messages_set(inflight)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    infos = []
    for n in range(count):
        body["deduplicationId"] = f"mqtt-{n}"
        body["fCnt"] = n
        dev = n % 1000 + 1
        body["deviceInfo"]["devEui"] = eui(dev)
        body["time"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(1_800_000_000 + n))
        infos.append(client.publish(TOPIC.format(eui=eui(dev)), orjson.dumps(body), qos=1))
    for info in infos:
        info.wait_for_publish(timeout=300)
    client.loop_stop()
    client.disconnect()


def mqtt_bench(base: str, pid: int, port: int, count: int) -> dict[str, float]:
    label = '{connector="chirpstack",outcome="stored"}'
    before = metric(base, "bocage_ingest_mqtt_messages_total", label)
    cpu = cpu_seconds(pid)
    start = time.perf_counter()
    pub = subprocess.Popen([sys.executable, __file__, "--publish", str(port), str(count)])
    deadline = time.monotonic() + 600
    while metric(base, "bocage_ingest_mqtt_messages_total", label) < before + count:
        if time.monotonic() > deadline or pub.poll() not in (None, 0):
            raise RuntimeError("the MQTT uplinks were not all stored")
        time.sleep(0.1)
    stored = time.perf_counter()
    drained = wait_drained(base)
    uplink_cpu = (cpu_seconds(pid) - cpu) / count
    pub.wait(timeout=60)
    return {"mqtt_uplinks": count, "mqtt_stored_per_s": count / (stored - start),
            "mqtt_processed_per_s": count / (drained - start),
            "mqtt_cpu_us_per_uplink": uplink_cpu * 1e6,
            "mqtt_one_core_uplinks_per_s": 1 / uplink_cpu}


def start_broker(tmp: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    conf = tmp / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                    "max_inflight_messages 1000\nmax_queued_messages 1000000\n")
    proc = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    return proc, port


@contextmanager
def serving(folder: Path, devices: int, mqtt_port: int | None,
            history: bool = True) -> Iterator[tuple[str, int]]:
    """A `bocage serve` on a database in ``folder`` with ``devices`` parking sensors
    registered (and its MQTT connector on ``mqtt_port``): (base URL, pid)."""
    folder.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "BOCAGE_DATABASE_URL": f"sqlite:///{folder}/bench.db",
           "BOCAGE_LOG_LEVEL": "WARNING", "BOCAGE_CHIRPSTACK_SECRET": SECRET,
           "BOCAGE_INGEST_MAX_BACKLOG": "10000000",
           "BOCAGE_HISTORY_ENABLED": "true" if history else "false"}
    if mqtt_port is not None:
        env.update({"BOCAGE_CHIRPSTACK_MQTT_URL": f"mqtt://127.0.0.1:{mqtt_port}",
                    "BOCAGE_CHIRPSTACK_MQTT_TOPICS": TOPIC.format(eui="+")})
    # authentication stays on (the ingest endpoint has its own secret); an
    # administrator's key registers the devices and the rules
    with bocage_server(env) as (base, pid, key):
        ADMIN.update({"Authorization": f"Bearer {key}"})
        with httpx.Client(base_url=base, timeout=30, headers=ADMIN) as client:
            for n in range(1, devices + 1):
                r = client.post("/api/devices", json={"devEui": eui(n), "model": "bocage-ps1"})
                if r.status_code != 201:
                    raise RuntimeError(f"device {n}: {r.status_code} {r.text}")
        yield base, pid


def add_rules(base: str, count: int) -> None:
    """The supervision issue's bar: ingestion with ``count`` rules on the parking model."""
    with httpx.Client(base_url=base, timeout=30, headers=ADMIN) as client:
        for k in range(count):
            r = client.put(f"/api/rules/bench-{k}", json={
                "id": f"bench-{k}", "name": f"bench {k}", "severity": "minor",
                "target": {"type": "ParkingSpot"},
                "condition": {"kind": "threshold", "attribute": "status",
                              "op": "==", "value": f"never-{k}"}})
            if r.status_code not in (200, 201):
                raise RuntimeError(f"rule {k}: {r.status_code} {r.text}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--mqtt", type=int, default=20_000, help="MQTT uplinks to send")
    parser.add_argument("--quick", action="store_true", help="3 s, 5,000 MQTT uplinks")
    parser.add_argument("--rules", type=int, default=10,
                        help="then measure HTTP again with this many more rules on the "
                             "parking model (0: skip)")
    parser.add_argument("--no-history-off", action="store_true",
                        help="skip the HTTP rounds on a server that records no history")
    parser.add_argument("--out", default=str(HERE / "results" / "ingest-sqlite.json"))
    parser.add_argument("--publish", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.publish:
        publish(args.publish[0], args.publish[1], inflight=1000)
        return 0
    if args.quick:
        args.seconds, args.mqtt = 3, 5000
    if shutil.which("wrk") is None or shutil.which("mosquitto") is None:
        print("the ingest benchmark needs wrk and mosquitto (Debian packages)", file=sys.stderr)
        return 2

    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        broker, mqtt_port = start_broker(tmp)
        try:
            with serving(tmp / "on", args.devices, mqtt_port) as (base, pid):
                # a first round touches every device's entities for the first time
                # (caches, first history rows): measured, but the figures are the second
                # round's, so that the round with more rules below compares with a warm
                # server
                http_bench(base, pid, args.seconds, args.devices, tmp)
                results.update(http_bench(base, pid, args.seconds, args.devices, tmp))
                results.update(asgi_floor(args.seconds))
                results["http_cpu_ratio_to_asgi_hello"] = (results["asgi_hello_cpu_us"]
                                                          / results["http_cpu_us_per_uplink"])
                if args.rules:
                    add_rules(base, args.rules)
                    ruled = http_bench(base, pid, args.seconds, args.devices, tmp)
                    results.update({f"rules{args.rules}_{k}": v for k, v in ruled.items()
                                    if k in ("http_accepted_per_s", "http_processed_per_s",
                                             "http_cpu_us_per_uplink",
                                             "http_one_core_uplinks_per_s")})
                    results[f"rules{args.rules}_cpu_ratio"] = (
                        results["http_cpu_us_per_uplink"]
                        / results[f"rules{args.rules}_http_cpu_us_per_uplink"])
                results.update(mqtt_bench(base, pid, mqtt_port, args.mqtt))
                spot = httpx.get(f"{base}/ngsi-ld/v1/entities/urn:ngsi-ld:ParkingSpot:{eui(1)}",
                                 headers=ADMIN).json()
                if "status" not in spot:
                    raise RuntimeError(f"the uplinks did not reach the entities: {spot}")
            if not args.no_history_off:
                # the history issue's bar: ingestion with history recorded keeps the rate
                # it has without; the same HTTP rounds on a server that records none
                with serving(tmp / "off", args.devices, None, history=False) as (base, pid):
                    http_bench(base, pid, args.seconds, args.devices, tmp)
                    off = http_bench(base, pid, args.seconds, args.devices, tmp)
                results["history_off_http_cpu_us_per_uplink"] = off["http_cpu_us_per_uplink"]
                results["history_off_http_one_core_uplinks_per_s"] = (
                    off["http_one_core_uplinks_per_s"])
                results["history_on_to_off_one_core_ratio"] = (
                    results["http_one_core_uplinks_per_s"]
                    / off["http_one_core_uplinks_per_s"])
        finally:
            broker.terminate()
            broker.wait(timeout=10)

    report = {"benchmark": "ingest", "backend": "sqlite", "seconds": args.seconds,
              "devices": args.devices, "quick": args.quick, "client": "wrk -t1 -c16",
              "machine": machine(),
              "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "results": results}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")

    baseline_path = HERE / "baseline" / "ingest-sqlite.json"
    baseline = json.loads(baseline_path.read_text())["results"] if baseline_path.exists() else {}
    print(f"{'metric':28} {'value':>10} {'target':>8} {'baseline':>10} {'ratio':>7}")
    for key, value in results.items():
        target = TARGETS.get(key, (None, ""))[0]
        base_v = baseline.get(key)
        ratio = f"{value / base_v:7.2f}" if base_v else ""
        shown = f"{base_v:10.1f}" if base_v is not None else " " * 10
        print(f"{key:28} {value:10.1f} {target or '':>8} {shown} {ratio}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
