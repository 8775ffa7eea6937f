"""The one internal record every connector produces (uplinks and device events).

A network server envelope (ChirpStack, The Things Stack...) is parsed once, at
the edge, into an :class:`Uplink`; nothing after the inbox knows which network
server a message came from, except for display. Records are serialised to JSON
in the inbox (:meth:`Uplink.to_json` / :meth:`Uplink.from_json`), so the raw
envelope travels with them and a dead letter can always show what was received.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

#: Event kinds. ``up`` carries a payload to decode; the others are device events
#: (recorded, and used for battery / last-seen, but never decoded).
UP: Final = "up"
EVENT_KINDS: Final = frozenset(
    {UP, "status", "join", "ack", "txack", "log", "location", "integration",
     "downlink_ack", "downlink_nack", "downlink_sent", "downlink_failed", "downlink_queued"}
)


@dataclass(frozen=True, slots=True)
class Radio:
    """What the radio layer said: best signal over the gateways that heard the frame."""

    rssi: float | None = None
    snr: float | None = None
    gateways: int = 0


@dataclass(frozen=True, slots=True)
class Uplink:
    #: where it came from: ``chirpstack`` or ``tts``
    source: str
    #: ``up`` or a device event kind (see EVENT_KINDS)
    event: str
    #: 16 upper-case hex digits
    dev_eui: str
    #: the network server's application id
    application: str
    #: idempotence key: the same message delivered twice has the same key
    dedup_key: str
    #: when the network server received it, UTC, ``format_utc`` form
    received_at: str
    f_port: int | None = None
    f_cnt: int | None = None
    payload: bytes = b""
    radio: Radio = field(default_factory=Radio)
    #: the object the network server already decoded, if it ran a codec
    decoded: dict[str, Any] | None = None
    #: battery as a ratio 0..1 (status events), None when unknown
    battery: float | None = None
    #: a short human summary of a device event (log description, join...)
    note: str = ""
    #: the envelope as received (JSON object)
    raw: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> bytes:
        return orjson.dumps({
            "source": self.source, "event": self.event, "devEui": self.dev_eui,
            "application": self.application, "dedupKey": self.dedup_key,
            "receivedAt": self.received_at, "fPort": self.f_port, "fCnt": self.f_cnt,
            "payload": base64.b64encode(self.payload).decode(),
            "radio": {"rssi": self.radio.rssi, "snr": self.radio.snr,
                      "gateways": self.radio.gateways},
            "decoded": self.decoded, "battery": self.battery, "note": self.note,
            "raw": self.raw,
        })

    @classmethod
    def from_json(cls, data: bytes | str) -> Uplink:
        d = orjson.loads(data)
        radio = d.get("radio") or {}
        return cls(
            source=d["source"], event=d["event"], dev_eui=d["devEui"],
            application=d["application"], dedup_key=d["dedupKey"],
            received_at=d["receivedAt"], f_port=d.get("fPort"), f_cnt=d.get("fCnt"),
            payload=base64.b64decode(d.get("payload") or ""),
            radio=Radio(radio.get("rssi"), radio.get("snr"), radio.get("gateways") or 0),
            decoded=d.get("decoded"), battery=d.get("battery"), note=d.get("note") or "",
            raw=d.get("raw") or {},
        )

    def summary(self) -> dict[str, Any]:
        """What an operator needs to see of a record (dead letters, API)."""
        return {
            "source": self.source, "event": self.event, "devEui": self.dev_eui,
            "application": self.application, "dedupKey": self.dedup_key,
            "receivedAt": self.received_at, "fPort": self.f_port, "fCnt": self.f_cnt,
            "payloadHex": self.payload.hex(),
        }
