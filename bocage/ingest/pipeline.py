"""What one record does to the entities: decode, normalise, patch. Pure.

``process`` takes the record and what the catalogue knows (the device, its
model, the codecs) and returns entity patches (concise NGSI-LD bodies), or
raises :class:`Rejected` with a dead-letter reason. The worker does the I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from bocage.codecs.model import NETWORK_DECODED, ModelSpec
from bocage.codecs.registry import Codec, CodecError, CodecTimeout
from bocage.devices.records import DeviceRecord
from bocage.ingest import deadletters as reasons
from bocage.ingest.normalise import OutOfRange, normalise
from bocage.ingest.record import UP, Uplink

#: ``source`` of the records ``bocage import-readings`` makes (values, no payload)
READINGS = "csv"

#: device events that change an entity; the others are only recorded in the inbox
EFFECTIVE_EVENTS = frozenset({UP, "status", "location"})


class Codecs(Protocol):
    """Where codecs are found by id (a :class:`CodecRegistry`, or a batch's view of it)."""

    def get(self, codec_id: str) -> Codec | None: ...


class Rejected(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Patch:
    entity_id: str
    #: concise NGSI-LD body (id, type, attributes in short terms)
    body: dict[str, Any]
    #: False for the Device entity: the catalogue creates it, and an uplink that
    #: finds it deleted must not bring it back (the record becomes a dead letter)
    create: bool = True


def needs_device(record: Uplink) -> bool:
    return record.event in EFFECTIVE_EVENTS


def process(record: Uplink, device: DeviceRecord | None, model: ModelSpec | None,
            codecs: Codecs) -> list[Patch]:
    if not needs_device(record):
        return []
    if device is None:
        raise Rejected(reasons.UNKNOWN_DEVICE,
                       f"no device with DevEUI {record.dev_eui or '(none)'} in the catalogue")
    at = record.received_at
    device_body: dict[str, Any] = {"id": device.id, "type": "Device"}
    if record.event == "status":
        if record.battery is not None:
            device_body["batteryLevel"] = _prop(record.battery, at, "C62")
        return [Patch(device.id, device_body, create=False)]
    if record.event == "location":
        assert record.decoded is not None
        point = {"type": "Point",
                 "coordinates": [record.decoded["longitude"], record.decoded["latitude"]]}
        device_body["location"] = {"type": "GeoProperty", "value": point, "observedAt": at}
        return [Patch(device.id, device_body, create=False)]
    if model is None:
        raise Rejected(reasons.UNKNOWN_MODEL,
                       f"device {device.dev_eui} names model {device.model!r}, which is unknown")
    values = (_given(record, model) if record.source == READINGS
              else _decode(record, device, model, codecs))
    try:
        asset_attrs, device_attrs = normalise(values, model, at)
    except OutOfRange as exc:
        raise Rejected(reasons.OUT_OF_RANGE, str(exc)) from None
    device_body.update(device_attrs)
    # observedAt too, so that a late older reading does not move it back (apply.merge_newer)
    device_body["dateLastValueReported"] = {"type": "Property", "value": at, "observedAt": at}
    if record.radio.rssi is not None:
        device_body["rssi"] = _prop(record.radio.rssi, at, "2N")  # dBm
    if record.radio.snr is not None:
        device_body["snr"] = _prop(record.radio.snr, at, "2N")    # dB
    if device.asset_id == device.id:
        # equipment that reports about itself (a camera's heartbeat): one entity
        return [Patch(device.id, {**device_body, **asset_attrs}, create=False)]
    asset_body: dict[str, Any] = {
        "id": device.asset_id, "type": model.target_type,
        "refDevice": {"type": "Relationship", "object": device.id},
        **asset_attrs,
    }
    return [Patch(device.asset_id, asset_body), Patch(device.id, device_body, create=False)]


def _decode(record: Uplink, device: DeviceRecord, model: ModelSpec,
            codecs: Codecs) -> dict[str, Any]:
    if model.codec == NETWORK_DECODED:
        if record.decoded is None:
            raise Rejected(reasons.CODEC_ERROR, "model relies on the network server's "
                           "decoder, and the uplink carries no decoded object")
        return record.decoded
    codec = codecs.get(model.codec)
    if codec is None:
        raise Rejected(reasons.UNKNOWN_CODEC, f"codec {model.codec!r} is not installed")
    if model.f_ports and record.f_port not in model.f_ports:
        raise Rejected(reasons.UNSUPPORTED_FPORT,
                       f"model {model.id} decodes fPort {list(model.f_ports)}, "
                       f"not {record.f_port}")
    config = {**model.defaults, **device.configuration}
    try:
        if codec.decode_at is not None:
            values = codec.decode_at(record.payload, record.f_port or 0, config,
                                     record.received_at)
        else:
            values = codec.decode(record.payload, record.f_port or 0, config)
    except CodecTimeout as exc:
        raise Rejected(reasons.CODEC_TIMEOUT, str(exc)) from None
    except CodecError as exc:
        raise Rejected(reasons.CODEC_ERROR, str(exc)) from None
    except Exception as exc:  # a buggy decoder must not stop the pipeline
        raise Rejected(reasons.CODEC_ERROR,
                       f"decoder {codec.id} failed: {type(exc).__name__}: {exc}") from None
    if not isinstance(values, dict):
        raise Rejected(reasons.CODEC_ERROR, f"decoder {codec.id} returned no object")
    return values


def _given(record: Uplink, model: ModelSpec) -> dict[str, Any]:
    """A reading imported from a file: values by quantity key or attribute name."""
    by_name = {q.key: q.key for q in model.quantities}
    by_name.update({q.attribute: q.key for q in model.quantities if q.attribute not in by_name})
    values: dict[str, Any] = {}
    for name, value in (record.decoded or {}).items():
        key = by_name.get(name)
        if key is None:
            raise Rejected(reasons.UNKNOWN_QUANTITY,
                           f"model {model.id} has no quantity {name!r} (its keys: "
                           + ", ".join(q.key for q in model.quantities) + ")")
        values[key] = value
    return values


def _prop(value: Any, at: str, unit: str) -> dict[str, Any]:
    return {"type": "Property", "value": value, "observedAt": at, "unitCode": unit}
