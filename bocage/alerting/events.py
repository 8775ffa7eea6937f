"""Alarm changes -> the events recipients are told about. Pure.

An alarm write (an ``Alert`` entity before and after) is a *raised* event
when the alarm appears active, *escalated* when an open alarm's severity
goes up, *cleared* when an open alarm is cleared; acknowledging, assigning
or commenting tell nobody. An event is a JSON object, kept as such in the
outbox: messages are rendered from it when sent (:mod:`bocage.alerting.messages`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote

from bocage.alerting.recipients import SEVERITY_RANK
from bocage.supervision.records import Alarm

#: the UI page of an alarm, under the platform's public URL
ALARM_PAGE: Final = "/ui/alarmes/"


@dataclass(frozen=True, slots=True)
class Transition:
    event: str  # raised, escalated, cleared
    alarm: Alarm
    previous_severity: str | None = None


def transition(before: Alarm | None, after: Alarm | None) -> Transition | None:
    """What a recipient is told of one alarm write, if anything."""
    if after is None:
        return None
    if before is None or not before.open:
        return Transition("raised", after) if after.status == "active" else None
    if after.status == "cleared":
        return Transition("cleared", after)
    if after.open and SEVERITY_RANK.get(after.severity, 0) > SEVERITY_RANK.get(
            before.severity, 0):
        return Transition("escalated", after, before.severity)
    return None


def event_time(t: Transition, fallback: str) -> str:
    """When it happened: the alarm's latest event of that kind."""
    for e in reversed(t.alarm.events):
        if e.get("action") == t.event and isinstance(e.get("at"), str):
            return e["at"]
    return fallback


def commune_of(scopes: tuple[str, ...]) -> str | None:
    """The INSEE code of the deepest /FR/<dep>/<EPCI>/<commune> scope."""
    for scope in scopes:
        parts = [p for p in scope.split("/") if p]
        if len(parts) >= 4 and parts[0] == "FR":
            return parts[3]
    return None


def event_json(t: Transition, at: str, equipment: Mapping[str, Any], commune_name: str | None,
               public_url: str) -> dict[str, Any]:
    """The event as the outbox keeps it (``equipment``: id, name, type)."""
    a = t.alarm
    code = commune_of(a.scope)
    out: dict[str, Any] = {
        "event": t.event, "alarm": a.id, "rule": a.rule, "ruleName": a.rule_name,
        "severity": a.severity, "status": a.status, "description": a.description,
        "at": at, "domain": a.domain, "scope": list(a.scope),
        "equipment": dict(equipment),
        "commune": {"code": code, "name": commune_name} if code else None,
        "link": public_url.rstrip("/") + ALARM_PAGE + quote(a.id, safe=":"),
    }
    if t.previous_severity is not None:
        out["previousSeverity"] = t.previous_severity
    return out
