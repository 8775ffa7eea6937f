"""Recipients, alarm transitions, digests and French messages: the pure core."""

from __future__ import annotations

import re
from typing import Any

import pytest

from bocage.alerting.events import event_json, transition
from bocage.alerting.messages import document, render
from bocage.alerting.recipients import compile_recipient, recipient_to_json
from bocage.domain.errors import BadRequestData
from bocage.subscriptions.digest import digest_slot
from bocage.supervision import records as rec

EPCI = "/FR/01/240100883"
A, B = EPCI + "/01004", EPCI + "/01202"


def recipient(**extra: Any) -> dict[str, Any]:
    return {"id": "mairie", "channel": "email", "address": "mairie@example.org",
            "scope": A, **extra}


def test_a_recipient_round_trips_and_defaults() -> None:
    r = compile_recipient(recipient(domains=["lighting"], min_severity="major"))
    assert (r.channel, r.uri, r.min_severity, r.language) == (
        "email", "mailto:mairie@example.org", "major", "fr")
    assert compile_recipient(recipient_to_json(r)) == r
    assert r.events == ("raised", "escalated", "cleared")


@pytest.mark.parametrize(("extra", "reason"), [
    ({"channel": "sms"}, "channel must be one of"),
    ({"address": "not an address"}, "is not an e-mail address"),
    ({"channel": "webhook", "address": "ftp://x/y"}, "http(s) URL"),
    ({"channel": "mqtt", "address": "mqtt://broker"}, "mqtt[s]://host"),
    ({"channel": "mqtt", "address": "mqtt://broker/alarms/#"}, "no wildcard"),
    ({"scope": "FR/01"}, "scope must be a subtree"),
    ({"scope": "/"}, "scope must be a subtree"),
    ({"min_severity": "huge"}, "min_severity must be one of"),
    ({"domains": "lighting"}, "domains must be a list"),
    ({"events": ["acknowledged"]}, "events must be among"),
    ({"digest_minutes": -1}, "digest_minutes"),
    ({"language": "de"}, "language"),
    ({"colour": "red"}, "unknown member"),
    ({"id": "a b"}, "id of 1 to 64"),
])
def test_a_bad_recipient_is_refused_with_the_reason(extra: dict[str, Any], reason: str) -> None:
    with pytest.raises(BadRequestData, match=re.escape(reason)):
        compile_recipient(recipient(**extra))


def test_matching_by_subtree_severity_domain_and_type() -> None:
    epci = compile_recipient(recipient(scope=EPCI, min_severity="major"))
    commune = compile_recipient(recipient(domains=["water"], types=["WaterConsumptionObserved"]))
    assert epci.wants("raised", [A], "major", "lighting", "Streetlight")
    assert epci.wants("raised", [B], "critical", "water", "WaterConsumptionObserved")
    assert not epci.wants("raised", [A], "minor", "lighting", "Streetlight")
    assert not epci.wants("raised", ["/FR/01/200000000/01999"], "critical", "water", "X")
    assert not epci.wants("raised", [EPCI + "0/01004"], "critical", "water", "X")  # a prefix
    assert commune.wants("cleared", [A], "warning", "water", "WaterConsumptionObserved")
    assert not commune.wants("cleared", [A], "warning", "lighting", "Streetlight")
    assert not commune.wants("cleared", [B], "critical", "water", "WaterConsumptionObserved")
    only_raised = compile_recipient(recipient(events=["raised"]))
    assert not only_raised.wants("cleared", [A], "critical", "water", "X")
    off = compile_recipient(recipient(enabled=False))
    assert not off.wants("raised", [A], "critical", "water", "X")


def alarm(**changes: Any) -> rec.Alarm:
    a = rec.raise_alarm("lamp-failure", "Panne de lampe", "urn:ngsi-ld:Streetlight:7", (A,),
                        "major", "switched on, 0.2 W", "2026-11-26T14:05:00.000Z", "lighting")
    return rec.Alarm(**{**{f: getattr(a, f) for f in a.__slots__}, **changes})  # type: ignore[attr-defined]


