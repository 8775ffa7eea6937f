"""Sobriety figures of both backends (the ``store`` fixture): readings kept raw, compacted
and summarised, what they cost on disk, and the database's size."""

from __future__ import annotations

from typing import cast

from bocage.domain.timefmt import from_ms, to_ms
from bocage.history.retention import DEFAULT_POLICIES
from bocage.ngsild import mutations as mut
from bocage.storage.base import Mutation, Store
from bocage.storage.history_base import HistoryStore
from bocage.storage.stats import StatsSource, StorageStats, stats_of

NS = "https://example.org/"
DEVICE = "https://smartdatamodels.org/dataModel.Device/Device"
DAY = 86_400_000
NOW = to_ms("2026-06-01T00:00:00Z")


def stats(store: Store) -> StorageStats:
    assert isinstance(store, StatsSource)
    return store.storage_stats()


def readings(store: Store, eid: str, days_ago: list[int], tenant: str = "") -> int:
    """96 readings a day (every 15 minutes) on each of ``days_ago``."""
    store.apply(tenant, [Mutation(eid, mut.create({"id": eid, "type": [DEVICE]},
                                                  from_ms(NOW)))])
    stamp = from_ms(NOW - 3000 * DAY)
    points = [(NOW - ago * DAY + n * 900_000, float(n % 7)) for ago in days_ago
              for n in range(96)]
    cast(HistoryStore, store).add_history(tenant, eid, [
        (NS + "battery", {"type": "Property", "value": v, "observedAt": from_ms(t),
                          "createdAt": stamp, "modifiedAt": stamp}) for t, v in points])
    return len(points)


def test_an_empty_store_has_zero_readings_and_some_size(store: Store) -> None:
    s = stats(store)
    assert (s.entities, s.tail_records, s.chunk_records, s.collected) == (0, 0, 0, 0)
    assert s.summary_rows == {} and s.database_bytes > 0


def test_readings_raw_compacted_and_summarised_are_counted(store: Store) -> None:
    h = cast(HistoryStore, store)
    n = readings(store, "urn:ngsi-ld:Device:1", [2, 100, 400, 2000])
    # a second tenant counts too: the figures are the platform's
    n += readings(store, "urn:ngsi-ld:Device:2", [1], tenant="other")
    s = stats(store)
    assert s.entities == 2 and s.tail_records == n and s.collected == n
    assert s.tail_payload_bytes > 20 * n and s.tail_bytes >= s.tail_payload_bytes
    while h.compact(NOW, 1000):
        pass
    s = stats(store)
    assert (s.tail_records, s.chunk_records, s.chunks) == (0, n, 5)
    assert 0 < s.chunk_payload_bytes < 10 * n  # compressed: a few bytes per reading
    assert s.chunk_bytes >= s.chunk_payload_bytes
    # retention: 100 days ago -> hourly (24 rows for 96 readings), 400 -> daily (1 for
    # 96), 2000 -> dropped (no longer accounted for)
    h.apply_retention(NOW, DEFAULT_POLICIES)
    s = stats(store)
    assert s.summary_rows == {"hourly": 24, "daily": 1}
    assert s.summarized_records == {"hourly": 96, "daily": 96}
    assert s.chunk_records == 2 * 96 and s.collected == 4 * 96
    assert s.kept_rows == 2 * 96 + 25 and s.summary_bytes > 0
    assert s.to_json()["collected"] == 4 * 96


def test_the_stats_are_found_through_the_apps_layers(store: Store) -> None:
    from bocage.security.scoped_store import PrincipalStore
    from bocage.storage.observed import ObservedStore

    wrapped = PrincipalStore(ObservedStore(store))
    found = stats_of(wrapped)
    assert found is not None and found.database_bytes == stats(store).database_bytes
    assert stats_of(object()) is None
