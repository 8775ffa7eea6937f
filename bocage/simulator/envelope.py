"""ChirpStack v4 ``up`` events, as the HTTP integration posts them (JSON). Pure."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import uuid
from typing import Any

from bocage.simulator.rand import between

#: a fixed tenant and application, as one ChirpStack application would have
TENANT_ID = "52f14cd4-c6f1-4fbd-8f87-4025e1d49242"
APPLICATION_ID = "b0ca6e00-5100-4000-8000-000000000001"
GATEWAY_ID = "b0ca6e0000000001"


def rfc3339(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).isoformat().replace("+00:00", "Z")


def up_event(dev_eui: str, model: str, name: str, t: float, f_port: int | None,
             payload: bytes | None, seed: int, decoded: dict[str, Any] | None = None,
             ) -> dict[str, Any]:
    """The ``up`` event of one uplink at Unix time ``t``. Its ``deduplicationId`` is
    derived from the device and the time, so sending it twice stores it once."""
    dedup = uuid.UUID(bytes=hashlib.blake2b(f"{dev_eui}|{t:.3f}".encode(),
                                            digest_size=16).digest(), version=4)
    rssi = round(between(-118, -70, seed, "rssi", dev_eui) + between(-4, 4, seed, "r", t), 0)
    snr = round(between(-12, 9, seed, "snr", dev_eui) + between(-1.5, 1.5, seed, "s", t), 1)
    body: dict[str, Any] = {
        "deduplicationId": str(dedup),
        "time": rfc3339(t),
        "deviceInfo": {
            "tenantId": TENANT_ID, "tenantName": "bocage simulator",
            "applicationId": APPLICATION_ID, "applicationName": "territoire simulé",
            "deviceProfileId": str(uuid.uuid5(uuid.NAMESPACE_URL, "bocage:" + model)),
            "deviceProfileName": model, "deviceName": name or dev_eui, "devEui": dev_eui.lower(),
            "tags": {},
        },
        "devAddr": dev_eui[-8:].lower(),
        "adr": True, "dr": 5, "fCnt": int(t // 10) & 0xFFFFFFFF, "confirmed": False,
        "rxInfo": [{"gatewayId": GATEWAY_ID, "uplinkId": int(t * 1000) & 0xFFFFFFFF,
                    "rssi": int(rssi), "snr": snr, "channel": 0,
                    "location": {}, "context": "AAAAAA==",
                    "metadata": {"region_name": "eu868", "region_common_name": "EU868"},
                    "crcStatus": "CRC_OK"}],
        "txInfo": {"frequency": 868100000,
                   "modulation": {"lora": {"bandwidth": 125000, "spreadingFactor": 7,
                                           "codeRate": "CR_4_5"}}},
    }
    if f_port is not None:
        body["fPort"] = f_port
    body["data"] = base64.b64encode(payload or b"").decode()
    if decoded is not None:
        body["object"] = decoded
    return body
