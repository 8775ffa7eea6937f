"""Pure subscription logic: validation, matching, notification bodies."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from bocage.domain.errors import BadRequestData
from bocage.ngsild import mutations as mut
from bocage.ngsild.parse import parse_entity
from bocage.subscriptions.matching import Change, diff_of, triggered
from bocage.subscriptions.model import (
    DEFAULT_TRIGGERS,
    Subscription,
    compile_subscription,
    merge_update,
    validate_document,
)
from bocage.subscriptions.notification import NULL, outgoing, render_change

NS = "https://ex.org/"
T0, T1, T2 = "2026-01-01T00:00:00.000Z", "2026-01-02T00:00:00.000Z", "2026-01-03T00:00:00.000Z"


class Prefix:
    def expand(self, term: str) -> str:
        return term if ":" in term else NS + term

    def compact(self, iri: str) -> str:
        return iri.removeprefix(NS)

    def expand_vocab(self, value: Any) -> Any:
        return value

    def compact_vocab(self, value: Any) -> Any:
        return value


TERMS = Prefix()
HTTP = {"endpoint": {"uri": "http://127.0.0.1:9/n"}}


def sub(**members: Any) -> Subscription:
    body = {"type": "Subscription", "entities": [{"type": "Bin"}], "notification": HTTP,
            **members}
    return compile_subscription(validate_document(body, T0, creating=True), None, TERMS)


def entity(fill: float = 10, **extra: Any) -> dict[str, Any]:
    body = {"id": "urn:ngsi-ld:Bin:1", "type": "Bin",
            "fill": {"type": "Property", "value": fill}, **extra}
    return mut.create(parse_entity(body, TERMS), T0)(None)  # type: ignore[return-value]


def update(current: dict[str, Any], **attrs: Any) -> dict[str, Any]:
    patch = parse_entity({"id": current["id"], **attrs}, TERMS, require_type=False, nulls=True)
    return mut.merge(patch, T1)(current)  # type: ignore[no-any-return]


def fires(s: Subscription, before: Any, after: Any, now: str = T1) -> bool:
    change = Change("urn:ngsi-ld:Bin:1", before, after)
    return triggered(s, change, diff_of(change), now)


# ------------------------------------------------------------------ validation

@pytest.mark.parametrize(("members", "reason"), [
    ({"q": "(fill>3"}, "q"),
    ({"q": "fill=="}, "q"),
    ({"notification": {"format": "xml", **HTTP}}, "format"),
    ({"notification": {"endpoint": {"uri": "ftp://host/x"}}}, "scheme"),
    ({"notification": {"endpoint": {"uri": "mqtt://host:1883/"}}}, "topic"),
    ({"notification": {"endpoint": {"uri": "mqtt://host/a/#"}}}, "topic"),
    ({"notification": {"endpoint": {"uri": "http://h/", "accept": "text/html"}}}, "accept"),
    ({"notification": {"endpoint": {"uri": "http://h/", "receiverInfo": [{"key": 1}]}}},
     "receiverInfo"),
    ({"notification": {"endpoint": {"uri": "mqtt://h/t",
                                    "notifierInfo": [{"key": "MQTT-QoS", "value": "3"}]}}},
     "MQTT-QoS"),
    ({"geoQ": {"georel": "near;maxDistance==10", "geometry": "Polygon",
               "coordinates": [[1, 2]]}}, "near"),
    ({"geoQ": {"georel": "within", "geometry": "Point"}}, "coordinates"),
    ({"scopeQ": "/a/#/b"}, "scopeQ"),
    ({"notificationTrigger": ["entityExploded"]}, "notificationTrigger"),
    ({"timeInterval": 10, "watchedAttributes": ["fill"]}, "timeInterval"),
    ({"throttling": -1}, "throttling"),
    ({"expiresAt": "2020-01-01T00:00:00Z"}, "past"),
    ({"isActive": "yes"}, "isActive"),
    ({"entities": [{"idPattern": "("}]}, "idPattern"),
    ({"entities": []}, "entities"),
    ({"status": "active"}, "read-only"),
    ({"colour": "red"}, "unknown"),
])
def test_invalid_subscriptions_are_refused_with_the_reason(members: dict[str, Any],
                                                           reason: str) -> None:
    with pytest.raises(BadRequestData, match=reason):
        sub(**members)


def test_needs_entities_or_watched_attributes_and_a_notification() -> None:
    with pytest.raises(BadRequestData, match="entities or watchedAttributes"):
        validate_document({"type": "Subscription", "notification": HTTP}, T0, creating=True)
    with pytest.raises(BadRequestData, match="notification"):
        validate_document({"type": "Subscription", "watchedAttributes": ["a"]}, T0,
                          creating=True)


def test_defaults() -> None:
    s = sub()
    assert s.id.startswith("urn:ngsi-ld:Subscription:")
    assert s.triggers == frozenset(DEFAULT_TRIGGERS)
    assert (s.format, s.endpoint.accept, s.is_active) == ("normalized", "application/json", True)


def test_update_merges_notification_members_and_null_removes() -> None:
    doc = validate_document({"type": "Subscription", "entities": [{"type": "Bin"}],
                             "q": "fill>1", "notification": {**HTTP, "format": "concise"}},
                            T0, creating=True)
    merged = merge_update(doc, {"q": None, "notification": {"sysAttrs": True}})
    assert "q" not in merged
    assert merged["notification"]["format"] == "concise"
    assert merged["notification"]["sysAttrs"] is True
    with pytest.raises(BadRequestData, match="id"):
        merge_update(doc, {"id": "urn:other"})


# -------------------------------------------------------------------- matching

def test_default_triggers_fire_on_create_and_update_not_delete() -> None:
    s, e = sub(), entity()
    assert fires(s, None, e)
    assert fires(s, e, update(e, fill={"type": "Property", "value": 5}))
    assert not fires(s, e, None)


def test_each_notification_trigger() -> None:
    e = entity()
    added = update(e, temp={"type": "Property", "value": 1})
    changed = update(e, fill={"type": "Property", "value": 5})
    removed = mut.delete_attr(e["id"], NS + "fill", T1)(e)
    cases = {
        "entityCreated": (None, e),
        "entityDeleted": (e, None),
        "attributeCreated": (e, added),
        "attributeUpdated": (e, changed),
        "attributeDeleted": (e, removed),
    }
    for trigger, (before, after) in cases.items():
        s = sub(notificationTrigger=[trigger])
        assert fires(s, before, after), trigger
        others = [v for k, v in cases.items() if k != trigger]
        assert not any(fires(s, b, a) for b, a in others if trigger != "attributeCreated"
                       or b is not None), trigger
    upd = sub(notificationTrigger=["entityUpdated"])
    assert all(fires(upd, e, a) for a in (added, changed, removed))
    assert not fires(upd, None, e) and not fires(upd, e, None)


def test_watched_attributes_limit_the_attribute_triggers() -> None:
    e = entity(temp={"type": "Property", "value": 1})
    s = sub(watchedAttributes=["temp"])
    assert not fires(s, e, update(e, fill={"type": "Property", "value": 5}))
    assert fires(s, e, update(e, temp={"type": "Property", "value": 2}))


def test_selectors_q_geo_and_scope() -> None:
    e = entity(fill=80, location={"type": "GeoProperty",
                                  "value": {"type": "Point", "coordinates": [5.0, 45.0]}},
               scope="/FR/01/a")
    assert fires(sub(entities=[{"id": "urn:ngsi-ld:Bin:1"}]), None, e)
    assert not fires(sub(entities=[{"id": "urn:ngsi-ld:Bin:2"}]), None, e)
    assert fires(sub(entities=[{"idPattern": "urn:ngsi-ld:Bin:.*"}]), None, e)
    assert not fires(sub(entities=[{"idPattern": "Bin:1"}]), None, e)  # a full match
    assert not fires(sub(entities=[{"type": "Lamp"}]), None, e)
    assert fires(sub(entities=[{"type": "Lamp"}, {"type": "Bin"}]), None, e)
    assert fires(sub(q="fill>50"), None, e)
    assert not fires(sub(q="fill>90"), None, e)
    near = {"georel": "near;maxDistance==1000", "geometry": "Point", "coordinates": [5.0, 45.005]}
    far = {**near, "coordinates": [6.0, 45.0]}
    assert fires(sub(geoQ=near), None, e)
    assert not fires(sub(geoQ=far), None, e)
    assert fires(sub(scopeQ="/FR/#"), None, e)
    assert not fires(sub(scopeQ="/DE/#"), None, e)


def test_inactive_and_expired_subscriptions_are_silent() -> None:
    e = entity()
    assert not fires(sub(isActive=False), None, e)
    s = sub(expiresAt=T2)
    assert fires(s, None, e, now=T1)
    assert not fires(s, None, e, now=T2)
    assert s.status_at(T2) == "expired"


def test_a_write_that_changes_nothing_notifies_nobody() -> None:
    e = entity()
    assert not fires(sub(notificationTrigger=[*DEFAULT_TRIGGERS, "entityUpdated"]), e, e)


# ------------------------------------------------------------------- rendering

def rendered(s: Subscription, before: Any, after: Any) -> dict[str, Any]:
    change = Change("urn:ngsi-ld:Bin:1", before, after)
    return render_change(s, change, diff_of(change), TERMS, T1)


def test_formats_projection_and_sys_attrs() -> None:
    e = entity(fill=80, temp={"type": "Property", "value": 3})
    assert rendered(sub(notification={**HTTP, "format": "keyValues"}), None, e) == {
        "id": "urn:ngsi-ld:Bin:1", "type": "Bin", "fill": 80, "temp": 3}
    assert rendered(sub(notification={**HTTP, "format": "concise",
                                      "attributes": ["temp"]}), None, e) == {
        "id": "urn:ngsi-ld:Bin:1", "type": "Bin", "temp": 3}
    normal = rendered(sub(notification={**HTTP, "sysAttrs": True}), None, e)
    assert normal["fill"] == {"type": "Property", "value": 80, "createdAt": T0,
                              "modifiedAt": T0}
    assert normal["createdAt"] == T0


def test_show_changes_carries_the_previous_value() -> None:
    e = entity(fill=80)
    after = update(e, fill={"type": "Property", "value": 90})
    s = sub(notification={**HTTP, "showChanges": True})
    assert rendered(s, e, after)["fill"] == {"type": "Property", "value": 90,
                                             "previousValue": 80}
    concise = sub(notification={**HTTP, "showChanges": True, "format": "concise"})
    assert rendered(concise, e, after)["fill"] == {"value": 90, "previousValue": 80}
    assert rendered(sub(), e, after)["fill"] == {"type": "Property", "value": 90}


def test_deleted_attribute_and_entity() -> None:
    e = entity(temp={"type": "Property", "value": 3})
    removed = mut.delete_attr(e["id"], NS + "temp", T1)(e)
    s = sub(notificationTrigger=["attributeDeleted"])
    assert rendered(s, e, removed)["temp"] == {"type": "Property", "value": NULL}
    gone = rendered(sub(notificationTrigger=["entityDeleted"]), e, None)
    assert gone == {"id": "urn:ngsi-ld:Bin:1", "type": "Bin", "deletedAt": T1}


def test_outgoing_headers_and_mqtt_envelope() -> None:
    s = sub(notification={"endpoint": {
        "uri": "http://h:1/n", "receiverInfo": [{"key": "X-Key", "value": "v"}]}})
    msg = outgoing(s, "commune-a", [{"id": "x"}], T1, "urn:ngsi-ld:Notification:1")
    assert msg.headers["X-Key"] == "v" and msg.headers["NGSILD-Tenant"] == "commune-a"
    assert "rel=\"http://www.w3.org/ns/json-ld#context\"" in msg.headers["Link"]
    assert orjson.loads(msg.payload) == {
        "id": "urn:ngsi-ld:Notification:1", "type": "Notification", "subscriptionId": s.id,
        "notifiedAt": T1, "data": [{"id": "x"}]}
    ld = sub(notification={"endpoint": {"uri": "mqtt://h/t", "accept": "application/ld+json"}})
    body = orjson.loads(outgoing(ld, "", [], T1).payload)
    assert body["metadata"]["Content-Type"] == "application/ld+json"
    assert "@context" in body["body"] and "Link" not in body["metadata"]
