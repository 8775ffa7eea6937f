"""The pure pipeline: decode, normalise, patch, or a dead-letter reason."""

from __future__ import annotations

import pytest

from bocage.codecs.model import ModelSpec, Quantity
from bocage.codecs.registry import builtin_registry
from bocage.devices.records import DeviceRecord
from bocage.ingest.normalise import OutOfRange, normalise
from bocage.ingest.pipeline import Rejected, process
from bocage.ingest.record import Radio, Uplink

CODECS = builtin_registry()
AT = "2030-01-01T00:00:00.000Z"
SL1 = next(c for c in CODECS if c.id == "bocage-sl1").model
DEV = DeviceRecord(dev_eui="0000000000000A01", model="bocage-sl1",
                   asset_id="urn:ngsi-ld:Streetlight:a1")


def up(payload: str, f_port: int = 10) -> Uplink:
    return Uplink(source="chirpstack", event="up", dev_eui=DEV.dev_eui, application="a",
                  dedup_key="k", received_at=AT, f_port=f_port, f_cnt=1,
                  payload=bytes.fromhex(payload), radio=Radio(-90.0, 7.5, 2))


def test_streetlight_frame_to_patches() -> None:
    asset, device = process(up("014601a90012d687"), DEV, SL1, CODECS)
    assert asset.entity_id == "urn:ngsi-ld:Streetlight:a1"
    assert asset.body["type"] == "Streetlight"
    assert asset.body["illuminanceLevel"] == {"type": "Property", "value": 0.7,
                                              "observedAt": AT, "unitCode": "C62"}
    assert asset.body["powerConsumption"]["value"] == 42.5
    assert asset.body["lifetimePowerConsumption"]["unitCode"] == "KWH"
    assert asset.body["powerState"] == {"type": "Property", "value": "on", "observedAt": AT}
    assert device.body["rssi"]["value"] == -90.0
    assert device.body["dateLastValueReported"]["value"] == AT


@pytest.mark.parametrize("record,device,model,reason", [
    (up("01"), None, SL1, "unknown-device"),
    (up("01"), DEV, None, "unknown-model"),
    (up("01"), DEV, SL1, "codec-error"),
    (up("014601a90012d687", f_port=11), DEV, SL1, "unsupported-fport"),
    # 0x7fff * 0.1 W = 3276.7 W: beyond what a street light draws
    (up("01467fff0012d687"), DEV, SL1, "out-of-range"),
])
def test_rejections(record: Uplink, device: DeviceRecord | None, model: ModelSpec | None,
                    reason: str) -> None:
    with pytest.raises(Rejected) as err:
        process(record, device, model, CODECS)
    assert err.value.reason == reason


def test_device_events_without_effect_need_no_device() -> None:
    join = Uplink(source="tts", event="join", dev_eui="", application="a", dedup_key="j",
                  received_at=AT)
    assert process(join, None, None, CODECS) == []


def test_normalise_scales_and_refuses_nan() -> None:
    spec = ModelSpec(id="m", vendor="v", model="m", codec="c", target_type="T",
                     quantities=(Quantity("b", "batteryLevel", "C62", 0, 100, 0.01, "device"),
                                 Quantity("t", "temperature", "CEL", -40, 85)))
    asset, device = normalise({"b": 55, "t": 21.5, "extra": 1}, spec, AT)
    assert device["batteryLevel"]["value"] == 0.55 and asset["temperature"]["value"] == 21.5
    assert normalise({}, spec, AT) == ({}, {})
    with pytest.raises(OutOfRange):
        normalise({"t": float("nan")}, spec, AT)
