"""The one-go reader of ChirpStack uplinks gives what the field-by-field parser gives."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from bocage.connectors.chirpstack import envelope
from bocage.connectors.chirpstack.envelope import parse_event
from bocage.domain.errors import BadRequestData
from bocage.ingest.record import Uplink

UP = orjson.loads((Path(__file__).parent / "fixtures" / "chirpstack-v4" / "event-up.json")
                  .read_bytes())


def variant(change: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
    body: dict[str, Any] = copy.deepcopy(UP)
    change(body)
    return body


VARIANTS = {
    "fixture": UP,
    "no rxInfo": variant(lambda b: b.pop("rxInfo")),
    "two gateways": variant(lambda b: b["rxInfo"].append({"rssi": -20, "snr": 3})),
    "gateway without signal": variant(lambda b: b["rxInfo"].append({"gatewayId": "x"})),
    "float rssi": variant(lambda b: b["rxInfo"][0].update(rssi=-36.5)),
    "no data": variant(lambda b: b.pop("data")),
    "empty data": variant(lambda b: b.update(data="")),
    "decoded object": variant(lambda b: b.update(object={"temperature": 21.5})),
    "no fCnt, no fPort": variant(lambda b: (b.pop("fCnt", None), b.pop("fPort"))),
    "fCnt": variant(lambda b: b.update(fCnt=4_294_967_295)),
    "lower-case DevEUI": variant(lambda b: b["deviceInfo"].update(devEui="a1b2c3d4e5f60708")),
    "no application": variant(lambda b: b["deviceInfo"].pop("applicationId")),
    "empty application": variant(lambda b: b["deviceInfo"].update(applicationId="")),
    "Z time": variant(lambda b: b.update(time="2024-02-29T23:59:59Z")),
    "offset time": variant(lambda b: b.update(time="2024-02-29T23:59:59.5+01:00")),
    "no deduplicationId": variant(lambda b: b.pop("deduplicationId")),
    # refused: the field-by-field parser names the error
    "bad time": variant(lambda b: b.update(time="2023-02-29T00:00:00Z")),
    "bool rssi": variant(lambda b: b["rxInfo"][0].update(rssi=True)),
    "text snr": variant(lambda b: b["rxInfo"][0].update(snr="10")),
    "bad base64": variant(lambda b: b.update(data="qg=")),
    "fPort 256": variant(lambda b: b.update(fPort=256)),
    "negative fCnt": variant(lambda b: b.update(fCnt=-1)),
    "null fCnt": variant(lambda b: b.update(fCnt=None)),
    "bool fPort": variant(lambda b: b.update(fPort=True)),
    "short DevEUI": variant(lambda b: b["deviceInfo"].update(devEui="0101")),
    "number application": variant(lambda b: b["deviceInfo"].update(applicationId=5)),
    "empty deduplicationId": variant(lambda b: b.update(deduplicationId="")),
    "list object": variant(lambda b: b.update(object=[1])),
    "rxInfo object": variant(lambda b: b.update(rxInfo={})),
    "rxInfo of numbers": variant(lambda b: b.update(rxInfo=[1])),
    "deviceInfo list": variant(lambda b: b.update(deviceInfo=[])),
}


def field_by_field(body: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Uplink | str:
    with monkeypatch.context() as m:
        m.setattr(envelope, "_plain_up", lambda body: None)
        try:
            return parse_event("up", body)
        except BadRequestData as exc:
            return exc.detail


@pytest.mark.parametrize("name", VARIANTS)
def test_same_record_or_same_error(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    body = VARIANTS[name]
    expected = field_by_field(body, monkeypatch)
    try:
        got: Uplink | str = parse_event("up", body)
    except BadRequestData as exc:
        got = exc.detail
    assert got == expected
    if isinstance(expected, Uplink):
        assert envelope._plain_up(body) in (None, expected)
    else:
        assert envelope._plain_up(body) is None


def test_the_fixture_takes_the_short_way() -> None:
    assert envelope._plain_up(UP) == parse_event("up", UP)
    assert envelope._plain_up(UP) is not None
