"""ChirpStack v4 integration events in their Protobuf encoding -> the JSON form. Pure.

A ChirpStack integration set to Protobuf (``json = false`` for MQTT, encoding
"Protobuf" for HTTP, which then posts ``Content-Type: application/octet-stream``)
sends each event as the binary message of ChirpStack's own API package
(``chirpstack_api.integration``: ``UplinkEvent``, ``StatusEvent``...). Its JSON
encoding is the canonical Protobuf JSON mapping of the same messages, so a
decoded message rendered to that mapping is exactly the body the JSON
integration would have sent (zeros left out, as older ChirpStack versions do):
the one envelope parser then reads both, and the inbox keeps the JSON form.
"""

from __future__ import annotations

from functools import cache
from typing import Any, Final

from bocage.domain.errors import BadRequestData

#: event kind -> message name in chirpstack_api.integration
MESSAGES: Final = {
    "up": "UplinkEvent",
    "status": "StatusEvent",
    "join": "JoinEvent",
    "ack": "AckEvent",
    "txack": "TxAckEvent",
    "log": "LogEvent",
    "location": "LocationEvent",
}
#: media types that announce a Protobuf body (ChirpStack sends the first)
MEDIA_TYPES: Final = frozenset({
    "application/octet-stream", "application/protobuf", "application/x-protobuf"})


@cache
def _message_class(name: str) -> Any:
    # imported on first use: a server fed JSON only never loads Protobuf
    from chirpstack_api.integration import integration_pb2

    return getattr(integration_pb2, name)


def decode_event(event: str, data: bytes) -> dict[str, Any]:
    """The JSON form of one binary event; BadRequestData saying why it is not one."""
    from google.protobuf.json_format import MessageToDict
    from google.protobuf.message import DecodeError

    name = MESSAGES.get(event)
    if name is None:
        raise BadRequestData(
            f"ChirpStack {event!r} events are not read in Protobuf; "
            f"Protobuf is read for {', '.join(MESSAGES)} (or send JSON)")
    if not data:
        raise BadRequestData(f"empty Protobuf body: not a ChirpStack {name}")
    try:
        message = _message_class(name).FromString(data)
    except (DecodeError, ValueError) as exc:
        raise BadRequestData(f"the body is not a ChirpStack {name} in Protobuf: {exc}") from None
    # fields a newer ChirpStack added are skipped, as Protobuf means them to be; bytes
    # that are no event at all lack the device the envelope parser asks for
    body: dict[str, Any] = MessageToDict(message)
    return body


def is_protobuf(media_type: str) -> bool:
    return media_type in MEDIA_TYPES
