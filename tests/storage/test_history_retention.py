"""Retention and downsampling on both backends (the ``store`` fixture): policies
stored and listed, the job rolling raw chunks into hourly then daily summaries and
dropping what is past every window, and reads over the tiers."""

from __future__ import annotations

from typing import Any, cast

from bocage.domain.temporal import HistoryRange
from bocage.domain.timefmt import from_ms, to_ms
from bocage.history.aggregate import aggregate_summaries
from bocage.history.duration import parse_duration
from bocage.history.retention import DEFAULT_POLICIES, Policy
from bocage.ngsild import mutations as mut
from bocage.storage.base import Mutation, Store
from bocage.storage.history_base import HistoryStore

NS = "https://example.org/"
DEVICE = "https://smartdatamodels.org/dataModel.Device/Device"
E1 = "urn:ngsi-ld:Device:1"
DAY = 86_400_000
NOW = to_ms("2026-06-01T00:00:00Z")


def hist(store: Store) -> HistoryStore:
    return cast(HistoryStore, store)


def test_policies_are_stored_and_listed(store: Store) -> None:
    h = hist(store)
    assert h.retention_policies() == []
    p = Policy("WaterMeter", None, "/FR/01", 800, 1000, None)
    h.put_retention_policy(p)
    h.put_retention_policy(Policy(None, NS + "co2", None, 10, 20, 30))
    assert p in h.retention_policies() and len(h.retention_policies()) == 2
    h.put_retention_policy(Policy("WaterMeter", None, "/FR/01", 900, 1000, None))
    assert Policy("WaterMeter", None, "/FR/01", 900, 1000, None) in h.retention_policies()
    assert h.delete_retention_policy("WaterMeter", None, "/FR/01")
    assert not h.delete_retention_policy("WaterMeter", None, "/FR/01")
    assert h.retention_policies() == [Policy(None, NS + "co2", None, 10, 20, 30)]


def _write(store: Store, days_ago: list[int]) -> list[tuple[int, Any]]:
    """Readings every 15 minutes over one day, for each of ``days_ago``."""
    store.apply("", [Mutation(E1, mut.create({"id": E1, "type": [DEVICE]}, from_ms(NOW)))])
    points = []
    for ago in days_ago:
        base = NOW - ago * DAY
        for n in range(96):
            points.append((base + n * 900_000, float(n % 7)))
    stamp = from_ms(NOW - 3000 * DAY)
    hist(store).add_history("", E1, [
        (NS + "battery", {"type": "Property", "value": v, "observedAt": from_ms(t),
                          "createdAt": stamp, "modifiedAt": stamp}) for t, v in points])
    while hist(store).compact(NOW, 1000):
        pass
    return points


def test_retention_rolls_and_drops_by_policy(store: Store) -> None:
    h = hist(store)
    # Device: raw 30 days, hourly 365, daily 1825 (DEFAULT_POLICIES)
    points = _write(store, [2, 100, 400, 2000])
    rolled, dropped = h.apply_retention(NOW, DEFAULT_POLICIES, step=2)
    assert (rolled, dropped) == (2, 1)  # one chunk per day: two rolled, one dropped
    records = h.history("", E1, HistoryRange())[NS + "battery"]
    raw = [r for r in records if "bocage:summary" not in r.instance]
    hourly = [r for r in records if r.instance.get("bocage:summary", {}).get("tier") == "hourly"]
    daily = [r for r in records if r.instance.get("bocage:summary", {}).get("tier") == "daily"]
    assert len(raw) == 96  # the recent day, untouched
    assert len(hourly) == 24 and all(r.instance["bocage:summary"]["count"] == 4 for r in hourly)
    assert len(daily) == 1 and daily[0].instance["bocage:summary"]["count"] == 96
    assert daily[0].t == NOW - 400 * DAY
    # the hourly value is the bucket's mean
    first_hour = [v for t, v in points if NOW - 100 * DAY <= t < NOW - 100 * DAY + 3_600_000]
    assert hourly[0].instance["value"] == sum(first_hour) / len(first_hour)
    # aggregation over the tiers is exact for counts and sums
    series = h.history_columns("", E1, HistoryRange(attrs=frozenset({NS + "battery"})))
    [s] = series
    assert len(s.times) == 96 and len(s.buckets) == 25
    kept = [(t, v) for t, v in points if t >= NOW - 500 * DAY]
    result = aggregate_summaries(s.buckets, ["totalCount", "sum"], NOW - 500 * DAY,
                                 NOW - 3 * DAY, parse_duration("P1D"))
    assert sum(v for v, _, _ in result["totalCount"]) == 2 * 96
    assert sum(v for v, _, _ in result["sum"]) == sum(
        v for t, v in kept if t < NOW - 3 * DAY)
    # a second pass has nothing left to do
    assert h.apply_retention(NOW, DEFAULT_POLICIES) == (0, 0)
    # later, the hourly tier rolls into daily
    later = NOW + 300 * DAY
    rolled, _ = h.apply_retention(later, DEFAULT_POLICIES)
    assert rolled >= 24
    by_tier: dict[str, list[int]] = {}
    for r in h.history("", E1, HistoryRange())[NS + "battery"]:
        by_tier.setdefault(r.instance.get("bocage:summary", {}).get("tier", "raw"), []).append(r.t)
    # the day of 100 days ago is now daily; the recent day is hourly; nothing raw is left
    assert NOW - 100 * DAY in by_tier["daily"] and NOW - 400 * DAY in by_tier["daily"]
    assert all(t >= NOW - 2 * DAY for t in by_tier["hourly"]) and "raw" not in by_tier
    # deleting the history removes the tiers too
    assert h.delete_history("", E1) > 0
    assert h.history("", E1, HistoryRange()) == {}


def test_an_operator_policy_wins_over_the_defaults(store: Store) -> None:
    h = hist(store)
    _write(store, [100])
    keep_raw = Policy("Device", NS + "battery", None, 365, 730, None)
    h.put_retention_policy(keep_raw)
    assert h.apply_retention(NOW, [*DEFAULT_POLICIES, *h.retention_policies()]) == (0, 0)
    assert len(h.history("", E1, HistoryRange())[NS + "battery"]) == 96
