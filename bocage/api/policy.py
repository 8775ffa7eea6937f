"""Which action a request needs, by method and path: the route-level half of access control.

The storage layer (``bocage.security.scoped_store``) decides *where* a caller
may read and write; this table decides *what kind* of request it may make at
all. Rules are tried in order; the last one denies by default, so a route
added later is reachable by platform administrators only until its author adds
a rule here (and the route enumeration test in tests/security checks every
route of the OpenAPI document against anonymous and foreign callers).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from bocage.domain.access import Action

NGSI: Final = "/ngsi-ld/v1"
_SAFE: Final = frozenset({"GET", "HEAD"})


@dataclass(frozen=True, slots=True)
class Rule:
    #: None: no principal needed (public, or the route has its own secret)
    action: Action | None
    #: anonymous callers pass too (open data): the scoped store shows them open data only
    anonymous: bool = False
    #: the route authenticates by its own means (ingest secrets): ignore Authorization
    own_auth: bool = False
    #: rate limited (login, token endpoints)
    limited: bool = False
    #: the action is instance-wide: it must be granted on the root scope ``/``
    root: bool = False
    #: the route checks a CSRF token of its own (UI forms): no X-CSRF-Token header
    own_csrf: bool = False


PUBLIC: Final = Rule(None)
#: instance-wide configuration: an administrator of the whole platform only
_PLATFORM: Final = Rule(Action.PLATFORM, root=True)
_DENY: Final = _PLATFORM

_PUBLIC_PATHS: Final = frozenset({"/healthz", "/readyz", "/openapi.json", "/docs",
                                  "/docs/init.js"})
_OPEN_DATA: Final = re.compile(rf"^{NGSI}/(entities(/.*)?|types(/.*)?|attributes(/.*)?)$")


def _read_write(method: str, read: Action, write: Action) -> Rule:
    return Rule(read if method in _SAFE else write)


def rule_for(method: str, path: str) -> Rule:
    """The rule of a request (``path`` as received, without the query string)."""
    if path in _PUBLIC_PATHS or path == "/" or path.startswith("/ui/static/"):
        return PUBLIC
    if path in ("/ui/connexion", "/ui/deconnexion") and method not in _SAFE:
        # the log-in form: anyone may post it (rate limited); it checks its own token
        return Rule(None, limited=path == "/ui/connexion", own_csrf=True)
    if path == "/ui/eclairage-urgence" or path.startswith("/ui/eclairage-urgence/"):
        # question 14, incident lighting: whoever may command lighting (police included,
        # without entities.read); the page sends anonymous visitors to the log-in form
        return (Rule(Action.LIGHTING_COMMAND, anonymous=True) if method in _SAFE
                else Rule(Action.LIGHTING_COMMAND, own_csrf=True))
    if path == "/ui" or path.startswith("/ui/"):
        # the web UI reads through the scoped store: anonymous visitors see open data;
        # its forms change alarms and interventions, entities of the caller's scopes
        # (they carry the UI's own double-submit CSRF token, checked by the route)
        if method in _SAFE:
            return Rule(Action.ENTITIES_READ, anonymous=True)
        return Rule(Action.ENTITIES_WRITE, own_csrf=True)
    if path.startswith("/ingest/"):
        return Rule(None, own_auth=True)
    if path.startswith("/auth/"):
        return Rule(None, limited=path in ("/auth/login", "/auth/oidc/login",
                                           "/auth/oidc/callback"))
    if path.startswith(NGSI + "/"):
        if path.startswith(NGSI + "/subscriptions"):
            # a subscription records its creator's grants and notifies only what they
            # may read; one sees and changes one's own (or those one manages)
            return Rule(Action.ENTITIES_READ)
        if path.startswith(NGSI + "/jsonldContexts"):
            return PUBLIC if method in _SAFE else _PLATFORM
        if method in _SAFE and _OPEN_DATA.match(path):
            return Rule(Action.ENTITIES_READ, anonymous=True)
        if method == "POST" and path == NGSI + "/entityOperations/query":
            return Rule(Action.ENTITIES_READ, anonymous=True)
        return _read_write(method, Action.ENTITIES_READ, Action.ENTITIES_WRITE)
    if path == "/api/commands" or path.startswith("/api/commands/"):
        return _read_write(method, Action.COMMANDS_READ, Action.LIGHTING_COMMAND)
    if path.startswith(("/api/alarms", "/api/interventions")):
        # alarms and interventions are entities of the equipment's scopes
        return _read_write(method, Action.ENTITIES_READ, Action.ENTITIES_WRITE)
    if path.startswith("/api/alarm-recipients"):
        # recipients are entities of their scope subtree: managed where one may write
        return _read_write(method, Action.ENTITIES_READ, Action.ENTITIES_WRITE)
    if path == "/api/aggregates":
        # territory aggregates: the store clips them to what the caller may read
        return Rule(Action.ENTITIES_READ, anonymous=True) if method in _SAFE else _DENY
    if path.startswith("/api/retention-policies"):
        # retention: the DPO's and the platform's concern; changed platform-wide only
        return Rule(Action.ENTITIES_READ) if method in _SAFE else _PLATFORM
    if path.startswith("/api/rules"):
        return Rule(Action.ENTITIES_READ) if method in _SAFE else _PLATFORM
    if path.startswith("/api/codecs"):
        # decoding a payload (POST .../decode) changes nothing: a device reader may
        return Rule(Action.DEVICES_READ) if method in _SAFE or path.endswith("/decode") \
            else _PLATFORM
    if path.startswith(("/api/devices", "/api/dead-letters")):
        return _read_write(method, Action.DEVICES_READ, Action.DEVICES_WRITE)
    if path.startswith("/api/device-models"):
        return Rule(Action.DEVICES_READ) if method in _SAFE else _PLATFORM
    if path.startswith(("/api/keys", "/api/accounts")):
        return Rule(Action.ACCESS_MANAGE, limited=method == "POST")
    if path in ("/api/sobriety", "/api/stats"):
        # the platform's figures (no entity in them): administrators and elected officials
        return Rule(Action.FIGURES_READ) if method in _SAFE else _DENY
    if path.startswith("/api/audit"):
        return Rule(Action.AUDIT_READ, root=True)  # the log is platform-wide
    return _DENY
