"""Lighting commands: switch a street light or a lighting zone on, off, or dim it. Pure.

A command is validated here, then recorded as a *pending downlink* (see
``bocage.api.commands``): delivering it to the network server and following
its lifecycle (sent, acknowledged, confirmed by telemetry, expired) is a later
piece of work; what exists now is the authorised, scoped, audited request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from bocage.domain.errors import BadRequestData

ACTIONS: Final = ("on", "off", "dim")
#: entity types a lighting command may target (compact names of the core context)
TARGET_TYPES: Final = frozenset({"Streetlight", "StreetlightGroup", "StreetlightControlCabinet"})
MAX_MINUTES: Final = 24 * 60


@dataclass(frozen=True, slots=True)
class LightingCommand:
    target: str
    action: str
    reason: str
    #: percent, for dim
    level: int | None = None
    #: how long the order holds before the schedule resumes (minutes; None = until changed)
    duration_minutes: int | None = None


@dataclass(frozen=True, slots=True)
class CommandRecord:
    id: str
    at: str
    actor: str
    command: LightingCommand
    scope: tuple[str, ...]
    status: str = "pending"

    def to_json(self) -> dict[str, Any]:
        c = self.command
        return {"id": self.id, "createdAt": self.at, "requestedBy": self.actor,
                "target": c.target, "action": c.action, "level": c.level,
                "durationMinutes": c.duration_minutes, "reason": c.reason,
                "scope": list(self.scope), "status": self.status}


def parse_command(body: object) -> LightingCommand:
    if not isinstance(body, dict):
        raise BadRequestData('send {"target": <entity id>, "action": "on"|"off"|"dim", '
                             '"reason": ...}')
    target, action, reason = body.get("target"), body.get("action"), body.get("reason")
    if not isinstance(target, str) or not target or len(target) > 512:
        raise BadRequestData("target must be the id of a street light or lighting zone")
    if action not in ACTIONS:
        raise BadRequestData(f"action must be one of {', '.join(ACTIONS)}")
    if not isinstance(reason, str) or not reason.strip() or len(reason) > 1000:
        raise BadRequestData("reason is required (at most 1000 characters): it is audited")
    level = body.get("level")
    if action == "dim":
        if isinstance(level, bool) or not isinstance(level, int) or not 0 <= level <= 100:
            raise BadRequestData("dim needs a level, an integer percentage 0-100")
    elif level is not None:
        raise BadRequestData("level applies to dim only")
    minutes = body.get("durationMinutes")
    if minutes is not None and (isinstance(minutes, bool) or not isinstance(minutes, int)
                                or not 1 <= minutes <= MAX_MINUTES):
        raise BadRequestData(f"durationMinutes must be an integer 1-{MAX_MINUTES}")
    return LightingCommand(target, str(action), reason.strip(), level, minutes)
