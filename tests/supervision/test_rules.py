"""Rule compilation and evaluation, against simulated readings."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from bocage.domain.errors import BadRequestData
from bocage.supervision.rules import (
    IDLE,
    Rule,
    Snapshot,
    State,
    compile_rule,
    days_until,
    evaluate,
    rule_to_json,
)

H = 3_600_000
T0 = int(dt.datetime(2026, 11, 23, 0, 0, tzinfo=dt.UTC).timestamp() * 1000)  # a Monday


def rule(condition: dict[str, Any], **extra: Any) -> Rule:
    return compile_rule({"id": "r1", "target": {"type": "Thing"}, "condition": condition,
                         **extra})


def snap(t: int | None = None, **values: Any) -> Snapshot:
    return Snapshot("urn:x", "Thing", {k: (v, t) for k, v in values.items()},
                    scope=("/FR/01/240100883/01004",))


def run(r: Rule, readings: list[tuple[int, dict[str, Any]]]) -> list[tuple[int, str]]:
    """Feed readings in order; the (time, action) of every raise and clear."""
    state, out = State(), []
    for t, values in readings:
        state, decision = evaluate(r, state, snap(t, **values), t)
        if decision.action != "none":
            out.append((t, decision.action))
    return out


def test_threshold_with_hysteresis_and_minimum_duration() -> None:
    r = rule({"kind": "threshold", "attribute": "fillingLevel", "op": ">=", "value": 0.8,
              "hysteresis": 0.1}, for_s=1800)
    readings = [(T0, {"fillingLevel": 0.5}), (T0 + H, {"fillingLevel": 0.85}),
                (T0 + H + 600_000, {"fillingLevel": 0.9}),  # 10 min: not yet
                (T0 + 2 * H, {"fillingLevel": 0.9}),  # 1 h above: raise
                (T0 + 3 * H, {"fillingLevel": 0.75}),  # inside the band: still raised
                (T0 + 4 * H, {"fillingLevel": 0.6})]  # below 0.7: clear
    assert run(r, readings) == [(T0 + 2 * H, "raise"), (T0 + 4 * H, "clear")]


def test_a_short_spike_does_not_raise_when_a_duration_is_asked() -> None:
    r = rule({"kind": "threshold", "attribute": "co2", "op": ">", "value": 1500}, for_s=900)
    assert run(r, [(T0, {"co2": 1600}), (T0 + 300_000, {"co2": 900}),
                   (T0 + H, {"co2": 1600})]) == []


def test_text_thresholds_compare_for_equality() -> None:
    r = rule({"kind": "threshold", "attribute": "status", "op": "==", "value": "defectiveLamp"})
    assert run(r, [(T0, {"status": "ok"}), (T0 + H, {"status": "defectiveLamp"}),
                   (T0 + 2 * H, {"status": "ok"})]) == [(T0 + H, "raise"), (T0 + 2 * H, "clear")]


def test_flood_rise_rate() -> None:
    r = rule({"kind": "rate", "attribute": "waterLevel", "rise": 0.2, "window_s": 3600})
    steady = [(T0 + i * 600_000, {"waterLevel": 1.0 + i * 0.001}) for i in range(6)]
    rising = [(T0 + H + i * 600_000, {"waterLevel": 1.0 + i * 0.05}) for i in range(1, 8)]
    events = run(r, steady + rising)
    assert events and events[0][1] == "raise"
    assert events[0][0] >= T0 + H + 2 * 600_000  # needs a few points of the rise


def test_silent_camera_is_raised_on_the_timer_and_cleared_by_its_next_message() -> None:
    r = rule({"kind": "silence", "factor": 3, "interval_s": 600})
    state = State()
    last = snap(T0, state="ok")
    state, d = evaluate(r, state, last, T0 + 20 * 60_000)  # 20 min: fine
    assert d.action == "none"
    state, d = evaluate(r, state, last, T0 + 31 * 60_000)  # the timer, 31 min later
    assert d.action == "raise" and "no data" in d.message
    state, d = evaluate(r, state, snap(T0 + 40 * 60_000, state="ok"), T0 + 40 * 60_000)
    assert d.action == "clear"


def test_low_battery_in_percent_or_ratio() -> None:
    r = rule({"kind": "battery_low", "below": 20})
    assert run(r, [(T0, {"batteryLevel": 0.5}), (T0 + H, {"batteryLevel": 0.15})]) == [
        (T0 + H, "raise")]
    assert run(r, [(T0, {"batteryLevel": 90}), (T0 + H, {"batteryLevel": 12})]) == [
        (T0 + H, "raise")]


def test_battery_trend_forecasts_the_end_of_life() -> None:
    # 1 % a day from 40 %: empty (5 %) in about 35 days
    points = [(T0 + d * 24 * H, 0.40 - d * 0.01) for d in range(10)]
    days = days_until(points, 0.05)
    assert days is not None and 25 < days < 27
    assert days_until(points[:2], 0.05) is None  # too few points
    assert days_until([(T0 + d * 24 * H, 0.9) for d in range(5)], 0.05) is None  # flat
    r = rule({"kind": "battery_trend", "days": 30, "level": 0.05})
    events = run(r, [(t, {"batteryLevel": v}) for t, v in points])
    assert events and events[0][1] == "raise"


def test_a_leak_over_three_nights() -> None:
    r = rule({"kind": "night_flow", "attribute": "flow", "above": 0.5, "nights": 3},
             severity="major")

    def night(day: int, low: float) -> list[tuple[int, dict[str, Any]]]:
        # readings every hour of a day; 2 h..4 h Paris time = 1 h..3 h UTC in winter
        base = T0 + day * 24 * H
        return [(base + h * H, {"flow": (low if 1 <= h <= 3 else 30.0)}) for h in range(24)]

    dry = night(0, 0.0) + night(1, 0.0)
    leaking = night(2, 1.2) + night(3, 1.1) + night(4, 1.3)
    events = run(r, dry + leaking)
    assert [a for _, a in events] == ["raise"]
    # the raise comes during the third leaking night, not before
    assert T0 + 4 * 24 * H <= events[0][0] < T0 + 5 * 24 * H
    repaired = run(r, dry + leaking + night(5, 0.0))
    assert [a for _, a in repaired] == ["raise", "clear"]


def test_lamp_failure_is_on_without_power() -> None:
    r = rule({"kind": "lamp_failure", "min_power": 5})
    assert run(r, [(T0, {"powerState": "on", "powerConsumption": 38.0}),
                   (T0 + H, {"powerState": "on", "powerConsumption": 0.4}),
                   (T0 + 2 * H, {"powerState": "off", "powerConsumption": 0.0})]) == [
        (T0 + H, "raise"), (T0 + 2 * H, "clear")]


def test_co2_only_counts_during_occupancy() -> None:
    r = rule({"kind": "occupied", "above": 1500})
    monday_10h = T0 + 9 * H  # 10:00 Paris
    sunday_10h = T0 - 24 * H + 9 * H
    monday_22h = T0 + 21 * H
    assert run(r, [(sunday_10h, {"co2": 2000}), (monday_22h - 7 * 24 * H, {"co2": 2100})]) == []
    assert run(r, [(monday_10h, {"co2": 1800})]) == [(monday_10h, "raise")]


def test_combinations() -> None:
    r = rule({"kind": "any", "conditions": [
        {"kind": "threshold", "attribute": "a", "op": ">", "value": 10},
        {"kind": "all", "conditions": [
            {"kind": "threshold", "attribute": "b", "op": ">", "value": 1},
            {"kind": "threshold", "attribute": "c", "op": "<", "value": 0}]}]})
    assert run(r, [(T0, {"a": 5, "b": 2, "c": 1})]) == []
    assert run(r, [(T0, {"a": 5, "b": 2, "c": -1})]) == [(T0, "raise")]
    assert run(r, [(T0, {"a": 11, "b": 0, "c": 1})]) == [(T0, "raise")]


def test_no_data_keeps_the_alarm_as_it_is() -> None:
    r = rule({"kind": "threshold", "attribute": "x", "op": ">", "value": 1}, auto_clear=True)
    state, d = evaluate(r, State(), snap(T0, x=5), T0)
    assert d.action == "raise"
    state, d = evaluate(r, state, snap(T0 + H, other=1), T0 + H)
    assert d.action == "none" and state.active


def test_manual_clear_rules_never_clear_by_themselves() -> None:
    r = rule({"kind": "threshold", "attribute": "x", "op": ">", "value": 1}, auto_clear=False)
    assert run(r, [(T0, {"x": 5}), (T0 + H, {"x": 0})]) == [(T0, "raise")]


def test_targets_match_type_model_scope_and_id() -> None:
    r = compile_rule({"id": "t", "target": {"scope": "/FR/01/240100883"},
                      "condition": {"kind": "battery_low"}})
    assert r.target.matches(snap(T0))
    assert not compile_rule({"id": "t", "target": {"scope": "/FR/01/2401008"},
                             "condition": {"kind": "battery_low"}}).target.matches(snap(T0))
    assert not compile_rule({"id": "t", "target": {"model": "bocage-sl1"},
                             "condition": {"kind": "battery_low"}}).target.matches(snap(T0))


def test_json_round_trip() -> None:
    data = {"id": "leak", "name": "Fuite", "target": {"type": "WaterConsumptionObserved"},
            "condition": {"kind": "night_flow", "above": 0.5, "nights": 3},
            "severity": "major", "for_s": 0, "intervention": True}
    r = compile_rule(data)
    assert compile_rule(rule_to_json(r)) == r


@pytest.mark.parametrize("bad, message", [
    ("nope", "JSON object"),
    ({"id": "a b", "target": {"type": "T"}, "condition": {"kind": "silence",
                                                          "interval_s": 1}}, "id"),
    ({"id": "r", "condition": {"kind": "silence", "interval_s": 1}}, "target"),
    ({"id": "r", "target": {"type": "T"}, "condition": {"kind": "magic"}}, "kind must be"),
    ({"id": "r", "target": {"type": "T"}, "condition": {"kind": "threshold",
                                                        "attribute": "x", "value": 1}},
     "needs op"),
    ({"id": "r", "target": {"type": "T"}, "condition": {"kind": "threshold", "attribute": "x",
                                                        "op": "~", "value": 1}}, "op must"),
    ({"id": "r", "target": {"type": "T"}, "condition": {"kind": "rate", "attribute": "x",
                                                        "rise": "fast"}}, "number"),
    ({"id": "r", "target": {"type": "T"}, "condition": {"kind": "all", "conditions": []}},
     "non-empty"),
    ({"id": "r", "target": {"type": "T"}, "condition": {"kind": "battery_low"},
      "severity": "huge"}, "severity"),
    ({"id": "r", "target": {"type": "T"}, "condition": {"kind": "night_flow", "above": 1,
                                                        "from_hour": 6, "to_hour": 2}},
     "from_hour"),
    ({"id": "r", "target": {"color": "T"}, "condition": {"kind": "battery_low"}}, "target"),
    ({"id": "r", "target": {"type": "T"}, "condition": {"kind": "battery_low", "x": 1}},
     "no parameter"),
])
def test_a_rule_that_cannot_compile_is_refused_with_the_reason(bad: object,
                                                               message: str) -> None:
    with pytest.raises(BadRequestData) as info:
        compile_rule(bad)
    assert message in str(info.value.detail)


def test_a_state_with_nothing_to_remember_is_the_idle_state() -> None:
    r = rule({"kind": "threshold", "attribute": "x", "op": ">", "value": 10}, for_s=60)
    state, d = evaluate(r, State(), snap(T0, x=5), T0)
    assert state is IDLE and state.idle and d.action == "none"
    state, d = evaluate(r, state, snap(T0, x=50), T0)  # holds, waiting for for_s
    assert not state.idle and state.since == T0 and d.action == "none"
    state, d = evaluate(r, state, snap(T0 + 70_000, x=51), T0 + 70_000)
    assert state.active and d.action == "raise"
    state, d = evaluate(r, state, snap(T0 + 80_000, x=2), T0 + 80_000)
    assert state is IDLE and d.action == "clear"
