"""Matched changes -> the message a receiver gets (clause 5.3.1). Pure.

One notification per subscription and committed write group: its ``data``
holds every entity of the group the subscription matched (a batch upsert of
500 matching entities is one notification of 500, which the spec allows and
receivers handle far faster than 500 requests).

Entities are rendered in the subscription's terms (its own @context), with its
``attributes`` projection, ``format``, ``sysAttrs`` and ``lang``; with
``showChanges`` an updated attribute carries its previous value
(``previousValue``, ``previousObject``...); an attribute deleted, when
``attributeDeleted`` is a trigger, appears with the NGSI-LD null
(``urn:ngsi-ld:null``); a deleted entity appears as its id, type and
``deletedAt``.

Over MQTT the message is ``{"metadata": {headers}, "body": notification}``
(the NGSI-LD MQTT binding); over HTTP the body is the notification and the
metadata are headers.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Final

import orjson

from bocage.domain.entity import VALUE_KEY, Entity
from bocage.domain.terms import Terms
from bocage.ngsild.context import CORE_CONTEXT_URL, link_header
from bocage.ngsild.render import Format, View, render_entity, render_feature
from bocage.subscriptions.matching import Change, Diff
from bocage.subscriptions.model import Subscription

NULL: Final = "urn:ngsi-ld:null"
_PREVIOUS: Final = {key: "previous" + key[0].upper() + key[1:] for key in set(VALUE_KEY.values())}


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message, ready to send: the delivery side needs nothing else."""

    tenant: str
    subscription_id: str
    uri: str
    endpoint_key: str
    headers: dict[str, str]
    payload: bytes
    #: MQTT: (("MQTT-QoS", "1"), ...); HTTP: ()
    notifier_info: tuple[tuple[str, str], ...]
    timeout: float | None
    entities: int
    #: "ngsi-ld" (a subscription's notification, sent as it is) or "alarms" (events
    #: for a person, rendered when sent: bocage.alerting)
    kind: str = "ngsi-ld"
    #: > 0: part of a digest, at most one message per this many seconds
    #: (bocage.subscriptions.digest)
    digest_s: float = 0.0


def render_change(sub: Subscription, change: Change, d: Diff, terms: Terms,
                  now: str) -> dict[str, Any]:
    """One item of ``data``."""
    fmt: Format = sub.format  # type: ignore[assignment]  # validated at creation
    if change.after is None:
        gone = change.entity
        types = [terms.compact(t) for t in gone.get("type", [])]
        return {"id": gone["id"], "type": types[0] if len(types) == 1 else types,
                "deletedAt": now}
    view = View(format=fmt, sys_attrs=sub.sys_attrs, attrs=sub.attributes, lang=sub.lang)
    if sub.endpoint.accept == "application/geo+json":
        return render_feature(change.after, terms, view, terms.expand("location"))
    out = render_entity(change.after, terms, view)
    if "attributeDeleted" in sub.triggers:
        for attr in sorted(d.attrs_deleted):
            if _shown(sub, attr):
                out[terms.compact(attr)] = (
                    {"type": "Property", "value": NULL} if fmt == "normalized" else NULL)
    if sub.show_changes and fmt != "keyValues" and change.before is not None:
        for attr in d.attrs_updated:
            name = terms.compact(attr)
            if name in out:
                out[name] = _with_previous(out[name], change.before[attr])
    return out


def _shown(sub: Subscription, attr: str) -> bool:
    watched = sub.watched is None or attr in sub.watched
    return watched and (sub.attributes is None or attr in sub.attributes)


def _default(insts: list[dict[str, Any]]) -> dict[str, Any] | None:
    return next((i for i in insts if "datasetId" not in i), None)


def _with_previous(shown: Any, before: list[dict[str, Any]]) -> Any:
    old = _default(before)
    if old is None:
        return shown
    vkey = VALUE_KEY.get(old.get("type", "Property"), "value")
    if vkey not in old:
        return shown
    previous = {_PREVIOUS[vkey]: old[vkey]}
    if isinstance(shown, list):  # several datasetIds: the default instance gets it
        return [{**i, **previous} if isinstance(i, dict) and "datasetId" not in i else i
                for i in shown]
    if isinstance(shown, dict):
        return {**shown, **previous}
    return {"value": shown, **previous}  # a bare concise value


def notification_body(sub: Subscription, data: list[dict[str, Any]], now: str,
                      notification_id: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": notification_id or f"urn:ngsi-ld:Notification:{uuid.uuid4()}",
        "type": "Notification",
        "subscriptionId": sub.id,
        "notifiedAt": now,
        "data": data,
    }
    if sub.endpoint.accept == "application/ld+json":
        body["@context"] = sub.context if sub.context is not None else CORE_CONTEXT_URL
    return body


def outgoing(sub: Subscription, tenant: str, data: list[dict[str, Any]], now: str,
             notification_id: str | None = None) -> Outgoing:
    ep = sub.endpoint
    body = notification_body(sub, data, now, notification_id)
    headers = {"Content-Type": ep.accept}
    if ep.accept != "application/ld+json":
        ctx = sub.context if isinstance(sub.context, str) else CORE_CONTEXT_URL
        headers["Link"] = link_header(ctx)
    if tenant:
        headers["NGSILD-Tenant"] = tenant
    for key, value in ep.receiver_info:
        headers[key] = value
    if ep.scheme in ("mqtt", "mqtts"):
        payload = orjson.dumps({"metadata": headers, "body": body})
        info = ep.notifier_info
    else:
        payload = orjson.dumps(body)
        info = ()
    return Outgoing(tenant, sub.id, ep.uri, ep.key, headers, payload, info, ep.timeout,
                    len(data))


def render_entities(sub: Subscription, entities: list[Entity], terms: Terms,
                    now: str) -> list[dict[str, Any]]:
    """The ``data`` of a periodic notification (timeInterval): current states."""
    return [render_change(sub, Change(e["id"], e, e), Diff(False, False, frozenset(),
                          frozenset(), frozenset(), False), terms, now) for e in entities]
