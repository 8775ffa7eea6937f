"""ChirpStack v4 MQTT integration messages -> :class:`Uplink`. Pure.

ChirpStack publishes each event on
``application/{applicationId}/device/{devEui}/event/{kind}``: the kind comes
from the topic (where the HTTP integration has its ``event`` parameter), the
body is the same event, parsed by the same envelope parser: JSON (``json = true``
in ChirpStack's ``[integration.mqtt]``) or Protobuf (``json = false``), told apart
by their first byte (a JSON event is an object, ``{``; the first byte of an event
in Protobuf is a field tag, never that one).
"""

from __future__ import annotations

import orjson

from bocage.connectors.chirpstack.envelope import EVENTS, parse_event
from bocage.connectors.chirpstack.protobuf import decode_event
from bocage.domain.errors import BadRequestData
from bocage.ingest.record import Uplink


def event_of(topic: str) -> str:
    """The event kind a topic names (its last level)."""
    kind = topic.rsplit("/", 1)[-1]
    if kind not in EVENTS:
        raise BadRequestData(f"topic {topic!r} names no ChirpStack event (the last level "
                             f"must be one of {', '.join(EVENTS)})")
    return kind


def parse_mqtt(topic: str, payload: bytes, now: str = "") -> Uplink:
    """Parse one message; raises BadRequestData naming what is wrong.

    ``now`` is unused (ChirpStack events carry their time) but keeps the
    signature of every MQTT parser the same.
    """
    event = event_of(topic)
    body: object
    if payload[:1] == b"{":  # a JSON object; an event in Protobuf never starts so
        body = _json(payload)
    else:
        try:
            body = decode_event(event, payload)
        except BadRequestData:
            # JSON after white space (whose bytes are also Protobuf tags: tried second)
            if payload.lstrip()[:1] != b"{":
                raise
            body = _json(payload)
    record = parse_event(event, body)
    levels = topic.split("/")
    if (len(levels) == 6 and levels[0] == "application" and levels[2] == "device"
            and levels[3].upper() != record.dev_eui):
        raise BadRequestData(f"the topic names device {levels[3]} but the event is about "
                             f"{record.dev_eui}")
    return record


def _json(payload: bytes) -> object:
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise BadRequestData(f"the message is not valid JSON ({exc})") from None
