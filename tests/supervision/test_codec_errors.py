"""The codec error rate rule kind: pure evaluation over simulated message outcomes, its
defaults for every built-in model, and end to end: simulated ChirpStack uplinks of a
street light, some garbled, through the real ingestion pipeline raise the alarm on the
device, and healthy messages clear it."""

from __future__ import annotations

import datetime as dt
import re
import time
import tomllib
from collections.abc import Iterator
from typing import Any

import pytest
from admin_client import admin_client
from starlette.testclient import TestClient

from bocage.api.app import create_app
from bocage.codecs.registry import builtin_folders, builtin_registry
from bocage.domain.errors import BadRequestData
from bocage.ingest.deadletters import CODEC_ERROR, OUT_OF_RANGE, UNKNOWN_DEVICE, NewDeadLetter
from bocage.ingest.outcomes import outcomes
from bocage.ingest.record import Uplink
from bocage.settings import Settings
from bocage.simulator.encoding import encoders
from bocage.simulator.envelope import up_event
from bocage.storage.base import Store
from bocage.supervision.defaults import CODEC_ERROR_MODELS, DEFAULT_RULES
from bocage.supervision.rules import Snapshot, State, compile_rule, evaluate

H = 3_600_000


def codec_rule(**params: Any) -> Any:
    return compile_rule({"id": "c", "target": {"type": "Device"},
                         "condition": {"kind": "codec_errors", **params}})


def feed(rule: Any, batches: list[list[tuple[int, bool]]], now_of: Any = None) -> list[str]:
    state, seen = State(), []
    for i, batch in enumerate(batches):
        now = now_of(i) if now_of else max(t for t, _ in batch)
        state, decision = evaluate(rule, state, Snapshot("urn:ngsi-ld:Device:X", "Device", {},
                                                         messages=tuple(batch)), now)
        seen.append(decision.action)
    return seen


def test_a_device_whose_messages_fail_raises_then_clears_when_they_read_again() -> None:
    r = codec_rule(above=0.2, window_s=86400, min_messages=10)
    # one message every 15 min; every third one unreadable (33 %) from the start
    garbled = [[(i * 900_000, i % 3 == 0)] for i in range(12)]
    actions = feed(r, garbled)
    assert actions[:9] == ["none"] * 9  # not judged before 10 messages
    assert actions[9] == "raise" and "raise" not in actions[10:]
    # then readable again: the share falls under 20 % as the good ones pile up
    state = State()
    for batch in garbled:
        state, _ = evaluate(r, state, Snapshot("d", "Device", {}, messages=tuple(batch)),
                            batch[0][0])
    assert state.active
    cleared_at = None
    for i in range(12, 80):
        state, decision = evaluate(r, state, Snapshot("d", "Device", {},
                                                      messages=((i * 900_000, False),)),
                                   i * 900_000)
        if decision.action == "clear":
            cleared_at = i
            break
    assert cleared_at is not None
    failed = sum(1 for i in range(12) if i % 3 == 0)
    # cleared at the first message where failed / all <= 20 %
    assert failed / (cleared_at + 1) <= 0.2 < failed / cleared_at


def test_old_messages_leave_the_window() -> None:
    r = codec_rule(above=0.5, window_s=3600, min_messages=4)
    bad = [(i * 60_000, True) for i in range(6)]  # six failures in six minutes
    state, decision = evaluate(r, State(), Snapshot("d", "Device", {}, messages=tuple(bad)),
                               6 * 60_000)
    assert decision.action == "raise"
    # two hours later, four good messages: the failures are out of the window
    good = tuple((2 * H + i * 60_000, False) for i in range(4))
    state, decision = evaluate(r, state, Snapshot("d", "Device", {}, messages=good),
                               2 * H + 4 * 60_000)
    assert decision.action == "clear"
    assert "0% of 4 messages" in decision.message


@pytest.mark.parametrize(("params", "reason"), [
    ({"above": 1.5}, "share from 0 to 1"),
    ({"window_s": 0}, "positive window_s"),
    ({"min_messages": 0}, "min_messages >= 1"),
    ({"min_messages": 2.5}, "min_messages >= 1"),
    ({"reasons": ["x"]}, "no parameter reasons"),
])
def test_a_bad_codec_errors_rule_is_refused(params: dict[str, Any], reason: str) -> None:
    with pytest.raises(BadRequestData, match=reason):
        codec_rule(**params)