def test_transitions_raised_escalated_cleared_and_silent_ones() -> None:
    raised = alarm()
    assert transition(None, raised).event == "raised"  # type: ignore[union-attr]
    escalated = rec.escalate(raised, "2026-11-26T14:40:00.000Z")
    t = transition(raised, escalated)
    assert t is not None and (t.event, t.previous_severity) == ("escalated", "major")
    acked = rec.acknowledge(escalated, "agent", "2026-11-26T14:45:00.000Z")
    assert transition(escalated, acked) is None
    assert transition(acked, rec.comment(acked, "on y va", "agent", "2026-11-26T15:00Z")) is None
    cleared = rec.clear(acked, "rule", "2026-11-26T16:00:00.000Z")
    assert transition(acked, cleared).event == "cleared"  # type: ignore[union-attr]
    assert transition(cleared, cleared) is None
    assert transition(raised, None) is None


def test_digest_slots_one_message_per_window() -> None:
    w = 600.0
    assert digest_slot(None, 1000.0, w) == 1000.0  # the first goes at once
    assert digest_slot(1000.0, 1001.0, w) == 1600.0  # the next waits for the window's end
    assert digest_slot(1600.0, 1300.0, w) == 1600.0  # and others join it
    assert digest_slot(1600.0, 1700.0, w) == 2200.0  # one left less than a window ago
    assert digest_slot(1600.0, 2300.0, w) == 2300.0  # quiet for a window: at once again
    assert digest_slot(1000.0, 1001.0, 0) == 1001.0  # no digest


def event(kind: str = "raised", at: str = "2026-11-26T14:05:00.000Z",
          **extra: Any) -> dict[str, Any]:
    t = transition(None, alarm())
    assert t is not None
    out = event_json(t, at, {"id": "urn:ngsi-ld:Streetlight:7", "name": "rue de la Gare n°7",
                             "type": "Streetlight"}, "Ambérieu-en-Bugey",
                     "https://bocage.example.fr/")
    return {**out, "event": kind, **extra}


def test_one_event_in_french_with_paris_time_commune_and_link() -> None:
    e = event()
    assert e["link"].startswith("https://bocage.example.fr/ui/alarmes/urn:ngsi-ld:Alert:")
    m = render([e], "fr", A, "Mairie d'Ambérieu")
    assert m.subject == ("[bocage] Nouvelle alarme (majeure) : Panne de lampe – "
                         "Point lumineux rue de la Gare n°7 (Ambérieu-en-Bugey)")
    assert "Commune : Ambérieu-en-Bugey (01004)" in m.text
    assert "Heure (Paris) : 26/11/2026 15:05" in m.text  # 14:05 UTC in winter
    assert e["link"] in m.text
    assert "Gravité : majeure" in m.text
    assert "Mairie d'Ambérieu" in m.text
    summer = render([event(at="2026-07-01T10:00:00Z")], "fr", A)
    assert "01/07/2026 12:00" in summer.text  # CEST
    english = render([e], "en", A)
    assert english.subject.startswith("[bocage] New alarm (major): Panne de lampe")


def test_a_digest_lists_every_change_oldest_first() -> None:
    events = [event("cleared", "2026-11-26T16:00:00Z"), event(),
              event("escalated", "2026-11-26T14:35:00Z", severity="critical",
                    previousSeverity="major")]
    m = render(events, "fr", A)
    assert m.subject == ("[bocage] 3 changements d'alarmes : 1 nouvelle(s), "
                         "1 aggravée(s), 1 levée(s)")
    first, second, third = (m.text.index(w) for w in
                            ("NOUVELLE ALARME", "ALARME AGGRAVÉE", "ALARME LEVÉE"))
    assert first < second < third
    assert "critique (auparavant : majeure)" in m.text
    doc = document(events, "mairie", "fr", A)
    assert doc["type"] == "AlarmNotification" and len(doc["events"]) == 3
    assert doc["subject"] == m.subject
