"""aggregatedValues on both backends, checked against a naive computation over the
same random readings, before and after compaction."""

from __future__ import annotations

import math
import random
import statistics
from typing import Any, cast

import pytest
from starlette.testclient import TestClient

from bocage.domain.timefmt import from_ms, to_ms
from bocage.storage.base import Store
from bocage.storage.history_base import HistoryStore

TEMPORAL = "/ngsi-ld/v1/temporal/entities"
E1 = "urn:ngsi-ld:AirQualityObserved:agg"
DAY = 86_400_000
T0 = to_ms("2026-03-01T00:00:00Z")
METHODS = ("totalCount", "distinctCount", "sum", "avg", "min", "max", "stddev", "sumsq")


def naive(values: list[float]) -> dict[str, Any]:
    return {
        "totalCount": len(values),
        "distinctCount": len(set(values)),
        "sum": sum(values),
        "avg": sum(values) / len(values),
        "min": min(values),
        "max": max(values),
        "stddev": statistics.stdev(values) if len(values) > 1 else None,
        "sumsq": sum(v * v for v in values),
    }


def close(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


@pytest.mark.parametrize("seed", [1, 2])
def test_aggregation_matches_a_naive_computation(
    client: TestClient, store: Store, seed: int
) -> None:
    rnd = random.Random(seed)
    times = sorted(rnd.sample(range(0, 5 * DAY, 60_000), 300))
    values = [rnd.choice((rnd.randint(300, 1500), round(rnd.uniform(300, 1500), 1)))
              for _ in times]
    instances = [{"type": "Property", "value": v, "observedAt": from_ms(T0 + t)}
                 for t, v in zip(times, values, strict=True)]
    r = client.post(TEMPORAL, json={"id": E1, "type": "AirQualityObserved", "co2": instances})
    assert r.status_code == 201, r.text
    start, end = T0 + DAY // 2, T0 + 4 * DAY + 3_600_000
    params = {"options": "aggregatedValues", "aggrMethods": ",".join(METHODS),
              "aggrPeriodDuration": "P1D", "timerel": "between",
              "timeAt": from_ms(start), "endTimeAt": from_ms(end)}

    def expected() -> dict[str, list[list[Any]]]:
        out: dict[str, list[list[Any]]] = {m: [] for m in METHODS}
        period = start
        while period < end:
            finish = min(period + DAY, end)
            inside = [v for t, v in zip(times, values, strict=True)
                      if period <= T0 + t < finish]
            if inside:
                for method, value in naive(inside).items():
                    out[method].append([value, from_ms(period), from_ms(finish)])
            period = finish
        return out

    want = expected()
    for compacted in (False, True):
        if compacted:
            assert cast(HistoryStore, store).compact(T0 + 400 * DAY) > 0
        r = client.get(f"{TEMPORAL}/{E1}", params=params)
        assert r.status_code == 200, r.text
        got = r.json()["co2"]
        assert got["type"] == "Property"
        for method in METHODS:
            assert len(got[method]) == len(want[method]) == 4, method
            for (value, a, b), (ref, ra, rb) in zip(got[method], want[method], strict=True):
                assert (a, b) == (ra, rb)
                assert close(value, ref), (method, value, ref)
    # the whole range as one period, in a query
    r = client.get(TEMPORAL, params={"type": "AirQualityObserved", "options": "aggregatedValues",
                                     "aggrMethods": "totalCount,max"})
    assert r.status_code == 200, r.text
    [entity] = r.json()
    assert entity["co2"]["totalCount"][0][0] == len(values)
    assert entity["co2"]["max"][0][0] == max(values)
    assert entity["co2"]["max"][0][1] == from_ms(T0 + times[0])
    r = client.get(f"{TEMPORAL}/{E1}", params={"format": "aggregatedValues",
                                               "aggrMethods": "totalCount",
                                               "aggrPeriodDuration": "PT0S"})
    assert r.json()["co2"]["totalCount"][0][0] == len(values)


def test_aggregation_over_months(client: TestClient) -> None:
    instances = [{"type": "Property", "value": 1, "observedAt": f"2026-{m:02d}-15T00:00:00Z"}
                 for m in (1, 2, 2, 3)]
    client.post(TEMPORAL, json={"id": E1, "type": "Meter", "index": instances})
    r = client.get(f"{TEMPORAL}/{E1}", params={
        "options": "aggregatedValues", "aggrMethods": "sum", "aggrPeriodDuration": "P1M",
        "timerel": "between", "timeAt": "2026-01-01T00:00:00Z",
        "endTimeAt": "2026-04-01T00:00:00Z"})
    assert r.status_code == 200, r.text
    assert r.json()["index"]["sum"] == [
        [1, "2026-01-01T00:00:00.000Z", "2026-02-01T00:00:00.000Z"],
        [2, "2026-02-01T00:00:00.000Z", "2026-03-01T00:00:00.000Z"],
        [1, "2026-03-01T00:00:00.000Z", "2026-04-01T00:00:00.000Z"],
    ]


@pytest.mark.parametrize("params", [
    {"options": "aggregatedValues"},
    {"options": "aggregatedValues", "aggrMethods": "median"},
    {"options": "aggregatedValues", "aggrMethods": "avg", "aggrPeriodDuration": "1 day"},
    {"options": "aggregatedValues", "aggrMethods": "avg", "aggrPeriodDuration": "P"},
    {"aggrPeriodDuration": "P1D"},
])
def test_aggregation_errors(client: TestClient, params: dict[str, str]) -> None:
    client.post(TEMPORAL, json={"id": E1, "type": "Meter",
                                "index": [{"type": "Property", "value": 1,
                                           "observedAt": "2026-01-01T00:00:00Z"}]})
    r = client.get(f"{TEMPORAL}/{E1}", params=params)
    assert r.status_code == 400, r.text
    assert r.json()["type"].endswith("BadRequestData")
