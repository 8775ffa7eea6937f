"""Who is told about alarms: recipients, each on one channel, for one scope subtree. Pure.

A recipient is data (from the API, the CLI or a file), compiled by
:func:`compile_recipient`, which refuses what it cannot use with the reason.
It receives a notification when an alarm of its scope subtree
(``/FR/<departement>/<EPCI>/<commune>``) is raised, escalated or cleared, with
a severity at least ``min_severity``, optionally only for some networks
(``domains``) or equipment types (``types``).

=========== ==============================================================
channel     ``email`` (address: name@example.fr), ``webhook`` (an http(s) URL),
            ``mqtt`` (mqtt[s]://host[:port]/topic)
scope       the subtree whose alarms it receives
min_severity  critical > major > minor > warning > indeterminate (default warning)
domains     networks (lighting, water, ...); empty: all
types       equipment types (Streetlight, ...); empty: all
digest_minutes  at most one message per this many minutes (None: the platform's setting)
events      which transitions: raised, escalated, cleared (default all three)
language    fr (default) or en
=========== ==============================================================
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from bocage.domain.errors import BadRequestData

CHANNELS: Final = ("email", "webhook", "mqtt")
#: lowest first: a recipient gets its min_severity and everything above
SEVERITY_RANK: Final = {"indeterminate": 0, "warning": 1, "minor": 2, "major": 3,
                        "critical": 4}
EVENTS: Final = ("raised", "escalated", "cleared")
_EMAIL: Final = re.compile(r"^[^@\s<>\"',;]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_ID: Final = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_SCOPE_LEVEL: Final = re.compile(r"^[A-Za-z0-9_.-]+$")
_MEMBERS: Final = frozenset({"id", "name", "channel", "address", "scope", "min_severity",
                             "domains", "types", "digest_minutes", "events", "enabled",
                             "language"})
LANGUAGES: Final = ("fr", "en")


@dataclass(frozen=True, slots=True)
class Recipient:
    id: str
    channel: str
    address: str
    scope: str
    name: str = ""
    min_severity: str = "warning"
    domains: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    digest_minutes: float | None = None
    events: tuple[str, ...] = EVENTS
    enabled: bool = True
    language: str = "fr"

    def covers(self, scopes: Sequence[str]) -> bool:
        """Whether an alarm carrying ``scopes`` is in this recipient's subtree."""
        return any(s == self.scope or s.startswith(self.scope + "/") for s in scopes)

    def wants(self, event: str, scopes: Sequence[str], severity: str, domain: str,
              entity_type: str) -> bool:
        return (self.enabled and event in self.events and self.covers(scopes)
                and SEVERITY_RANK.get(severity, 0) >= SEVERITY_RANK[self.min_severity]
                and (not self.domains or domain in self.domains)
                and (not self.types or entity_type in self.types))

    @property
    def uri(self) -> str:
        """Where the outbox sends it (``mailto:`` for e-mail)."""
        return "mailto:" + self.address if self.channel == "email" else self.address


def compile_recipient(data: object) -> Recipient:
    """A recipient from its JSON form; BadRequestData saying what is wrong."""
    if not isinstance(data, dict):
        raise BadRequestData("a recipient must be a JSON object")
    ident = data.get("id")
    if not isinstance(ident, str) or not _ID.match(ident):
        raise BadRequestData("a recipient needs an id of 1 to 64 letters, digits, - _ .")
    unknown = set(data) - _MEMBERS
    if unknown:
        raise BadRequestData(f"recipient {ident}: unknown member(s) "
                             f"{', '.join(sorted(unknown))}")
    channel = data.get("channel")
    if channel not in CHANNELS:
        raise BadRequestData(f"recipient {ident}: channel must be one of {', '.join(CHANNELS)}")
    address = _address(ident, str(channel), data.get("address"))
    scope = data.get("scope")
    if not isinstance(scope, str) or not scope.startswith("/") or scope == "/" or not all(
            _SCOPE_LEVEL.match(level) for level in scope.split("/")[1:]):
        raise BadRequestData(f"recipient {ident}: scope must be a subtree such as "
                             "/FR/01/240100883/01004")
    name = data.get("name", "")
    if not isinstance(name, str) or len(name) > 200:
        raise BadRequestData(f"recipient {ident}: name must be a text of 200 characters "
                             "at most")
    severity = data.get("min_severity", "warning")
    if severity not in SEVERITY_RANK:
        raise BadRequestData(f"recipient {ident}: min_severity must be one of "
                             f"{', '.join(SEVERITY_RANK)}")
    domains = _names(ident, data, "domains")
    types = _names(ident, data, "types")
    events = _names(ident, data, "events") if "events" in data else EVENTS
    bad = [e for e in events if e not in EVENTS]
    if bad or not events:
        raise BadRequestData(f"recipient {ident}: events must be among {', '.join(EVENTS)}")
    digest = data.get("digest_minutes")
    if digest is not None and (isinstance(digest, bool) or not isinstance(digest, int | float)
                               or not 0 <= digest <= 1440):
        raise BadRequestData(f"recipient {ident}: digest_minutes must be a number "
                             "from 0 to 1440")
    enabled = data.get("enabled", True)
    if not isinstance(enabled, bool):
        raise BadRequestData(f"recipient {ident}: enabled must be true or false")
    language = data.get("language", "fr")
    if language not in LANGUAGES:
        raise BadRequestData(f"recipient {ident}: language must be fr or en")
    return Recipient(ident, str(channel), address, scope.rstrip("/"), name, str(severity),
                     domains, types, None if digest is None else float(digest),
                     tuple(dict.fromkeys(events)), enabled, str(language))


def recipient_to_json(r: Recipient) -> dict[str, Any]:
    out: dict[str, Any] = {"id": r.id, "name": r.name, "channel": r.channel,
                           "address": r.address, "scope": r.scope,
                           "min_severity": r.min_severity, "domains": list(r.domains),
                           "types": list(r.types), "events": list(r.events),
                           "enabled": r.enabled, "language": r.language}
    if r.digest_minutes is not None:
        out["digest_minutes"] = r.digest_minutes
    return out


def _names(ident: str, data: dict[str, Any], key: str) -> tuple[str, ...]:
    raw = data.get(key, [])
    if not isinstance(raw, list) or not all(isinstance(x, str) and x for x in raw):
        raise BadRequestData(f"recipient {ident}: {key} must be a list of names")
    return tuple(dict.fromkeys(raw))


def _address(ident: str, channel: str, raw: object) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise BadRequestData(f"recipient {ident}: an address is needed")
    address = raw.strip()
    if channel == "email":
        if not _EMAIL.match(address) or len(address) > 254:
            raise BadRequestData(f"recipient {ident}: {address!r} is not an e-mail address")
        return address
    parts = urlsplit(address)
    if channel == "webhook":
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise BadRequestData(f"recipient {ident}: a webhook address is an http(s) URL")
        return address
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname or not parts.path.strip("/"):
        raise BadRequestData(f"recipient {ident}: an MQTT address is "
                             "mqtt[s]://host[:port]/topic")
    if any(c in address for c in "+#"):
        raise BadRequestData(f"recipient {ident}: an MQTT topic to publish to has no "
                             "wildcard")
    return address
