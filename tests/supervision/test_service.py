"""Supervision over a real store (SQLite and PostgreSQL): alarms and interventions as entities."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from bocage.domain.errors import BadRequestData, ResourceNotFound
from bocage.ngsild import mutations as mut
from bocage.ngsild.context import ContextResolver
from bocage.ngsild.parse import parse_entity
from bocage.storage.base import Mutation, Store
from bocage.supervision import records as rec
from bocage.supervision.service import Supervisor

T0 = dt.datetime(2026, 11, 24, 20, 0, tzinfo=dt.UTC)  # a Tuesday evening


class Clock:
    def __init__(self) -> None:
        self.at = T0

    def __call__(self) -> str:
        return self.at.strftime("%Y-%m-%dT%H:%M:%S.000Z")

    @property
    def ms(self) -> int:
        return int(self.at.timestamp() * 1000)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sup(store: Store, clock: Clock) -> Iterator[Supervisor]:
    resolver = ContextResolver(store_get=store.get_context, store_put=store.put_context,
                               timeout=1, max_bytes=1_000_000)
    yield Supervisor(store, resolver.core_term_map, clock, escalate_after_minutes=30)


def write(sup: Supervisor, clock: Clock, body: dict[str, Any]) -> None:
    """Merge a reading into the store, then hand it to the supervisor as the listener would."""
    entity = parse_entity(body, sup.terms)
    [after] = sup.store.apply("", [Mutation(entity["id"], mut.merge(entity, clock(),
                                                                       upsert=True))])
    assert isinstance(after, dict)
    sup.evaluate_entities("", [after], clock.ms)


def light(clock: Clock, state: str, watts: float) -> dict[str, Any]:
    at = clock()
    return {"id": "urn:ngsi-ld:Streetlight:01004-7", "type": "Streetlight",
            "scope": "/FR/01/240100883/01004",
            "powerState": {"type": "Property", "value": state, "observedAt": at},
            "powerConsumption": {"type": "Property", "value": watts, "unitCode": "WTT",
                                 "observedAt": at}}


def test_a_lamp_failure_raises_one_alarm_and_an_intervention_then_clears(
        sup: Supervisor, clock: Clock) -> None:
    write(sup, clock, light(clock, "on", 36.0))
    assert sup.alarms("") == []
    clock.at += dt.timedelta(minutes=10)
    write(sup, clock, light(clock, "on", 0.2))
    clock.at += dt.timedelta(minutes=10)
    write(sup, clock, light(clock, "on", 0.1))  # still failing: no second alarm
    [alarm] = sup.alarms("")
    assert (alarm.rule, alarm.status, alarm.severity) == ("lamp-failure", "active", "major")
    assert alarm.source == "urn:ngsi-ld:Streetlight:01004-7"
    assert alarm.scope == ("/FR/01/240100883/01004",)
    assert alarm.domain == "lighting"
    [work] = sup.interventions("")
    assert (work.status, work.alarm, work.equipment) == ("requested", alarm.id, alarm.source)
    # lighting, major: 72 hours from the raise
    assert work.due == (T0 + dt.timedelta(minutes=10, hours=72)).strftime(
        "%Y-%m-%dT%H:%M:%S.000Z")
    # the Alert is an NGSI-LD entity carrying the equipment's scope
    entity = sup.store.get("", alarm.id)
    assert entity is not None and entity["scope"] == ["/FR/01/240100883/01004"]
    clock.at += dt.timedelta(minutes=10)
    write(sup, clock, light(clock, "off", 0.0))
    [cleared] = sup.alarms("")
    assert cleared.status == "cleared"
    assert [e["action"] for e in cleared.events] == ["raised", "cleared"]
    clock.at += dt.timedelta(minutes=10)
    write(sup, clock, light(clock, "on", 0.0))  # fails again: a new alarm
    assert [a.status for a in sup.alarms("")] == ["active", "cleared"]


def test_operator_actions_on_an_alarm(sup: Supervisor, clock: Clock) -> None:
    write(sup, clock, light(clock, "on", 0.0))
    [alarm] = sup.alarms("")
    sup.change_alarm("", alarm.id, lambda a, at: rec.acknowledge(a, "agent", at))
    sup.change_alarm("", alarm.id, lambda a, at: rec.assign(a, "Entreprise Lumière", "agent", at))
    sup.change_alarm("", alarm.id, lambda a, at: rec.comment(a, "Lampe à changer", "agent", at))
    with pytest.raises(BadRequestData):
        sup.change_alarm("", alarm.id, lambda a, at: rec.acknowledge(a, "agent", at))
    done = sup.change_alarm("", alarm.id, lambda a, at: rec.clear(a, "agent", at, "réparé"))
    assert done.status == "cleared" and done.assignee == "Entreprise Lumière"
    assert [e["action"] for e in sup.alarm("", alarm.id).events] == [
        "raised", "acknowledged", "assigned", "comment", "cleared"]
    with pytest.raises(ResourceNotFound):
        sup.alarm("", "urn:ngsi-ld:Alert:nope")
    with pytest.raises(ResourceNotFound):
        sup.alarm("", "urn:ngsi-ld:Streetlight:01004-7")  # not an alarm


def test_unacknowledged_alarms_escalate(sup: Supervisor, clock: Clock) -> None:
    write(sup, clock, light(clock, "on", 0.0))
    clock.at += dt.timedelta(minutes=20)
    sup.tick(clock.ms)
    assert sup.alarms("")[0].severity == "major"
    clock.at += dt.timedelta(minutes=15)
    sup.tick(clock.ms)
    assert sup.alarms("")[0].severity == "critical"


def test_a_silent_device_is_found_by_the_timer(sup: Supervisor, clock: Clock) -> None:
    at = clock()
    write(sup, clock, {"id": "urn:ngsi-ld:Device:cam-1", "type": "Device",
                       "scope": "/FR/01/240100883/01004",
                       "deviceState": {"type": "Property", "value": "ok", "observedAt": at}})
    clock.at += dt.timedelta(hours=2)
    sup.tick(clock.ms)
    assert sup.alarms("") == []
    clock.at += dt.timedelta(hours=2)
    sup.tick(clock.ms)
    [alarm] = sup.alarms("")
    assert alarm.rule == "device-silent" and "no data" in alarm.description


def test_a_commune_agent_requests_an_intervention(sup: Supervisor, clock: Clock) -> None:
    write(sup, clock, light(clock, "on", 30.0))
    item = sup.request("", "urn:ngsi-ld:Streetlight:01004-7", "Mât penché", "agent-01004",
                       severity="minor")
    assert item.due == (T0 + dt.timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    planned = sup.change_intervention("", item.id, lambda i, at: rec.move(
        i, "planned", "ops", at, contractor="Élec 01", planned_for="2026-11-26T08:00:00Z"))
    assert (planned.status, planned.contractor) == ("planned", "Élec 01")
    with pytest.raises(BadRequestData):
        sup.change_intervention("", item.id, lambda i, at: rec.move(i, "done", "ops", at))
    sup.change_intervention("", item.id, lambda i, at: rec.move(i, "inProgress", "ops", at))
    done = sup.change_intervention("", item.id, lambda i, at: rec.move(i, "done", "ops", at))
    assert not done.open
    with pytest.raises(ResourceNotFound):
        sup.request("", "urn:ngsi-ld:Streetlight:none", "x", "agent")
    with pytest.raises(BadRequestData):
        sup.request("", "urn:ngsi-ld:Streetlight:01004-7", "   ", "agent")


def test_rules_are_stored_replace_defaults_and_refuse_bad_definitions(
        sup: Supervisor, clock: Clock) -> None:
    assert any(r.id == "lamp-failure" for r in sup.rules(""))
    sup.put_rule("", {"id": "lamp-failure", "enabled": False, "target": {"type": "Streetlight"},
                      "condition": {"kind": "lamp_failure"}})
    write(sup, clock, light(clock, "on", 0.0))
    assert sup.alarms("") == []
    fresh = Supervisor(sup.store, sup.terms, clock)  # another process: reads the stored rule
    assert not next(r for r in fresh.rules("") if r.id == "lamp-failure").enabled
    sup.delete_rule("", "lamp-failure")
    assert next(r for r in sup.rules("") if r.id == "lamp-failure").enabled
    with pytest.raises(BadRequestData):
        sup.put_rule("", {"id": "x", "target": {"type": "T"}, "condition": {"kind": "nope"}})
    with pytest.raises(ResourceNotFound):
        sup.delete_rule("", "never-existed")


def bin_body(n: int, level: float) -> dict[str, Any]:
    return {"id": f"urn:ngsi-ld:WasteContainer:memo-{n}", "type": "WasteContainer",
            "fillingLevel": {"type": "Property", "value": level}}


def test_only_states_with_something_to_remember_are_held(sup: Supervisor, clock: Clock) -> None:
    # bin-full (fillingLevel >= 0.9 for 15 minutes): 50 bins well below it leave nothing
    # to remember; 5 above it are waiting for the 15 minutes to pass
    for n in range(50):
        write(sup, clock, bin_body(n, 0.3))
    assert sup.held_states("") == 0
    for n in range(5):
        write(sup, clock, bin_body(n, 0.95))
    assert sup.held_states("") == 5
    clock.at += dt.timedelta(minutes=20)
    write(sup, clock, bin_body(0, 0.97))  # held 20 minutes: raised
    [alarm] = sup.alarms("")
    assert alarm.source == "urn:ngsi-ld:WasteContainer:memo-0"
    write(sup, clock, bin_body(1, 0.2))  # back below before the 15 minutes: forgotten
    assert sup.held_states("") == 4
    write(sup, clock, bin_body(0, 0.5))  # below the hysteresis band: cleared, forgotten
    assert sup.held_states("") == 3
    assert sup.alarms("", status=rec.ALARM_OPEN) == []


@pytest.mark.parametrize("deleted", [False, True])
def test_message_outcomes_use_the_device_as_last_changed(sup: Supervisor, clock: Clock,
                                                         deleted: bool) -> None:
    """The outcomes that follow a device's changes are judged on its last change (no
    store read); a device deleted since is not judged at all."""
    from bocage.devices.records import MODEL_PREFIX, device_id
    from bocage.ingest.outcomes import Outcome

    eui = "70B3D57ED0000A01"
    body = {"id": device_id(eui), "type": "Device",
            "refDeviceModel": {"type": "Relationship", "object": MODEL_PREFIX + "bocage-sl1"}}
    entity = parse_entity(body, sup.terms)
    [after] = sup.store.apply("", [Mutation(entity["id"], mut.merge(entity, clock(),
                                                                       upsert=True))])
    assert isinstance(after, dict)
    sup.start()
    try:
        sup.changed("", [(entity["id"], None, after)], lambda: None)
        if deleted:
            sup.store.apply("", [Mutation(entity["id"], mut.delete_entity(entity["id"]))])
            sup.changed("", [(entity["id"], after, None)], lambda: None)
        # street lights: 12 messages in 24 h before judging, alarm above 20 % unreadable
        sup.messages_processed("", [Outcome(eui, clock.ms - k * 60_000, failed=True)
                                    for k in range(15)])
        assert sup.wait_idle()
    finally:
        sup.close()
    found = [a.rule for a in sup.alarms("")]
    assert found == ([] if deleted else ["codec-errors-sl1"])
