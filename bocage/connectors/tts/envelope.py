"""The Things Stack v3 webhook messages (JSON) -> :class:`Uplink`. Pure.

One webhook URL can receive every message kind: the kind is the one top-level
``*_message`` / event member present. TTS omits empty fields, so an absent
``f_port`` or ``f_cnt`` means 0, and frequencies are strings.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from bocage.connectors import fields as f
from bocage.domain.errors import BadRequestData
from bocage.ingest.record import UP, Radio, Uplink

SOURCE = "tts"
#: top-level member -> event kind
_KINDS = {
    "uplink_message": UP,
    "join_accept": "join",
    "downlink_ack": "downlink_ack",
    "downlink_nack": "downlink_nack",
    "downlink_sent": "downlink_sent",
    "downlink_failed": "downlink_failed",
    "downlink_queued": "downlink_queued",
    "location_solved": "location",
}


def parse_message(body: object, now: str) -> Uplink:
    """Parse one webhook body; raises BadRequestData naming what is wrong.

    ``now`` stands in for the reception time of events TTS sends without one
    (a failed downlink); uplinks must carry theirs.
    """
    if not isinstance(body, dict):
        raise BadRequestData("a The Things Stack message must be a JSON object")
    if "downlinks" in body and "correlation_ids" not in body:
        raise BadRequestData("this is a downlink push request (downlinks), which TTS "
                             "accepts, not a message TTS sends; nothing to ingest")
    kinds = [k for k in _KINDS if k in body]
    if len(kinds) != 1:
        raise BadRequestData("expected exactly one of " + ", ".join(_KINDS)
                             + f"; found {', '.join(kinds) or 'none'}")
    member = kinds[0]
    event = _KINDS[member]
    ids = f.obj(body, "end_device_ids", "")
    f.text(ids, "device_id", "end_device_ids.")
    app = f.obj(ids, "application_ids", "end_device_ids.")
    eui_raw = ids.get("dev_eui")
    if eui_raw is None and event == UP:
        raise BadRequestData("end_device_ids.dev_eui is required for uplinks (give ABP "
                             "devices a DevEUI in The Things Stack)")
    dev_eui = "" if eui_raw is None else f.dev_eui(eui_raw, "end_device_ids.dev_eui")
    inner = f.obj(body, member, "")
    correlation = body.get("correlation_ids", [])
    if not isinstance(correlation, list) or not all(isinstance(c, str) for c in correlation):
        raise BadRequestData("correlation_ids must be a list of strings")
    received = body.get("received_at") or inner.get("received_at")
    common: dict[str, Any] = {
        "source": SOURCE,
        "event": event,
        "dev_eui": dev_eui,
        "application": f.text(app, "application_id", "end_device_ids.application_ids."),
        "raw": body,
    }
    if event == UP:
        # the network server's reception time, not the webhook's
        return _uplink(inner, correlation, common)
    at = now if received is None else f.timestamp(received, "received_at")
    return Uplink(**common, received_at=at,
                  dedup_key=_dedup(body, event, dev_eui, correlation, None),
                  note=_note(event, inner))


def _uplink(up: dict[str, Any], correlation: list[str], common: dict[str, Any]) -> Uplink:
    f_cnt = f.integer(up, "f_cnt", "uplink_message.", default=0)
    decoded = up.get("decoded_payload")
    if decoded is not None and not isinstance(decoded, dict):
        raise BadRequestData("uplink_message.decoded_payload must be a JSON object")
    received = up.get("received_at") or common["raw"].get("received_at")
    return Uplink(
        **common,
        received_at=f.timestamp(received, "uplink_message.received_at"),
        dedup_key=_dedup(common["raw"], UP, common["dev_eui"], correlation, f_cnt),
        f_port=f.integer(up, "f_port", "uplink_message.", default=0, hi=255),
        f_cnt=f_cnt,
        payload=f.payload(up.get("frm_payload"), "uplink_message.frm_payload"),
        radio=_radio(up),
        decoded=decoded,
    )


def _dedup(body: dict[str, Any], event: str, dev_eui: str, correlation: list[str],
           f_cnt: int | None) -> str:
    """The ``as:up:`` correlation id names one uplink across retries and gateways."""
    prefix = "as:up:" if event in (UP, "join") else "as:"
    ours = next((c for c in correlation if c.startswith(prefix)), None)
    if ours is not None:
        return f"{SOURCE}:{event}:{ours}"
    if f_cnt is not None and dev_eui:
        return f"{SOURCE}:{event}:{dev_eui}:{f_cnt}"
    digest = hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return f"{SOURCE}:{event}:{dev_eui}:sha256:{digest[:32]}"


def _radio(up: dict[str, Any]) -> Radio:
    rx = up.get("rx_metadata", [])
    if not isinstance(rx, list) or not all(isinstance(g, dict) for g in rx):
        raise BadRequestData("uplink_message.rx_metadata must be a list of objects")
    rssis = [v for g in rx
             if (v := f.number(g, "rssi", "rx_metadata[].")) is not None
             or (v := f.number(g, "channel_rssi", "rx_metadata[].")) is not None]
    snrs = [v for g in rx if (v := f.number(g, "snr", "rx_metadata[].")) is not None]
    return Radio(max(rssis, default=None), max(snrs, default=None), len(rx))


def _note(event: str, inner: dict[str, Any]) -> str:
    if event == "downlink_failed":
        err = inner.get("error")
        if isinstance(err, dict):
            return f"downlink failed: {err.get('name', '')} {err.get('message_format', '')}"
    return event.replace("_", " ")
