"""aggregatedValues on both backends, checked against a naive computation over the
same random readings, before and after compaction."""

from __future__ import annotations

import itertools
import math
import random
import statistics
from typing import Any, cast

import pytest
from starlette.testclient import TestClient

from bocage.api.temporal import aggregation_window
from bocage.api.temporal_params import parse_time_filter
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


@pytest.mark.parametrize(("period", "from_summaries"), [
    ("P1D", True), ("P2D", True), ("P1M", True), ("PT12H", False), ("", True)])
def test_whole_period_aggregations_read_chunk_summaries_and_stay_exact(
        client: TestClient, store: Store, period: str, from_summaries: bool) -> None:
    """Compacted day chunks inside one period are read as their stored summary; chunks
    cut by the window or by a period, and the uncompacted tail, as points. The answer is
    the naive one either way."""
    methods = [m for m in METHODS if m != "distinctCount"]
    rnd = random.Random(len(period))
    times = sorted(rnd.sample(range(0, 12 * DAY, 60_000), 900))
    values = [rnd.choice((rnd.randint(300, 1500), round(rnd.uniform(300, 1500), 1)))
              for _ in times]
    old = [(t, v) for t, v in zip(times, values, strict=True) if t < 9 * DAY]
    recent = [(t, v) for t, v in zip(times, values, strict=True) if t >= 9 * DAY]

    def post(points: list[tuple[int, Any]]) -> None:
        r = client.post(TEMPORAL, json={"id": E1, "type": "AirQualityObserved", "co2": [
            {"type": "Property", "value": v, "observedAt": from_ms(T0 + t)}
            for t, v in points]})
        assert r.status_code in (201, 204), r.text

    post(old)
    hist = cast(HistoryStore, store)
    assert hist.compact(T0 + 400 * DAY) > 0  # the first nine days in day chunks
    post(recent)  # the last three days stay in the tail
    start, end = T0, T0 + 11 * DAY + 5 * 3_600_000  # the end cuts a chunk and the tail
    params = {"options": "aggregatedValues", "aggrMethods": ",".join(methods),
              "timerel": "between", "timeAt": from_ms(start), "endTimeAt": from_ms(end)}
    if period:
        params["aggrPeriodDuration"] = period
    r = client.get(f"{TEMPORAL}/{E1}", params=params)
    assert r.status_code == 200, r.text
    got = r.json()["co2"]
    bounds = [start]
    step = {"P1D": DAY, "P2D": 2 * DAY, "PT12H": DAY // 2}.get(period)
    while bounds[-1] < end:
        bounds.append(min(bounds[-1] + step, end) if step else end)
    for method in methods:
        want = []
        for lo, hi in itertools.pairwise(bounds):
            inside = [v for t, v in zip(times, values, strict=True) if lo <= T0 + t < hi]
            if inside:
                want.append([naive(inside)[method], from_ms(lo), from_ms(hi)])
        assert len(got[method]) == len(want), method
        for (value, a, b), (w, wa, wb) in zip(got[method], want, strict=True):
            assert (a, b) == (wa, wb) and close(value, w), (method, a, value, w)
    # and the summaries were really used (or not) for the chunks inside one period
    terms = client.app.state.services.contexts.core_term_map  # type: ignore[attr-defined]
    window = aggregation_window(parse_time_filter(params, terms, 10_000),
                                from_ms(T0 + 20 * DAY))
    assert window.periods is not None
    [series] = hist.history_columns("", E1, window)
    assert (len(series.buckets) > 0) is from_summaries
    if from_summaries:
        assert len(series.times) < len(times) // 2  # most points never decoded
    else:
        assert len(series.times) == len([t for t in times if T0 + t < end])
