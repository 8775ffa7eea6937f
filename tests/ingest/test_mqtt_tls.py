"""mqtts: a private Mosquitto that speaks only TLS and wants a client certificate."""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import pytest
from admin_client import admin_client
from conftest import entity, fixture, settle
from mqtt_broker import Publisher, tls_broker, unique, wait_for
from test_mqtt import PARKING_EUI, counted, cs_topic, register

from bocage.api.app import create_app
from bocage.settings import Settings
from bocage.storage.sqlite import SQLiteStore


def test_mqtts_with_a_client_certificate(settings: Settings, tmp_path: Path,
                                         caplog: pytest.LogCaptureFixture) -> None:
    app_id = unique("bocage-tls")
    (tmp_path / "tls").mkdir()
    with tls_broker(tmp_path / "tls") as (port, certs):
        cfg = settings.replace(
            chirpstack_mqtt_url=f"mqtts://localhost:{port}",
            chirpstack_mqtt_topics=f"application/{app_id}/device/+/event/+",
            chirpstack_mqtt_client_id=app_id,
            chirpstack_mqtt_ca_file=str(certs["ca.crt"]),
            chirpstack_mqtt_cert_file=str(certs["client.crt"]),
            chirpstack_mqtt_key_file=str(certs["client.key"]))
        store = SQLiteStore(str(tmp_path / "bocage.db"))
        with admin_client(create_app(cfg, store)) as client:
            [sub] = client.app.state.mqtt.subscribers  # type: ignore[attr-defined]
            wait_for(sub.subscribed.is_set, what="subscribed over TLS")
            register(client, PARKING_EUI, "bocage-ps1")
            pub = Publisher(port, certs)
            pub.publish(cs_topic(app_id, PARKING_EUI, "up"),
                        orjson.dumps(fixture("chirpstack-v4/event-up.json")))
            pub.close()
            wait_for(lambda: counted(client, "chirpstack", "stored") == 1, what="stored")
            settle(client)
            spot = entity(client, f"urn:ngsi-ld:ParkingSpot:{PARKING_EUI}")
            assert spot["status"]["value"] == "occupied"
        # without its certificate the broker refuses bocage, which says so and keeps trying
        no_cert = cfg.replace(chirpstack_mqtt_cert_file="", chirpstack_mqtt_key_file="",
                              chirpstack_mqtt_client_id=app_id + "-nocert")
        with admin_client(create_app(no_cert, store)) as client:
            [sub] = client.app.state.mqtt.subscribers  # type: ignore[attr-defined]
            wait_for(lambda: any("disconnected from mqtts://localhost" in r.getMessage()
                                 for r in caplog.records), timeout=30, what="the refusal logged")
            time.sleep(0.2)
            assert not sub.subscribed.is_set()
        store.close()
