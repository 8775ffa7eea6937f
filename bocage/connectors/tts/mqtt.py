"""The Things Stack v3 MQTT server messages -> :class:`Uplink`. Pure.

TTS publishes on ``v3/{application id}[@{tenant id}]/devices/{device id}/{kind}``
the same JSON messages its webhooks post, so the webhook parser reads them;
the topic must agree with the message (kind and device).
"""

from __future__ import annotations

import orjson

from bocage.connectors.tts.envelope import parse_message
from bocage.domain.errors import BadRequestData
from bocage.ingest.record import UP, Uplink

#: topic suffix -> the event kind the message must carry
TOPIC_EVENTS = {
    "up": UP,
    "join": "join",
    "down/queued": "downlink_queued",
    "down/sent": "downlink_sent",
    "down/ack": "downlink_ack",
    "down/nack": "downlink_nack",
    "down/failed": "downlink_failed",
    "location/solved": "location",
}


def parse_mqtt(topic: str, payload: bytes, now: str) -> Uplink:
    """Parse one message; raises BadRequestData naming what is wrong.

    ``now`` stands in for the time of events TTS sends without one.
    """
    levels = topic.split("/")
    if len(levels) < 5 or levels[0] != "v3" or levels[2] != "devices":
        raise BadRequestData(f"topic {topic!r} is not a The Things Stack topic "
                             "(v3/{application}/devices/{device}/...)")
    suffix = "/".join(levels[4:])
    expected = TOPIC_EVENTS.get(suffix)
    if expected is None:
        raise BadRequestData(f"topic {topic!r}: bocage does not ingest {suffix!r} messages "
                             f"(only {', '.join(TOPIC_EVENTS)})")
    try:
        body = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise BadRequestData(f"the message is not JSON ({exc})") from None
    record = parse_message(body, now)
    if record.event != expected:
        raise BadRequestData(f"topic {topic!r} announces {expected} but the message is "
                             f"{record.event}")
    device = body["end_device_ids"]["device_id"]
    if device != levels[3]:
        raise BadRequestData(f"the topic names device {levels[3]!r} but the message is "
                             f"about {device!r}")
    return record
