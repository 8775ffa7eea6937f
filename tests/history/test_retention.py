"""Retention policies: resolution order, validation, plans by age, guarded changes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bocage.domain.errors import BadRequestData
from bocage.history.retention import (
    DAY_MS,
    DEFAULT_POLICIES,
    GLOBAL_DEFAULT,
    Action,
    Policy,
    guard_change,
    plan,
    resolve,
    shortened,
)

NOW = 1_780_000_000_000


def policy(entity_type: str | None = None, attribute: str | None = None,
           scope: str | None = None, raw: int | None = 90, hourly: int | None = 730,
           daily: int | None = None) -> Policy:
    return Policy(entity_type, attribute, scope, raw, hourly, daily)


def test_defaults_are_valid_and_cover_every_equipment_family() -> None:
    for p in DEFAULT_POLICIES:
        p.validate()
    types = {p.entity_type for p in DEFAULT_POLICIES}
    for family in ("Streetlight", "WaterConsumptionObserved", "WasteContainer", "ParkingSpot",
                   "IndoorEnvironmentObserved", "AirQualityObserved", "WaterObserved",
                   "FloodMonitoring", "EVChargingStation", "PhotovoltaicMeasurement", "Device"):
        assert family in types
    assert resolve(DEFAULT_POLICIES, "SomethingNew", "x", None) == GLOBAL_DEFAULT
    assert policy() == GLOBAL_DEFAULT


def test_most_specific_wins_in_the_documented_order() -> None:
    by_type = policy("WaterMeter", raw=1000, hourly=2000)
    by_attr = policy(None, "temperature", raw=10, hourly=20)
    by_both = policy("WaterMeter", "temperature", raw=5, hourly=6)
    by_scope = policy(None, None, "/FR/01", raw=7, hourly=8)
    deeper = policy(None, None, "/FR/01/200071751", raw=9, hourly=10)
    all_ = [GLOBAL_DEFAULT, by_type, by_attr, by_both, by_scope, deeper]
    assert resolve(all_, "WaterMeter", "temperature", "/FR/01/200071751") == by_both
    assert resolve(all_, "WaterMeter", "index", "/FR/01/200071751") == by_type  # type > scope
    assert resolve(all_, "Classroom", "temperature", "/FR/01") == by_attr  # attribute > type
    assert resolve(all_, "Classroom", "co2", "/FR/01/200071751") == deeper
    assert resolve(all_, "Classroom", "co2", "/FR/01/999") == by_scope
    assert resolve(all_, "Classroom", "co2", "/FR/010") == GLOBAL_DEFAULT  # not a prefix
    assert resolve(all_, "Classroom", "co2", None) == GLOBAL_DEFAULT  # unscoped series


def test_on_a_tie_the_later_policy_wins_so_operators_override_defaults() -> None:
    mine = policy("Streetlight", raw=30, hourly=60)
    assert resolve([*DEFAULT_POLICIES, mine], "Streetlight", "powerState", None) == mine
    assert resolve([mine, *DEFAULT_POLICIES], "Streetlight", "powerState", None) != mine


def test_expanded_type_iris_match_their_short_name() -> None:
    iri = "https://smartdatamodels.org/dataModel.Streetlighting/Streetlight"
    assert resolve(DEFAULT_POLICIES, iri, "powerState", None).entity_type == "Streetlight"


@pytest.mark.parametrize(("raw", "hourly", "daily", "message"), [
    (-1, 730, None, "raw_days"),
    (0, 730, None, "at least 1"),
    (90, 30, None, "hourly_days .* must not be shorter than raw_days"),
    (None, 730, None, "hourly_days"),
    (90, 730, 365, "daily_days"),
    (90, None, 3650, "daily_days"),
    (90, 0, 30, "daily_days .* raw_days"),
])
def test_incoherent_policies_are_refused(raw: int | None, hourly: int | None,
                                         daily: int | None, message: str) -> None:
    with pytest.raises(BadRequestData, match=message):
        policy(raw=raw, hourly=hourly, daily=daily).validate()


def test_a_scope_is_a_path() -> None:
    with pytest.raises(BadRequestData, match="scope"):
        policy(scope="FR/01").validate()


def test_plan_by_age() -> None:
    p = policy(raw=90, hourly=730, daily=None)
    assert plan(p, NOW, NOW - 89 * DAY_MS) is Action.KEEP
    assert plan(p, NOW, NOW - 90 * DAY_MS) is Action.ROLL_HOURLY
    assert plan(p, NOW, NOW - 800 * DAY_MS) is Action.ROLL_DAILY
    assert plan(p, NOW, NOW - 800 * DAY_MS, "hourly") is Action.ROLL_DAILY
    assert plan(p, NOW, NOW - 700 * DAY_MS, "hourly") is Action.KEEP
    assert plan(p, NOW, NOW - 10**6 * DAY_MS, "daily") is Action.KEEP
    limited = policy(raw=30, hourly=365, daily=1825)
    assert plan(limited, NOW, NOW - 2000 * DAY_MS) is Action.DROP
    assert plan(limited, NOW, NOW - 2000 * DAY_MS, "daily") is Action.DROP
    no_hourly = policy(raw=30, hourly=0, daily=365)
    assert plan(no_hourly, NOW, NOW - 31 * DAY_MS) is Action.ROLL_DAILY
    forever = policy(raw=None, hourly=None, daily=None)
    assert plan(forever, NOW, 0) is Action.KEEP
    with pytest.raises(ValueError, match="tier"):
        plan(p, NOW, NOW, "weekly")


@given(st.integers(0, 5000), st.sampled_from(DEFAULT_POLICIES), st.sampled_from(
    ["raw", "hourly", "daily"]))
def test_plans_only_ever_move_data_to_coarser_tiers_and_never_drop_young_data(
        age_days: int, p: Policy, tier: str) -> None:
    action = plan(p, NOW, NOW - age_days * DAY_MS, tier)
    windows = {"raw": p.raw_days, "hourly": p.hourly_days, "daily": p.daily_days}
    if action is Action.DROP:
        later = ["raw", "hourly", "daily"][["raw", "hourly", "daily"].index(tier):]
        assert all(windows[t] is not None and age_days >= windows[t] for t in later)
    if tier == "daily":
        assert action in (Action.KEEP, Action.DROP)
    if tier == "hourly":
        assert action is not Action.ROLL_HOURLY


def test_a_change_that_shortens_a_window_needs_confirmation() -> None:
    old = policy(raw=90, hourly=730, daily=None)
    longer = policy(raw=180, hourly=730, daily=None)
    guard_change(old, longer, confirmed=False)  # keeping more is always fine
    shorter = policy(raw=30, hourly=730, daily=3650)
    assert shortened(old, shorter) == ["raw_days: 90 days -> 30 days",
                                       "daily_days: forever -> 3650 days"]
    with pytest.raises(BadRequestData, match="confirm") as caught:
        guard_change(old, shorter, confirmed=False)
    assert caught.value.extra["shortened"] == shortened(old, shorter)
    guard_change(old, shorter, confirmed=True)
    assert shortened(old, policy(raw=90, hourly=0, daily=None)) == [
        "hourly_days: 730 days -> not kept"]
    assert shortened(policy(raw=90, hourly=0, daily=None), old) == []
    with pytest.raises(BadRequestData, match="raw_days"):
        guard_change(old, policy(raw=0), confirmed=True)  # never an invalid policy
