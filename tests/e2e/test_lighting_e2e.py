"""Question 14 in a real browser: a police officer logs in, switches on the lighting
of a commune, and reads on screen that the street lights obeyed.

A real `bocage serve` and the real Mosquitto; a small network-server stand-in
subscribed to the downlink topics answers like ChirpStack and The Things Stack
would (the device's acknowledgement, then its status frame with the lamp on).
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import mqtt_broker
import orjson
import paho.mqtt.client as paho
import pytest
from bocage_process import cli_key, running_bocage
from browser import chromium
from lit_territory import EUI1, EUI2, TTS_DEVICE, A, build
from mqtt_broker import unique, wait_for

from bocage.codecs.registry import builtin_registry, encoder_for

SL1 = builtin_registry().get("bocage-sl1")


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class NetworkServer:
    """Takes bocage's downlinks; each device acknowledges, then reports its lamp on."""

    def __init__(self, app_id: str) -> None:
        self.app_id = app_id
        self.orders: list[dict[str, Any]] = []
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=unique("ns"))
        self.client.on_message = self.on_message
        self.client.connect(mqtt_broker.HOST, mqtt_broker.PORT)
        self.client.loop_start()
        self.client.subscribe([(f"application/{app_id}/device/+/command/down", 1),
                               (f"v3/{app_id}@ttn/devices/+/down/push", 1)])

    def publish(self, topic: str, body: dict[str, Any]) -> None:
        self.client.publish(topic, orjson.dumps(body), qos=1)

    def frame(self, order: dict[str, Any]) -> str:
        _, frame = encoder_for("bocage-sl1")({
            "powerState": "on" if order["action"] == "on" else "off", "lampStatus": "ok",
            "dimmingLevel": 100, "power": 41.0, "energy": 10.0})
        return base64.b64encode(frame).decode()

    def on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        body = orjson.loads(msg.payload)
        assert SL1 is not None and SL1.decode_downlink is not None
        app = self.app_id
        if msg.topic.startswith("application/"):  # ChirpStack
            eui = body["devEui"]
            order = SL1.decode_downlink(base64.b64decode(body["data"]), body["fPort"])
            self.orders.append(order)
            info = {"devEui": eui, "applicationId": app}
            base = f"application/{app}/device/{eui}/event"
            self.publish(f"{base}/ack", {"deduplicationId": secrets.token_hex(8),
                                         "time": now_iso(), "deviceInfo": info,
                                         "queueItemId": body["id"], "acknowledged": True,
                                         "fCntDown": 1})
            self.publish(f"{base}/up", {"deduplicationId": secrets.token_hex(8),
                                        "time": now_iso(), "deviceInfo": info, "fCnt": 9,
                                        "fPort": 10, "data": self.frame(order)})
        else:  # The Things Stack
            (down,) = body["downlinks"]
            order = SL1.decode_downlink(base64.b64decode(down["frm_payload"]), down["f_port"])
            self.orders.append(order)
            ids = {"device_id": TTS_DEVICE, "dev_eui": EUI2,
                   "application_ids": {"application_id": app}}
            base = f"v3/{app}@ttn/devices/{TTS_DEVICE}"
            self.publish(f"{base}/down/ack", {
                "end_device_ids": ids, "received_at": now_iso(),
                "correlation_ids": down["correlation_ids"], "downlink_ack": down})
            self.publish(f"{base}/up", {
                "end_device_ids": ids, "received_at": now_iso(),
                "correlation_ids": [f"as:up:{secrets.token_hex(8)}"],
                "uplink_message": {"f_port": 10, "f_cnt": 9, "frm_payload": self.frame(order),
                                   "received_at": now_iso(), "rx_metadata": []}})

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def lit_site(tmp_path: Path) -> Iterator[tuple[str, NetworkServer]]:
    mqtt_broker.require()
    app_id = unique("bocage-e2e-light")
    events = ["up", "down/ack", "down/nack", "down/failed", "down/sent"]
    env = {"BOCAGE_CHIRPSTACK_MQTT_URL": mqtt_broker.URL,
           "BOCAGE_CHIRPSTACK_MQTT_TOPICS": f"application/{app_id}/device/+/event/+",
           "BOCAGE_CHIRPSTACK_MQTT_CLIENT_ID": f"{app_id}-cs",
           "BOCAGE_TTS_MQTT_URL": mqtt_broker.URL,
           "BOCAGE_TTS_MQTT_TOPICS": ",".join(f"v3/{app_id}@ttn/devices/+/{e}" for e in events),
           "BOCAGE_TTS_MQTT_CLIENT_ID": f"{app_id}-tts",
           "BOCAGE_MQTT_SESSION_EXPIRY": "60", "BOCAGE_COMMANDS_TICK_SECONDS": "0.3"}
    key = cli_key(tmp_path)
    db = {**os.environ, "BOCAGE_DATABASE_URL": f"sqlite:///{tmp_path}/bocage.db"}
    subprocess.run([sys.executable, "-m", "bocage.cli", "users", "create", "police.ambe",
                    "--role", "police", "--scope", A, "--password", "un mot de passe solide"],
                   env=db, check=True, capture_output=True)
    ns = NetworkServer(app_id)
    try:
        with running_bocage("serve", tmp_path, env=env) as base:
            with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"},
                              timeout=10) as admin:
                build(admin, app_id)  # type: ignore[arg-type]
            yield base, ns
    finally:
        ns.close()
        for suffix in ("cs", "tts", "cs-commands", "tts-commands"):
            mqtt_broker.forget_session(f"{app_id}-{suffix}")


def test_police_switches_on_a_commune_and_sees_it_confirmed(
        lit_site: tuple[str, NetworkServer]) -> None:
    base, ns = lit_site
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.goto(f"{base}/ui/eclairage-urgence")
        page.wait_for_url("**/ui/connexion**")  # log in first
        page.fill("#login-username", "police.ambe")
        page.fill("#login-password", "un mot de passe solide")
        page.click("#login-form button[type=submit]")
        page.wait_for_url("**/ui/eclairage-urgence")
        assert page.get_by_role("link", name="Éclairage d’urgence").count() == 1
        # without a reason: a French message next to the field, nothing sent
        page.select_option("#c-target", A)
        page.click("#c-submit")
        assert "Indiquez le motif" in page.inner_text("#c-reason-error")
        assert ns.orders == []
        problems.clear()  # the refused form's own 400 is logged by the browser
        page.select_option("#c-target", A)
        page.select_option("#c-duration", "30")
        page.fill("#c-reason", "Recherche d'une personne disparue, secteur de la gare")
        page.get_by_role("button", name="Allumer").click()
        page.wait_for_url("**/ui/eclairage-urgence/commande/**")
        # htmx polls the status until the street lights report they are on
        page.wait_for_selector('#command-state[data-state="confirmed"]', timeout=30_000)
        assert page.inner_text("#command-state") == "Éclairage allumé (confirmé)"
        assert "2 lampadaire(s)" in page.inner_text("#command-progress")
        assert "Recherche d'une personne disparue" in page.inner_text("main")
        assert sorted(o["action"] for o in ns.orders) == ["on", "on"]
        assert all(o["durationMinutes"] == 30 for o in ns.orders)
        wait_for(lambda: page.locator("#command-status[hx-get]").count() == 0, 10,
                 "polling stops once confirmed")
        page.screenshot(path=str(Path(os.environ.get("BOCAGE_SHOTS", "/tmp"))
                                 / "eclairage-urgence.png"), full_page=True)
        assert problems == [], problems
        page.close()
    assert EUI1  # both devices of the commune were reached (ChirpStack and TTS)