def test_defaults_cover_every_built_in_model() -> None:
    models = {tomllib.loads((f / "manifest.toml").read_text())["id"] for f in builtin_folders()}
    assert set(CODEC_ERROR_MODELS) == models
    watched = {r.target.model for r in DEFAULT_RULES if r.condition.kind == "codec_errors"}
    assert watched == models


def uplink(seq_eui: str, event: str = "up") -> Uplink:
    return Uplink("chirpstack", event, seq_eui, "app", f"k{seq_eui}{event}",
                  "2026-11-26T10:00:00.000Z")


def test_outcomes_count_unreadable_messages_only() -> None:
    batch = [(1, uplink("A")), (2, uplink("A")), (3, uplink("B")), (4, uplink("A", "join")),
             (5, uplink("C"))]
    dead = [NewDeadLetter(batch[1][1], CODEC_ERROR, "bad", 2),
            NewDeadLetter(batch[2][1], OUT_OF_RANGE, "big", 3),
            NewDeadLetter(batch[4][1], UNKNOWN_DEVICE, "who?", 5)]
    got = [(o.dev_eui, o.failed) for o in outcomes(batch, dead)]
    assert got == [("A", False), ("A", True), ("B", True)]
    assert outcomes(batch, dead)[0].at_ms == int(
        dt.datetime(2026, 11, 26, 10, tzinfo=dt.UTC).timestamp() * 1000)


# ------------------------------------------------------------------ end to end

EUI = "B0CA6E00C0DEC0DE"
A = "/FR/01/240100883/01004"


@pytest.fixture
def api(settings: Settings, store: Store) -> Iterator[TestClient]:
    with admin_client(create_app(settings.replace(chirpstack_secret="cs"), store)) as c:
        yield c


def send(c: TestClient, t: float, payload: bytes) -> None:
    body = up_event(EUI, "bocage-sl1", "lampadaire", t, 10, payload, seed=7)
    r = c.post("/ingest/chirpstack?event=up", json=body, headers={"Authorization": "Bearer cs"})
    assert r.status_code == 202, r.text


def idle(c: TestClient) -> None:
    app: Any = c.app
    assert app.state.ingestion.wait_idle(20)
    assert app.state.supervisor.wait_idle(20)


def test_simulated_garbled_uplinks_raise_the_alarm_on_the_device_and_good_ones_clear_it(
        api: TestClient) -> None:
    r = api.post("/ngsi-ld/v1/entities", json={"id": "urn:ngsi-ld:Streetlight:01004-c",
                                               "type": "Streetlight", "scope": A})
    assert r.status_code == 201, r.text
    r = api.post("/api/devices", json={"devEui": EUI, "model": "bocage-sl1",
                                       "assetId": "urn:ngsi-ld:Streetlight:01004-c",
                                       "scope": A})
    assert r.status_code == 201, r.text
    encode = encoders(builtin_registry())["bocage-sl1"]
    start = time.time() - 30 * 60  # the last half hour, one message a minute
    values = {"powerState": "on", "lampStatus": "ok", "dimmingLevel": 80, "power": 35.0,
              "energy": 1200.0}
    for i in range(20):
        _, payload = encode(values)
        if i % 4 == 1:
            payload = payload[:5]  # truncated on the air: a codec error
        elif i % 4 == 3:
            payload = payload[:1] + bytes([250]) + payload[2:]  # dimming 250 %: out of range
        send(api, start + i * 60, payload)
    idle(api)
    letters = api.get("/api/dead-letters").json()
    assert {x["reason"] for x in letters} == {"codec-error", "out-of-range"}
    [alarm] = api.get("/api/alarms", params={"status": "active"}).json()
    assert (alarm["rule"], alarm["source"], alarm["severity"]) == (
        "codec-errors-sl1", "urn:ngsi-ld:Device:" + EUI, "minor")
    assert alarm["scope"] == [A]
    # judged from the model's 12th message on (outcomes come per ingestion batch)
    found = re.match(r"(\d+)% of (\d+) messages not decoded", alarm["description"])
    assert found is not None, alarm["description"]
    assert int(found[1]) > 20 and int(found[2]) >= 12
    # readable again: 20 good messages later the share is 10/40 (still above), 60 later
    # 10/80 = 12.5 %: cleared by itself on the way
    for i in range(20, 80):
        _, payload = encode(values)
        send(api, start + 1200 + (i - 20) * 10, payload)
    idle(api)
    [done] = api.get("/api/alarms").json()
    assert done["status"] == "cleared"
    assert [e["action"] for e in done["events"]] == ["raised", "cleared"]
