"""Lighting command latency: POST /api/commands -> the downlink at the network server.

    python benchmarks/commands.py [--commands 50]

Against a real `bocage serve` process and the Mosquitto on 127.0.0.1:1883: a
subscriber stands in for ChirpStack and times, for each command on one street
light, the POST (accept: check, audit, queue) and the arrival of its downlink
(the dispatcher is woken at once; it publishes with QoS 1). One command at a
time; the client, the broker and the server share the machine's cores.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import paho.mqtt.client as paho

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "e2e"))
from bocage_process import cli_key, running_bocage
from lit_territory import L1, A, build
from run import machine


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--commands", type=int, default=50)
    n = parser.parse_args().commands
    app_id = f"bench-cmd-{secrets.token_hex(4)}"
    arrived: dict[str, float] = {}
    got = threading.Condition()

    def on_message(client: object, userdata: object, msg: paho.MQTTMessage) -> None:
        with got:
            arrived[str(len(arrived))] = time.perf_counter()
            got.notify_all()

    ns = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"{app_id}-ns")
    ns.on_message = on_message
    ns.connect("127.0.0.1", 1883)
    ns.loop_start()
    ns.subscribe(f"application/{app_id}/device/+/command/down", qos=1)
    env = {"BOCAGE_CHIRPSTACK_MQTT_URL": "mqtt://127.0.0.1:1883",
           "BOCAGE_CHIRPSTACK_MQTT_TOPICS": f"application/{app_id}/device/+/event/+",
           "BOCAGE_CHIRPSTACK_MQTT_CLIENT_ID": app_id, "BOCAGE_MQTT_SESSION_EXPIRY": "60",
           "BOCAGE_LOG_LEVEL": "WARNING"}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        admin = {"Authorization": f"Bearer {cli_key(data)}"}
        police = {"Authorization": f"Bearer {cli_key(data, 'police', A)}"}
        with running_bocage("serve", data, env=env) as base, \
                httpx.Client(base_url=base, timeout=10) as http:
            http.headers.update(admin)
            build(http, app_id)  # type: ignore[arg-type]
            accept, deliver = [], []
            for i in range(n):
                t0 = time.perf_counter()
                r = http.post("/api/commands", headers=police, json={
                    "target": L1, "action": "on" if i % 2 else "off", "reason": "bench"})
                t1 = time.perf_counter()
                assert r.status_code == 202, r.text
                with got:
                    got.wait_for(lambda i=i: len(arrived) > i, timeout=10)
                accept.append((t1 - t0) * 1000)
                deliver.append((arrived[str(i)] - t0) * 1000)
    ns.loop_stop()
    ns.disconnect()

    def fig(xs: list[float]) -> str:
        xs = sorted(xs)
        return (f"median {statistics.median(xs):.1f} ms, "
                f"p95 {xs[int(len(xs) * 0.95) - 1]:.1f} ms")

    print(f"{n} commands, one street light each; {machine()}")
    print(f"POST /api/commands (202):        {fig(accept)}")
    print(f"POST -> downlink at the server:  {fig(deliver)}")


if __name__ == "__main__":
    main()
