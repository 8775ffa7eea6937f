"""Who may do what, where: roles, actions, grants on scope subtrees, principals. Pure.

A *grant* gives one role on one territorial scope subtree: ``agent`` on
``/FR/01/240100883/01004`` (a commune), ``elu`` on ``/FR/01/240100883`` (an
EPCI and every commune under it), ``admin`` on ``/`` (the whole platform,
entities without any scope included). A *principal* is whoever makes a
request (an account, an API key, nobody) with its grants. What a role allows
is a fixed set of *actions* (:data:`ROLE_ACTIONS`); where it allows it is the
union of the scopes of the grants whose role allows the action.

Scopes are NGSI-LD scope paths (``bocage.ngsild.scopeq``); a grant on ``/a/b``
covers an entity whose scopes include ``/a/b`` or anything under it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final, Literal

#: the root scope: a grant on it covers everything, unscoped entities included
ROOT: Final = "/"


class Action(StrEnum):
    ENTITIES_READ = "entities.read"
    ENTITIES_WRITE = "entities.write"
    DEVICES_READ = "devices.read"
    DEVICES_WRITE = "devices.write"
    #: switch street lights on / off / dim (POST /api/commands)
    LIGHTING_COMMAND = "commands.lighting"
    COMMANDS_READ = "commands.read"
    AUDIT_READ = "audit.read"
    #: accounts, grants and API keys
    ACCESS_MANAGE = "access.manage"
    #: instance-wide configuration: hosted @contexts, device models, metrics
    PLATFORM = "platform"
    #: the platform's own figures (the sobriety panel: readings kept, disk, CPU, memory)
    FIGURES_READ = "figures.read"


ROLES: Final = ("admin", "agent", "elu", "operator", "police", "dpo", "integrator")
Role = Literal["admin", "agent", "elu", "operator", "police", "dpo", "integrator"]

_A = Action
ROLE_ACTIONS: Final[dict[str, frozenset[Action]]] = {
    # the syndicate's platform team: everything on its subtree
    "admin": frozenset(Action),
    # a commune's technical agent: its equipment, devices, lighting commands
    "agent": frozenset({_A.ENTITIES_READ, _A.ENTITIES_WRITE, _A.DEVICES_READ,
                        _A.DEVICES_WRITE, _A.LIGHTING_COMMAND, _A.COMMANDS_READ}),
    # an elected official: reads (dashboards)
    "elu": frozenset({_A.ENTITIES_READ, _A.COMMANDS_READ, _A.FIGURES_READ}),
    # maintenance: works alarms and interventions (entities), sees devices
    "operator": frozenset({_A.ENTITIES_READ, _A.ENTITIES_WRITE, _A.DEVICES_READ,
                           _A.COMMANDS_READ}),
    # police / gendarmerie: the incident lighting command, nothing else
    "police": frozenset({_A.LIGHTING_COMMAND}),
    # data protection officer: the audit log and the data (subject access requests)
    "dpo": frozenset({_A.AUDIT_READ, _A.ENTITIES_READ}),
    # another system: the NGSI-LD API
    "integrator": frozenset({_A.ENTITIES_READ, _A.ENTITIES_WRITE}),
}


@dataclass(frozen=True, slots=True)
class Grant:
    role: str
    scope: str

    def to_json(self) -> dict[str, str]:
        return {"role": self.role, "scope": self.scope}


def check_grant(role: object, scope: object) -> Grant:
    """A grant from untrusted input; raises ValueError with a clear message."""
    if role not in ROLE_ACTIONS:
        raise ValueError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    if not isinstance(scope, str) or not scope.startswith("/"):
        raise ValueError(f"a scope is a path such as /FR/01/240100883/01004, got {scope!r}")
    if scope != ROOT:
        levels = scope.split("/")[1:]
        if any(not lv or any(c in lv for c in "+#;|,()\"' ") for lv in levels):
            raise ValueError(f"invalid scope {scope!r}: empty level or reserved character")
    return Grant(str(role), scope)


def covers(grant_scope: str, scope: str) -> bool:
    """Whether a grant on ``grant_scope`` covers ``scope`` (itself or below)."""
    return grant_scope == ROOT or scope == grant_scope or scope.startswith(grant_scope + "/")


PrincipalKind = Literal["anonymous", "account", "key", "system"]


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller. ``name`` is what the audit log records (``key:<id>``, an account name)."""

    kind: PrincipalKind
    name: str
    grants: tuple[Grant, ...] = ()

    def can(self, action: Action) -> bool:
        return any(action in ROLE_ACTIONS.get(g.role, ()) for g in self.grants)

    def scopes(self, action: Action) -> tuple[str, ...] | None:
        """Where ``action`` is allowed: scope prefixes, ``None`` for everywhere,
        ``()`` for nowhere."""
        found = [g.scope for g in self.grants if action in ROLE_ACTIONS.get(g.role, ())]
        if ROOT in found:
            return None
        return tuple(dict.fromkeys(found))

    def allows(self, action: Action, scopes: object) -> bool:
        """Whether ``action`` is allowed on an entity carrying ``scopes``."""
        where = self.scopes(action)
        if where is None:
            return True
        if isinstance(scopes, str):
            scopes = [scopes]
        if not isinstance(scopes, list | tuple):
            return False
        return any(isinstance(s, str) and covers(g, s) for g in where for s in scopes)

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(g.role for g in self.grants))

    def to_json(self) -> dict[str, object]:
        return {"kind": self.kind, "name": self.name,
                "grants": [g.to_json() for g in self.grants]}


ANONYMOUS: Final = Principal("anonymous", "anonymous")
#: bocage itself (pipeline, CLI, demo seeding) and every caller when BOCAGE_AUTH=off
SYSTEM: Final = Principal("system", "system", (Grant("admin", ROOT),))
