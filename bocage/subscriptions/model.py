"""NGSI-LD subscriptions (ETSI GS CIM 009 v1.8, clauses 5.2.12 and 5.8): parsing
and validation into a :class:`Subscription` value object. Pure.

A subscription is kept as its *document*: the members a client sent, checked
and completed with defaults, in the terms of the @context it was created with
(kept beside it). Names are expanded through that context whenever the
subscription is compiled for matching (``bocage.subscriptions.matching``), so a
q expression and the attribute lists always mean what they meant to their
author. Read-only members (``status``, ``timesSent``...) are never stored here:
the delivery side owns them.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlsplit

from bocage.api.query_params import parse_type_expr
from bocage.domain.errors import BadRequestData, BocageError, InvalidRequest
from bocage.domain.query import GeoQuery, QNode, TypeExpr
from bocage.domain.terms import Terms
from bocage.domain.timefmt import normalise_datetime
from bocage.ngsild.geo import parse_geoq
from bocage.ngsild.parse import check_name, check_uri
from bocage.ngsild.q import parse_q
from bocage.ngsild.scopeq import ScopeQ, parse_scope_q

TRIGGERS: Final = (
    "entityCreated", "entityUpdated", "entityDeleted",
    "attributeCreated", "attributeUpdated", "attributeDeleted",
)
DEFAULT_TRIGGERS: Final = ("attributeCreated", "attributeUpdated")
FORMATS: Final = ("normalized", "keyValues", "concise")
ACCEPTS: Final = ("application/json", "application/ld+json", "application/geo+json")
SCHEMES: Final = ("http", "https", "mqtt", "mqtts")
MQTT_VERSIONS: Final = ("mqtt3.1.1", "mqtt5.0")
#: members a client may set (read-only status members are refused on write)
_MEMBERS: Final = frozenset({
    "id", "type", "subscriptionName", "description", "entities", "watchedAttributes",
    "notificationTrigger", "timeInterval", "q", "geoQ", "scopeQ", "isActive",
    "notification", "expiresAt", "throttling", "lang", "@context", "jsonldContext",
})
_READ_ONLY: Final = frozenset({"status", "createdAt", "modifiedAt"})
_NOTIFICATION_MEMBERS: Final = frozenset({
    "attributes", "format", "endpoint", "sysAttrs", "showChanges",
})
_NOTIFICATION_READ_ONLY: Final = frozenset({
    "status", "timesSent", "timesFailed", "lastNotification", "lastFailure", "lastSuccess",
})
_ENDPOINT_MEMBERS: Final = frozenset({"uri", "accept", "receiverInfo", "notifierInfo",
                                      "timeout"})


@dataclass(frozen=True, slots=True)
class Selector:
    """One ``entities`` item; names expanded."""

    id: str | None = None
    id_pattern: str | None = None
    types: TypeExpr = ()


@dataclass(frozen=True, slots=True)
class Endpoint:
    uri: str
    accept: str = "application/json"
    receiver_info: tuple[tuple[str, str], ...] = ()
    notifier_info: tuple[tuple[str, str], ...] = ()
    timeout: float | None = None  # seconds

    @property
    def scheme(self) -> str:
        return urlsplit(self.uri).scheme.lower()

    @property
    def key(self) -> str:
        """Deliveries to one key share a concurrency limit and a backoff."""
        parts = urlsplit(self.uri)
        return f"{parts.scheme.lower()}://{parts.netloc}"


@dataclass(frozen=True, slots=True)
class Subscription:
    """A subscription ready to match: every name expanded with its own @context."""

    id: str
    doc: dict[str, Any]
    context: Any
    selectors: tuple[Selector, ...]
    watched: frozenset[str] | None
    triggers: frozenset[str]
    q: QNode | None
    geo: GeoQuery | None
    scope_q: ScopeQ
    attributes: frozenset[str] | None
    format: str
    sys_attrs: bool
    show_changes: bool
    endpoint: Endpoint
    is_active: bool = True
    expires_at: str | None = None
    throttling: float | None = None
    time_interval: float | None = None
    lang: str | None = None
    #: the terms of its own @context (notifications are compacted with them)
    terms: Terms | None = field(default=None, compare=False)

    def status_at(self, now: str) -> str:
        return status_for(self.is_active, self.expires_at, now)


def status_for(is_active: bool, expires_at: str | None, now: str) -> str:
    """``active``, ``paused`` (isActive false) or ``expired`` (expiresAt passed)."""
    if expires_at is not None and expires_at <= now:
        return "expired"
    return "active" if is_active else "paused"


def new_id() -> str:
    return f"urn:ngsi-ld:Subscription:{uuid.uuid4()}"


def validate_document(body: Any, now: str, *, creating: bool) -> dict[str, Any]:
    """Check the members' shapes (not their meaning in a @context); return the
    stored document (without ``@context``). ``id`` is generated when absent."""
    if not isinstance(body, dict):
        raise BadRequestData("a subscription must be a JSON object")
    if body.get("type") != "Subscription":
        raise BadRequestData('a subscription needs "type": "Subscription"')
    read_only = sorted(_READ_ONLY & set(body))
    if read_only:
        raise BadRequestData(f"read-only member(s) of a subscription: {', '.join(read_only)}")
    unknown = sorted(set(body) - _MEMBERS - _READ_ONLY)
    if unknown:
        raise BadRequestData(f"unknown member(s) of a subscription: {', '.join(unknown)}")
    sub_id = check_uri(body["id"], "subscription id") if "id" in body else new_id()
    doc = {"id": sub_id, **{k: v for k, v in body.items() if k not in ("@context", "id")}}
    for key in ("subscriptionName", "description", "q", "scopeQ", "lang"):
        if key in doc and not isinstance(doc[key], str):
            raise BadRequestData(f"{key} must be a string")
    if "entities" in doc:
        ents = doc["entities"]
        if not isinstance(ents, list) or not ents:
            raise BadRequestData("entities must be a non-empty array of EntitySelectors")
        for sel in ents:
            if not isinstance(sel, dict) or not ({"id", "idPattern", "type"} & set(sel)):
                raise BadRequestData("each entities item needs id, idPattern or type")
            unknown = sorted(set(sel) - {"id", "idPattern", "type"})
            if unknown:
                raise BadRequestData(f"unknown EntitySelector member(s): {', '.join(unknown)}")
    for key in ("watchedAttributes",):
        if key in doc and (not isinstance(doc[key], list) or not doc[key]
                           or not all(isinstance(a, str) and a for a in doc[key])):
            raise BadRequestData(f"{key} must be a non-empty array of attribute names")
    if "entities" not in doc and "watchedAttributes" not in doc:
        raise BadRequestData("a subscription needs entities or watchedAttributes (or both)")
    trig = doc.setdefault("notificationTrigger", list(DEFAULT_TRIGGERS))
    if not isinstance(trig, list) or not trig or not all(t in TRIGGERS for t in trig):
        raise BadRequestData(f"notificationTrigger must be a non-empty array of {TRIGGERS}")
    for key in ("timeInterval", "throttling"):
        value = doc.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)
                                  or value <= 0):
            raise BadRequestData(f"{key} must be a positive number of seconds")
    if "timeInterval" in doc:
        if "watchedAttributes" in doc:
            raise BadRequestData("timeInterval and watchedAttributes cannot be used together")
        if "throttling" in doc:
            raise BadRequestData("timeInterval and throttling cannot be used together")
        if "entities" not in doc:
            raise BadRequestData("a periodic subscription (timeInterval) needs entities")
    if "isActive" in doc and not isinstance(doc["isActive"], bool):
        raise BadRequestData("isActive must be true or false")
    if "expiresAt" in doc:
        doc["expiresAt"] = normalise_datetime(doc["expiresAt"], "expiresAt")
        if creating and doc["expiresAt"] <= now:
            raise BadRequestData("expiresAt is in the past")
    if "geoQ" in doc and not isinstance(doc["geoQ"], dict):
        raise BadRequestData("geoQ must be an object (georel, geometry, coordinates)")
    if "jsonldContext" in doc:
        check_uri(doc["jsonldContext"], "jsonldContext")
    doc["notification"] = _validate_notification(doc.get("notification"))
    return doc


def _validate_notification(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise BadRequestData("a subscription needs a notification object")
    note = {k: v for k, v in raw.items() if k not in _NOTIFICATION_READ_ONLY}
    unknown = sorted(set(note) - _NOTIFICATION_MEMBERS)
    if unknown:
        raise BadRequestData(f"unknown notification member(s): {', '.join(unknown)}")
    attrs = note.get("attributes")
    if attrs is not None and (not isinstance(attrs, list)
                              or not all(isinstance(a, str) and a for a in attrs)):
        raise BadRequestData("notification.attributes must be an array of attribute names")
    fmt = note.setdefault("format", "normalized")
    if fmt not in FORMATS:
        raise BadRequestData(f"unknown notification format {fmt!r}; expected one of {FORMATS}")
    for key in ("sysAttrs", "showChanges"):
        if key in note and not isinstance(note[key], bool):
            raise BadRequestData(f"notification.{key} must be true or false")
    note["endpoint"] = _validate_endpoint(note.get("endpoint"))
    return note


def _validate_endpoint(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict) or "uri" not in raw:
        raise BadRequestData("notification.endpoint needs a uri")
    unknown = sorted(set(raw) - _ENDPOINT_MEMBERS)
    if unknown:
        raise BadRequestData(f"unknown endpoint member(s): {', '.join(unknown)}")
    uri = raw["uri"]
    if not isinstance(uri, str):
        raise BadRequestData("endpoint.uri must be a string")
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise BadRequestData(
            f"unsupported endpoint scheme {scheme or '(none)'!r}: use http, https, mqtt or mqtts"
        )
    try:
        port = parts.port
    except ValueError:
        raise BadRequestData(f"endpoint.uri has an invalid port: {uri!r}") from None
    if not parts.hostname:
        raise BadRequestData(f"endpoint.uri has no host: {uri!r}")
    if scheme.startswith("mqtt"):
        topic = parts.path.lstrip("/")
        if not topic or "+" in topic or "#" in uri:
            raise BadRequestData(
                "an MQTT endpoint names one topic without wildcards: mqtt://host:port/topic"
            )
    del port
    accept = raw.get("accept", "application/json")
    if accept not in ACCEPTS:
        raise BadRequestData(f"endpoint.accept must be one of {ACCEPTS}")
    out = dict(raw)
    out["accept"] = accept
    for key in ("receiverInfo", "notifierInfo"):
        if key in raw:
            out[key] = _key_values(raw[key], f"endpoint.{key}")
    for k, v in _pairs(out.get("notifierInfo", [])):
        if k == "MQTT-Version" and v not in MQTT_VERSIONS:
            raise BadRequestData(f"MQTT-Version must be one of {MQTT_VERSIONS}")
        if k == "MQTT-QoS" and v not in ("0", "1", "2"):
            raise BadRequestData("MQTT-QoS must be 0, 1 or 2")
    timeout = raw.get("timeout")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int | float)
                                or timeout <= 0):
        raise BadRequestData("endpoint.timeout must be a positive number of milliseconds")
    return out


def _key_values(raw: Any, what: str) -> list[dict[str, str]]:
    if not isinstance(raw, list):
        raise BadRequestData(f"{what} must be an array of {{key, value}} objects")
    for item in raw:
        if (not isinstance(item, dict) or set(item) != {"key", "value"}
                or not isinstance(item["key"], str) or not isinstance(item["value"], str)
                or not item["key"] or any(c in item["key"] + item["value"] for c in "\r\n")):
            raise BadRequestData(f"{what} items must be {{\"key\": str, \"value\": str}}")
    return raw


def _pairs(items: list[dict[str, str]]) -> tuple[tuple[str, str], ...]:
    return tuple((i["key"], i["value"]) for i in items)


def merge_update(doc: dict[str, Any], patch: Any) -> dict[str, Any]:
    """PATCH /subscriptions/{id}: members of ``patch`` replace those of ``doc``;
    ``notification`` is merged member by member; ``null`` removes a member."""
    if not isinstance(patch, dict) or not patch:
        raise BadRequestData("a subscription update must be a non-empty JSON object")
    if "id" in patch and patch["id"] != doc["id"]:
        raise BadRequestData("the id of a subscription cannot change")
    if "type" in patch and patch["type"] != "Subscription":
        raise BadRequestData('type must be "Subscription"')
    out = dict(doc)
    for key, value in patch.items():
        if key == "@context":
            continue
        if key == "notification" and isinstance(value, dict):
            note = dict(out.get("notification", {}))
            note.update(value)
            out[key] = {k: v for k, v in note.items() if v is not None}
        elif value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def compile_subscription(doc: dict[str, Any], context: Any, terms: Terms) -> Subscription:
    """Expand and parse the document with the terms of its own @context.

    Raises :class:`BadRequestData` / :class:`InvalidRequest` for a bad q, geoQ,
    scopeQ or name: creation runs this too, so a stored subscription compiles.
    """
    try:
        selectors = tuple(
            Selector(
                id=check_uri(s["id"], "entities.id") if "id" in s else None,
                id_pattern=_pattern(s.get("idPattern")),
                types=parse_type_expr(_str(s["type"], "entities.type"), terms)
                if "type" in s else (),
            )
            for s in doc.get("entities", ())
        )
        watched = doc.get("watchedAttributes")
        note = doc["notification"]
        ep = note["endpoint"]
        q = parse_q(doc["q"], terms.expand) if doc.get("q") else None
        geo = _geo(doc.get("geoQ"), terms)
        scope_q = parse_scope_q(doc["scopeQ"]) if doc.get("scopeQ") else ()
        attrs = note.get("attributes")
        timeout = ep.get("timeout")
        return Subscription(
            id=doc["id"],
            doc=doc,
            context=context,
            selectors=selectors,
            watched=frozenset(terms.expand(check_name(a)) for a in watched)
            if watched else None,
            triggers=frozenset(doc["notificationTrigger"]),
            q=q,
            geo=geo,
            scope_q=scope_q,
            attributes=frozenset(terms.expand(check_name(a)) for a in attrs)
            if attrs else None,
            format=note.get("format", "normalized"),
            sys_attrs=bool(note.get("sysAttrs", False)),
            show_changes=bool(note.get("showChanges", False)),
            endpoint=Endpoint(
                uri=ep["uri"],
                accept=ep.get("accept", "application/json"),
                receiver_info=_pairs(ep.get("receiverInfo", [])),
                notifier_info=_pairs(ep.get("notifierInfo", [])),
                timeout=timeout / 1000 if timeout else None,
            ),
            is_active=doc.get("isActive", True),
            expires_at=doc.get("expiresAt"),
            throttling=doc.get("throttling"),
            time_interval=doc.get("timeInterval"),
            lang=doc.get("lang"),
            terms=terms,
        )
    except InvalidRequest as exc:  # a bad q / scopeQ is bad subscription data
        raise BadRequestData(f"invalid subscription: {exc.detail}") from None
    except BocageError:
        raise
    except (KeyError, TypeError) as exc:
        raise BadRequestData(f"invalid subscription: {exc}") from None


def _str(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise BadRequestData(f"{what} must be a non-empty string")
    return value


def _pattern(raw: Any) -> str | None:
    if raw is None:
        return None
    try:
        re.compile(_str(raw, "entities.idPattern"))
    except re.error as exc:
        raise BadRequestData(f"invalid idPattern: {exc}") from None
    return str(raw)


def _geo(raw: Any, terms: Terms) -> GeoQuery | None:
    if raw is None:
        return None
    coords = raw.get("coordinates")
    return parse_geoq(
        raw.get("georel"), raw.get("geometry"),
        coords if isinstance(coords, list | str) else None,
        terms.expand(str(raw.get("geoproperty") or "location")),
    )
