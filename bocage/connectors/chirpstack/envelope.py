"""ChirpStack v4 integration events (JSON) -> :class:`Uplink`. Pure.

One function per event kind; the HTTP integration names the kind in the
``event`` query parameter, the MQTT integration in the topic. ChirpStack v4
emits every field including defaults, but older versions and the documentation
omit zeros, so absent integers mean 0 here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import orjson

from bocage.connectors import fields as f
from bocage.domain.errors import BadRequestData
from bocage.ingest.record import UP, Radio, Uplink

SOURCE = "chirpstack"
EVENTS = ("up", "status", "join", "ack", "txack", "log", "location", "integration")


def parse_event(event: str, body: object) -> Uplink:
    """Parse one event body; raises BadRequestData naming what is wrong."""
    if event not in EVENTS:
        raise BadRequestData(f"unknown ChirpStack event {event!r}; expected one of "
                             f"{', '.join(EVENTS)}")
    if not isinstance(body, dict):
        raise BadRequestData("a ChirpStack event must be a JSON object")
    if event == UP:
        record = _plain_up(body)
        if record is not None:
            return record
    info = f.obj(body, "deviceInfo", "")
    common = {
        "source": SOURCE,
        "event": event,
        "dev_eui": f.dev_eui(info.get("devEui"), "deviceInfo.devEui"),
        "application": f.text(info, "applicationId", "deviceInfo.", required=False),
        "received_at": f.timestamp(body.get("time"), "time"),
        "raw": body,
    }
    return _PARSERS[event](body, common)


def _dedup(body: dict[str, Any], event: str, dev_eui: str, *fallback: object) -> str:
    dedup_id = body.get("deduplicationId")
    if dedup_id is not None:
        if not isinstance(dedup_id, str) or not dedup_id:
            raise BadRequestData("deduplicationId must be a non-empty string")
        return f"{SOURCE}:{event}:{dedup_id}"
    if fallback and all(x is not None for x in fallback):
        return f"{SOURCE}:{event}:{dev_eui}:" + ":".join(str(x) for x in fallback)
    # nothing identifies it: the whole envelope does (an exact redelivery is a duplicate)
    digest = hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return f"{SOURCE}:{event}:{dev_eui}:sha256:{digest[:32]}"


def _radio(body: dict[str, Any]) -> Radio:
    rx = body.get("rxInfo", [])
    if not isinstance(rx, list) or not all(isinstance(g, dict) for g in rx):
        raise BadRequestData("rxInfo must be a list of objects")
    rssis = [v for g in rx if (v := f.number(g, "rssi", "rxInfo[].")) is not None]
    snrs = [v for g in rx if (v := f.number(g, "snr", "rxInfo[].")) is not None]
    return Radio(max(rssis, default=None), max(snrs, default=None), len(rx))


def _up(body: dict[str, Any], common: dict[str, Any]) -> Uplink:
    f_cnt = f.integer(body, "fCnt", "", default=0)
    decoded = body.get("object")
    if decoded is not None and not isinstance(decoded, dict):
        raise BadRequestData("object (the decoded payload) must be a JSON object")
    return Uplink(
        **common,
        dedup_key=_dedup(body, UP, common["dev_eui"], f_cnt),
        f_port=f.integer(body, "fPort", "", default=0, hi=255),
        f_cnt=f_cnt,
        payload=f.payload(body.get("data"), "data"),
        radio=_radio(body),
        decoded=decoded,
    )


def _plain_up(body: dict[str, Any]) -> Uplink | None:
    """The uplink of a well-formed ``up`` event, read in one go; None when anything
    is unusual (the field-by-field parser then takes it, and names what is wrong).
    Gives exactly what ``_up`` gives (tested)."""
    info = body.get("deviceInfo")
    if type(info) is not dict:
        return None
    eui = info.get("devEui")
    app = info.get("applicationId")
    dedup_id = body.get("deduplicationId")
    f_cnt = body.get("fCnt", 0)
    f_port = body.get("fPort", 0)
    data = body.get("data")
    decoded = body.get("object")
    rx = body.get("rxInfo", [])
    if (type(eui) is not str or len(eui) != 16 or not f.is_eui(eui)
            or (app is not None and type(app) is not str)
            or type(dedup_id) is not str or not dedup_id
            or type(f_cnt) is not int or not 0 <= f_cnt <= 0xFFFFFFFF
            or type(f_port) is not int or not 0 <= f_port <= 255
            or (data is not None and type(data) is not str)
            or (decoded is not None and type(decoded) is not dict)
            or type(rx) is not list):
        return None
    rssi: float | None = None
    snr: float | None = None
    for g in rx:
        if type(g) is not dict:
            return None
        r, n = g.get("rssi"), g.get("snr")
        if r is not None:
            if type(r) is not int and type(r) is not float:
                return None
            rssi = float(r) if rssi is None else max(rssi, float(r))
        if n is not None:
            if type(n) is not int and type(n) is not float:
                return None
            snr = float(n) if snr is None else max(snr, float(n))
    try:
        received_at = f.timestamp(body.get("time"), "time")
        payload = f.payload(data, "data")
    except BadRequestData:
        return None
    return Uplink(SOURCE, UP, eui.upper(), app or "", f"{SOURCE}:{UP}:{dedup_id}", received_at,
                  f_port, f_cnt, payload, Radio(rssi, snr, len(rx)), decoded, raw=body)


def _status(body: dict[str, Any], common: dict[str, Any]) -> Uplink:
    level = f.number(body, "batteryLevel", "")
    if level is not None and not 0 <= level <= 100:
        raise BadRequestData(f"batteryLevel must be a percentage, got {level}")
    unavailable = body.get("batteryLevelUnavailable") is True
    external = body.get("externalPowerSource") is True
    battery = None if unavailable or external or level is None else round(level / 100, 4)
    return Uplink(**common, dedup_key=_dedup(body, "status", common["dev_eui"]),
                  battery=battery, note=f"margin {body.get('margin', 0)} dB")


def _join(body: dict[str, Any], common: dict[str, Any]) -> Uplink:
    addr = f.text(body, "devAddr", "", required=False)
    return Uplink(**common, dedup_key=_dedup(body, "join", common["dev_eui"]),
                  note=f"joined as {addr}" if addr else "joined")


def _ack(body: dict[str, Any], common: dict[str, Any]) -> Uplink:
    item = f.text(body, "queueItemId", "")
    acked = body.get("acknowledged") is True
    return Uplink(**common, dedup_key=_dedup(body, "ack", common["dev_eui"], item),
                  note=f"downlink {item} {'acknowledged' if acked else 'not acknowledged'}")


def _txack(body: dict[str, Any], common: dict[str, Any]) -> Uplink:
    downlink = f.integer(body, "downlinkId", "")
    item = f.text(body, "queueItemId", "", required=False)
    return Uplink(**common, dedup_key=_dedup(body, "txack", common["dev_eui"], downlink),
                  note=f"downlink {item or downlink} sent by gateway {body.get('gatewayId', '?')}")


def _log(body: dict[str, Any], common: dict[str, Any]) -> Uplink:
    level = f.text(body, "level", "", required=False) or "INFO"
    code = f.text(body, "code", "", required=False)
    description = f.text(body, "description", "", required=False)
    return Uplink(**common, dedup_key=_dedup(body, "log", common["dev_eui"]),
                  note=f"{level} {code}: {description}".strip())


def _location(body: dict[str, Any], common: dict[str, Any]) -> Uplink:
    loc = f.obj(body, "location", "")
    lat = f.number(loc, "latitude", "location.")
    lon = f.number(loc, "longitude", "location.")
    if lat is None or lon is None or not -90 <= lat <= 90 or not -180 <= lon <= 180:
        raise BadRequestData("location.latitude and location.longitude must be coordinates")
    return Uplink(**common, dedup_key=_dedup(body, "location", common["dev_eui"]),
                  decoded={"latitude": lat, "longitude": lon,
                           "altitude": f.number(loc, "altitude", "location.")},
                  note="location resolved by the network server")


def _integration(body: dict[str, Any], common: dict[str, Any]) -> Uplink:
    name = f.text(body, "integrationName", "", required=False)
    kind = f.text(body, "eventType", "", required=False)
    return Uplink(**common, dedup_key=_dedup(body, "integration", common["dev_eui"]),
                  note=f"{name} {kind}".strip())


_PARSERS: dict[str, Callable[[dict[str, Any], dict[str, Any]], Uplink]] = {
    "up": _up, "status": _status, "join": _join, "ack": _ack, "txack": _txack,
    "log": _log, "location": _location, "integration": _integration,
}
