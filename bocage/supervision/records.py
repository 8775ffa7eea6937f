"""Alarms and maintenance interventions: their records and lifecycles. Pure.

Both are kept as NGSI-LD entities in the same store as the equipment (an
``Alert`` — the Smart Data Model's name — and an ``Intervention``), carrying
the equipment's ``scope``: whoever may see a street light sees its alarms,
through the same storage-layer filtering, and integrators read them through
the NGSI-LD API like anything else. Transitions are pure functions from a
record to a new record; each appends an event to the record's history.

Alarm: ``active`` → ``acknowledged`` → ``cleared`` (``active`` → ``cleared``
too: automatically when the condition ends, or by hand). One active alarm per
rule × entity: the service raises a new one only when none is open.
Intervention: ``requested`` → ``planned`` → ``inProgress`` → ``done``, or
``cancelled`` from any open state; its due date comes from a service level per
network and severity.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, replace
from typing import Any, Final

from bocage.domain.errors import BadRequestData

ALARM_OPEN: Final = ("active", "acknowledged")
ALARM_STATUSES: Final = ("active", "acknowledged", "cleared")
INTERVENTION_OPEN: Final = ("requested", "planned", "inProgress")
INTERVENTION_STATUSES: Final = (*INTERVENTION_OPEN, "done", "cancelled")
_NEXT: Final = {  # allowed intervention transitions
    "requested": {"planned", "inProgress", "cancelled"},
    "planned": {"inProgress", "cancelled", "requested"},
    "inProgress": {"done", "cancelled"},
    "done": set(),
    "cancelled": set(),
}
#: escalation raises the severity one step
_ESCALATE: Final = {"indeterminate": "warning", "warning": "minor", "minor": "major",
                    "major": "critical", "critical": "critical"}

#: hours to intervene, per network (domain) and severity; "*" is any network
SERVICE_LEVEL_HOURS: Final[dict[str, dict[str, float]]] = {
    "*": {"critical": 24, "major": 72, "minor": 168, "warning": 336, "indeterminate": 336},
    "lighting": {"critical": 24, "major": 72, "minor": 168, "warning": 336,
                 "indeterminate": 336},
    "water": {"critical": 4, "major": 24, "minor": 72, "warning": 168, "indeterminate": 168},
    "flood": {"critical": 1, "major": 4, "minor": 24, "warning": 72, "indeterminate": 72},
    "video": {"critical": 8, "major": 24, "minor": 72, "warning": 168, "indeterminate": 168},
}


def _ms(iso: str) -> int:
    return int(dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def _iso(ms: int) -> str:
    moment = dt.datetime.fromtimestamp(ms / 1000, dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _event(at: str, action: str, by: str, detail: str = "") -> dict[str, str]:
    out = {"at": at, "action": action, "by": by}
    if detail:
        out["detail"] = detail
    return out


def _short(entity_id: str) -> str:
    return hashlib.sha256(entity_id.encode()).hexdigest()[:12]


@dataclass(frozen=True, slots=True)
class Alarm:
    id: str
    rule: str
    rule_name: str
    source: str  # the equipment (entity id)
    scope: tuple[str, ...]
    severity: str
    status: str
    description: str
    issued_at: str
    assignee: str | None = None
    domain: str = "other"
    events: tuple[dict[str, str], ...] = ()

    @property
    def open(self) -> bool:
        return self.status in ALARM_OPEN

    def to_body(self) -> dict[str, Any]:
        """Concise NGSI-LD body (terms of the core @context)."""
        body: dict[str, Any] = {
            "id": self.id, "type": "Alert",
            "category": "equipment", "subCategory": self.rule,
            "alertSource": {"type": "Relationship", "object": self.source},
            "ruleName": self.rule_name, "severity": self.severity, "status": self.status,
            "description": self.description, "dateIssued": self.issued_at,
            "domain": self.domain,
            "events": {"type": "JsonProperty", "json": list(self.events)},
        }
        if self.scope:
            body["scope"] = list(self.scope)
        if self.assignee:
            body["assignee"] = self.assignee
        return body


def alarm_from_values(entity_id: str, values: dict[str, Any],
                      scope: tuple[str, ...]) -> Alarm:
    """From the keyValues of an Alert entity."""
    events = values.get("events") or []
    return Alarm(
        id=entity_id, rule=str(values.get("subCategory", "")),
        rule_name=str(values.get("ruleName", "")), source=str(values.get("alertSource", "")),
        scope=scope, severity=str(values.get("severity", "indeterminate")),
        status=str(values.get("status", "active")),
        description=str(values.get("description", "")),
        issued_at=str(values.get("dateIssued", "")),
        assignee=values.get("assignee") if isinstance(values.get("assignee"), str) else None,
        domain=str(values.get("domain", "other")),
        events=tuple(e for e in events if isinstance(e, dict)) if isinstance(
            events, list) else (),
    )


def raise_alarm(rule: str, rule_name: str, source: str, scope: tuple[str, ...], severity: str,
                why: str, at: str, domain: str = "other") -> Alarm:
    ident = f"urn:ngsi-ld:Alert:{rule}:{_short(source)}:{_ms(at)}"
    return Alarm(ident, rule, rule_name, source, scope, severity, "active", why, at,
                 domain=domain, events=(_event(at, "raised", "rule", why),))


def acknowledge(alarm: Alarm, by: str, at: str) -> Alarm:
    if alarm.status != "active":
        raise BadRequestData(f"alarm {alarm.id} is {alarm.status}: only an active alarm "
                             "can be acknowledged")
    return replace(alarm, status="acknowledged",
                   events=(*alarm.events, _event(at, "acknowledged", by)))


def assign(alarm: Alarm, assignee: str, by: str, at: str) -> Alarm:
    if not assignee.strip():
        raise BadRequestData("an assignee is needed")
    return replace(alarm, assignee=assignee.strip(),
                   events=(*alarm.events, _event(at, "assigned", by, assignee.strip())))


def comment(alarm: Alarm, text: str, by: str, at: str) -> Alarm:
    if not text.strip():
        raise BadRequestData("a comment cannot be empty")
    if len(text) > 4000:
        raise BadRequestData("a comment holds at most 4,000 characters")
    return replace(alarm, events=(*alarm.events, _event(at, "comment", by, text.strip())))


def clear(alarm: Alarm, by: str, at: str, reason: str = "") -> Alarm:
    if not alarm.open:
        raise BadRequestData(f"alarm {alarm.id} is already cleared")
    return replace(alarm, status="cleared",
                   events=(*alarm.events, _event(at, "cleared", by, reason)))


def needs_escalation(alarm: Alarm, now: str, after_minutes: float) -> bool:
    """Active (not acknowledged) for longer than ``after_minutes`` since the last
    raise or escalation, and not already critical."""
    if alarm.status != "active" or alarm.severity == "critical":
        return False
    last = max((e["at"] for e in alarm.events if e.get("action") in ("raised", "escalated")),
               default=alarm.issued_at)
    return _ms(now) - _ms(last) >= after_minutes * 60_000


def escalate(alarm: Alarm, at: str) -> Alarm:
    severity = _ESCALATE.get(alarm.severity, "major")
    return replace(alarm, severity=severity,
                   events=(*alarm.events, _event(at, "escalated", "escalation",
                                                 f"{alarm.severity} -> {severity}")))


@dataclass(frozen=True, slots=True)
class Intervention:
    id: str
    equipment: str
    scope: tuple[str, ...]
    status: str
    severity: str
    description: str
    requested_at: str
    requested_by: str
    due: str
    domain: str = "other"
    alarm: str | None = None
    contractor: str | None = None
    planned_for: str | None = None
    events: tuple[dict[str, str], ...] = ()

    @property
    def open(self) -> bool:
        return self.status in INTERVENTION_OPEN

    def overdue(self, now: str) -> bool:
        return self.open and _ms(now) > _ms(self.due)

    def to_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id, "type": "Intervention",
            "refEquipment": {"type": "Relationship", "object": self.equipment},
            "status": self.status, "severity": self.severity, "description": self.description,
            "dateRequested": self.requested_at, "requestedBy": self.requested_by,
            "dueDate": self.due, "domain": self.domain,
            "events": {"type": "JsonProperty", "json": list(self.events)},
        }
        if self.scope:
            body["scope"] = list(self.scope)
        if self.alarm:
            body["refAlert"] = {"type": "Relationship", "object": self.alarm}
        if self.contractor:
            body["contractor"] = self.contractor
        if self.planned_for:
            body["plannedFor"] = self.planned_for
        return body


def intervention_from_values(entity_id: str, values: dict[str, Any],
                             scope: tuple[str, ...]) -> Intervention:
    events = values.get("events") or []
    text = {k: values.get(k) for k in ("refAlert", "contractor", "plannedFor")}
    return Intervention(
        id=entity_id, equipment=str(values.get("refEquipment", "")), scope=scope,
        status=str(values.get("status", "requested")),
        severity=str(values.get("severity", "major")),
        description=str(values.get("description", "")),
        requested_at=str(values.get("dateRequested", "")),
        requested_by=str(values.get("requestedBy", "")), due=str(values.get("dueDate", "")),
        domain=str(values.get("domain", "other")),
        alarm=text["refAlert"] if isinstance(text["refAlert"], str) else None,
        contractor=text["contractor"] if isinstance(text["contractor"], str) else None,
        planned_for=text["plannedFor"] if isinstance(text["plannedFor"], str) else None,
        events=tuple(e for e in events if isinstance(e, dict)) if isinstance(
            events, list) else (),
    )


def due_date(requested_at: str, domain: str, severity: str) -> str:
    """When the intervention is due: the service level of its network and severity."""
    levels = SERVICE_LEVEL_HOURS.get(domain, SERVICE_LEVEL_HOURS["*"])
    hours = levels.get(severity, SERVICE_LEVEL_HOURS["*"]["major"])
    return _iso(_ms(requested_at) + int(hours * 3_600_000))


def request_intervention(equipment: str, scope: tuple[str, ...], domain: str, severity: str,
                         description: str, by: str, at: str,
                         alarm: str | None = None) -> Intervention:
    if severity not in _ESCALATE:
        raise BadRequestData("severity must be critical, major, minor, warning or "
                             "indeterminate")
    text = description.strip()
    if not text:
        raise BadRequestData("describe what needs to be done")
    if len(text) > 4000:
        raise BadRequestData("a description holds at most 4,000 characters")
    ident = f"urn:ngsi-ld:Intervention:{_short(equipment)}:{_ms(at)}"
    return Intervention(ident, equipment, scope, "requested", severity, text, at, by,
                        due_date(at, domain, severity), domain, alarm,
                        events=(_event(at, "requested", by, text),))


def move(intervention: Intervention, status: str, by: str, at: str, *,
         contractor: str | None = None, planned_for: str | None = None,
         note: str = "") -> Intervention:
    if status not in INTERVENTION_STATUSES:
        raise BadRequestData(f"status must be one of {', '.join(INTERVENTION_STATUSES)}")
    if status != intervention.status and status not in _NEXT[intervention.status]:
        raise BadRequestData(f"an intervention cannot go from {intervention.status} "
                             f"to {status}")
    if planned_for is not None:
        try:
            _ms(planned_for)
        except ValueError:
            raise BadRequestData("plannedFor must be an ISO 8601 date-time") from None
    return replace(intervention, status=status,
                   contractor=contractor if contractor is not None else intervention.contractor,
                   planned_for=planned_for if planned_for is not None
                   else intervention.planned_for,
                   events=(*intervention.events, _event(at, status, by, note)))
