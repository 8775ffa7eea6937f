"""Lighting orders as LoRaWAN downlinks, and their lifecycle. Pure.

A command fans out to one *delivery* per device behind its target. A delivery
is an MQTT message for the device's network server:

- ChirpStack v4: ``application/{applicationId}/device/{devEui}/command/down``,
  ``{"id", "devEui", "confirmed", "fPort", "data" (base64)}``; ChirpStack names
  the queue item by ``id`` and repeats it as ``queueItemId`` in its ``ack`` and
  ``txack`` events.
- The Things Stack v3: ``v3/{application}@{tenant}/devices/{device}/down/push``,
  ``{"downlinks": [{"f_port", "frm_payload" (base64), "priority", "confirmed",
  "correlation_ids"}]}``; TTS carries our correlation id into its ``down/ack``,
  ``down/nack`` and ``down/failed`` messages.

Lifecycle of a delivery: ``pending`` (queued; retried with backoff while the
broker cannot be reached) -> ``sent`` (the broker acknowledged the publish) ->
``acknowledged`` (the device acknowledged the confirmed downlink) ->
``confirmed`` (a later uplink shows the ordered state); or ``failed`` (the
network server or the device refused it, or it could not be encoded or
routed) or ``expired`` (no acknowledgement within the deadline, or never sent
before the order's duration ran out).
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import orjson

from bocage.commands.lighting import LightingCommand

PENDING: Final = "pending"
SENT: Final = "sent"
ACKNOWLEDGED: Final = "acknowledged"
CONFIRMED: Final = "confirmed"
FAILED: Final = "failed"
EXPIRED: Final = "expired"
#: progress of a delivery that may still move
PROGRESS: Final = (PENDING, SENT, ACKNOWLEDGED, CONFIRMED)
OPEN: Final = (PENDING, SENT, ACKNOWLEDGED)
STATES: Final = (*PROGRESS, FAILED, EXPIRED)

#: what a delivery does: carry the order, or put the device back on its schedule
ORDER: Final = "order"
RESUME: Final = "resume"
#: correlation id prefix given to The Things Stack
CORRELATION: Final = "bocage:downlink:"


@dataclass(frozen=True, slots=True)
class Route:
    """Where a device's downlinks go."""

    network: str  # chirpstack | tts
    application: str
    #: ChirpStack: the DevEUI; TTS: the device id
    device: str
    dev_eui: str


def order_data(command: LightingCommand, kind: str = ORDER) -> dict[str, Any]:
    """The object handed to the model's downlink encoder."""
    if kind == RESUME:
        return {"action": "schedule"}
    data: dict[str, Any] = {"action": command.action}
    if command.level is not None:
        data["level"] = command.level
    if command.duration_minutes is not None:
        data["durationMinutes"] = command.duration_minutes
    return data


def mqtt_message(route: Route, f_port: int, payload: bytes, delivery_id: str,
                 confirmed: bool = True) -> tuple[str, bytes]:
    """(topic, body) of the downlink for the route's network server."""
    data = base64.b64encode(payload).decode()
    if route.network == "chirpstack":
        topic = f"application/{route.application}/device/{route.dev_eui.lower()}/command/down"
        body: dict[str, Any] = {"id": delivery_id, "devEui": route.dev_eui.lower(),
                                "confirmed": confirmed, "fPort": f_port, "data": data}
    elif route.network == "tts":
        app = route.application if "@" in route.application else f"{route.application}@ttn"
        topic = f"v3/{app}/devices/{route.device}/down/push"
        body = {"downlinks": [{"f_port": f_port, "frm_payload": data, "priority": "HIGH",
                               "confirmed": confirmed,
                               "correlation_ids": [CORRELATION + delivery_id]}]}
    else:
        raise ValueError(f"unknown network server {route.network!r}")
    return topic, orjson.dumps(body)


def backoff(attempts: int, first: float = 2.0, most: float = 300.0) -> float:
    """Seconds before the next try after ``attempts`` failed ones (doubling, capped)."""
    return float(min(most, first * 2 ** max(0, attempts - 1)))


def expected_state(data: Mapping[str, Any]) -> dict[str, Any]:
    """What a street light reports once it obeyed (attribute -> value)."""
    action = data.get("action")
    if action == "on":
        return {"powerState": "on"}
    if action == "off":
        return {"powerState": "off"}
    if action == "dim":
        return {"powerState": "on", "illuminanceLevel": round(int(data["level"]) / 100, 4)}
    return {}


def obeyed(expected: Mapping[str, Any], seen: Mapping[str, Any]) -> bool:
    """Whether reported values (``seen``) show the ordered state."""
    if not expected:
        return False
    for name, want in expected.items():
        got = seen.get(name)
        if isinstance(want, float):
            if not isinstance(got, int | float) or abs(float(got) - want) > 0.015:
                return False
        elif got != want:
            return False
    return True


def command_status(states: Iterable[str], ended: bool) -> str:
    """A command's status from its order deliveries' states.

    The least advanced delivery still in progress gives it (a zone is "sent"
    while one light is still unacknowledged); when none is in progress, any
    failure makes it ``failed``; once its duration has run out it is ``expired``.
    """
    states = list(states)
    if ended:
        return EXPIRED
    moving = [s for s in states if s in PROGRESS]
    if moving:
        return min(moving, key=PROGRESS.index)
    if FAILED in states:
        return FAILED
    return EXPIRED if states else FAILED
