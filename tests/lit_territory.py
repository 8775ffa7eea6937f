"""A small lit territory for the command tests: two communes, lights, a zone, devices.

Commune A (/FR/01/240100883/01004) has a zone of two lights -- L1 behind a
ChirpStack device, L2 behind a The Things Stack one -- and a control cabinet
feeding both (its own device is an electricity meter, which takes no orders);
commune B has one light of its own.
"""

from __future__ import annotations

import base64
import datetime as dt
import secrets
from typing import Any

from starlette.testclient import TestClient

from bocage.domain.access import Grant

NGSI = "/ngsi-ld/v1"
A = "/FR/01/240100883/01004"
B = "/FR/01/240100883/01053"
GROUP = "urn:ngsi-ld:StreetlightGroup:01004-Z001"
CABINET = "urn:ngsi-ld:StreetlightControlCabinet:01004-K001"
L1 = "urn:ngsi-ld:Streetlight:01004-L001"
L2 = "urn:ngsi-ld:Streetlight:01004-L002"
LB = "urn:ngsi-ld:Streetlight:01053-L001"
EUI1, EUI2, EUIB, EUIK = "70B3D5FFFE000001", "70B3D5FFFE000002", "70B3D5FFFE0000B1", \
    "70B3D5FFFE0000C1"
TTS_DEVICE = "lampadaire-2"


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def build(admin: TestClient, app_id: str) -> None:
    def create(body: dict[str, Any]) -> None:
        r = admin.post(f"{NGSI}/entities", json=body)
        assert r.status_code == 201, r.text

    def rel(target: str) -> dict[str, str]:
        return {"type": "Relationship", "object": target}

    create({"id": GROUP, "type": "StreetlightGroup", "scope": A,
            "name": {"type": "Property", "value": "Centre bourg"}})
    create({"id": CABINET, "type": "StreetlightControlCabinet", "scope": A})
    for light in (L1, L2):
        create({"id": light, "type": "Streetlight", "scope": A,
                "refStreetlightGroup": rel(GROUP), "refStreetlightControlCabinet": rel(CABINET),
                "powerState": {"type": "Property", "value": "off"}})
    create({"id": LB, "type": "Streetlight", "scope": B,
            "powerState": {"type": "Property", "value": "off"}})
    devices = [
        {"devEui": EUI1, "model": "bocage-sl1", "assetId": L1, "scope": A,
         "networkServer": "chirpstack", "applicationId": app_id},
        {"devEui": EUI2, "model": "bocage-sl1", "assetId": L2, "scope": A,
         "networkServer": "tts", "applicationId": f"{app_id}@ttn",
         "networkDeviceId": TTS_DEVICE},
        {"devEui": EUIB, "model": "bocage-sl1", "assetId": LB, "scope": B,
         "networkServer": "chirpstack", "applicationId": app_id},
        {"devEui": EUIK, "model": "bocage-em1", "assetId": CABINET, "scope": A,
         "networkServer": "chirpstack", "applicationId": app_id},
    ]
    for dev in devices:
        r = admin.post("/api/devices", json=dev)
        assert r.status_code == 201, r.text


def key(app: Any, role: str, scope: str) -> dict[str, str]:
    _, k = app.state.security.create_key([Grant(role, scope)], name=role, by="tests")
    return {"Authorization": f"Bearer {k}"}


def cs_event(app_id: str, eui: str, **body: Any) -> tuple[str, bytes]:
    import orjson

    kind = body.pop("kind")
    body = {"deduplicationId": secrets.token_hex(8), "time": now_iso(),
            "deviceInfo": {"devEui": eui.lower(), "applicationId": app_id}, **body}
    return f"application/{app_id}/device/{eui.lower()}/event/{kind}", orjson.dumps(body)


def cs_uplink(app_id: str, eui: str, f_port: int, payload: bytes, f_cnt: int) -> tuple[str, bytes]:
    return cs_event(app_id, eui, kind="up", fCnt=f_cnt, fPort=f_port,
                    data=base64.b64encode(payload).decode())
