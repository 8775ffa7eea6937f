"""Territory aggregates (/api/aggregates) on both backends: compaction counts readings per
entity type x attribute x scope x day; the API answers per commune, EPCI or territory,
against a naive computation over the same readings, clipped to the caller's scopes."""

from __future__ import annotations

import itertools
import math
import random
from typing import Any, cast

import pytest
from starlette.testclient import TestClient

from bocage.domain.access import Grant
from bocage.domain.timefmt import from_ms, to_ms
from bocage.storage.base import Store
from bocage.storage.history_base import HistoryStore

TEMPORAL = "/ngsi-ld/v1/temporal/entities"
DAY = 86_400_000
T0 = to_ms("2026-01-01T00:00:00Z")
EPCI_A, EPCI_B = "/FR/01/240100883", "/FR/01/200029999"
COMMUNES = {f"{EPCI_A}/01004": 3, f"{EPCI_A}/01007": 2, f"{EPCI_B}/01304": 2}


def populate(client: TestClient, store: Store, days: int = 40,
             seed: int = 1) -> list[tuple[str, int, float]]:
    """PV meters in three communes (two EPCI) with activePower every 6 hours, compacted;
    returns (scope, t, value) of every reading."""
    rnd = random.Random(seed)
    readings = []
    for scope, count in COMMUNES.items():
        for k in range(count):
            eid = f"urn:ngsi-ld:PhotovoltaicMeasurement:{scope.rsplit('/', 1)[1]}-{k}"
            instances = []
            for step in range(days * 4):
                t = T0 + step * 6 * 3_600_000 + rnd.randint(0, 3_600_000)
                v = round(rnd.uniform(0, 40), 2)
                readings.append((scope, t, v))
                instances.append({"type": "Property", "value": v, "observedAt": from_ms(t)})
            r = client.post("/ngsi-ld/v1/entities", json={
                "id": eid, "type": "PhotovoltaicMeasurement", "scope": scope})
            assert r.status_code == 201, r.text
            r = client.post(TEMPORAL, json={"id": eid, "type": "PhotovoltaicMeasurement",
                                            "activePower": instances})
            assert r.status_code in (201, 204), r.text
    assert cast(HistoryStore, store).compact(T0 + 1000 * DAY, 100_000) > 0
    return readings


def ask(client: TestClient, **params: str) -> Any:
    base = {"type": "PhotovoltaicMeasurement", "attrs": "activePower",
            "aggrMethods": "totalCount,sum,avg,min,max,stddev",
            "timeAt": from_ms(T0), "endTimeAt": from_ms(T0 + 40 * DAY)}
    r = client.get("/api/aggregates", params={**base, **params})
    assert r.status_code == 200, r.text
    return r.json()


def naive(values: list[float]) -> dict[str, Any]:
    n = len(values)
    mean = sum(values) / n
    return {"totalCount": n, "sum": sum(values), "avg": mean, "min": min(values),
            "max": max(values),
            "stddev": math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))}


def close(a: Any, b: Any) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)


@pytest.mark.parametrize(("level", "period"), [("epci", "P1M"), ("commune", "P7D"),
                                               ("territory", "")])
def test_aggregates_per_level_match_the_readings(client: TestClient, store: Store,
                                                 level: str, period: str) -> None:
    readings = populate(client, store)
    params = {"level": level}
    if period:
        params["aggrPeriodDuration"] = period
    body = ask(client, **params)
    bounds = {"P1M": [T0, to_ms("2026-02-01T00:00:00Z"), T0 + 40 * DAY],
              "P7D": [*range(T0, T0 + 40 * DAY, 7 * DAY), T0 + 40 * DAY],
              "": [T0, T0 + 40 * DAY]}[period]

    def group(scope: str) -> str:
        return {"epci": scope.rsplit("/", 1)[0], "commune": scope, "territory": "/"}[level]

    groups = {g["scope"]: g for g in body["groups"]}
    assert set(groups) == {group(s) for s in COMMUNES}
    for key, g in groups.items():
        for m in ("totalCount", "sum", "avg", "min", "max", "stddev"):
            want = []
            for lo, hi in itertools.pairwise(bounds):
                inside = [v for s, t, v in readings if group(s) == key and lo <= t < hi]
                if inside:
                    want.append([naive(inside)[m], from_ms(lo), from_ms(hi)])
            assert len(g[m]) == len(want)
            for (v, a, b), (w, wa, wb) in zip(g[m], want, strict=True):
                assert (a, b) == (wa, wb) and close(v, w), (key, m, v, w)
    if level == "epci":
        assert groups[EPCI_A]["name"] == "CC de la Plaine de l'Ain"


def test_aggregates_see_only_what_the_caller_may_read(client: TestClient, store: Store) -> None:
    readings = populate(client, store, days=10)
    app = client.app
    security = app.state.security  # type: ignore[attr-defined]
    _, agent = security.create_key([Grant("agent", f"{EPCI_A}/01004")], name="a", by="t")
    with TestClient(app) as other:
        params = {"type": "PhotovoltaicMeasurement", "attrs": "activePower",
                  "aggrMethods": "totalCount,sum", "level": "epci", "scopeQ": "/FR/01",
                  "timeAt": from_ms(T0), "endTimeAt": from_ms(T0 + 10 * DAY)}
        r = other.get("/api/aggregates", params=params,
                      headers={"Authorization": f"Bearer {agent}"})
        assert r.status_code == 200, r.text
        [only] = r.json()["groups"]  # the EPCI, counting the agent's commune only
        assert only["scope"] == EPCI_A
        assert only["totalCount"][0][0] == sum(
            1 for s, _, _ in readings if s == f"{EPCI_A}/01004")
        anonymous = other.get("/api/aggregates", params=params)
        assert anonymous.status_code == 200 and anonymous.json()["groups"] == []
        # what can be asked: the pairs with rollups the caller may read
        listing = other.get("/api/aggregates", headers={"Authorization": f"Bearer {agent}"})
        assert listing.json() == {"available": [{"type": "PhotovoltaicMeasurement",
                                                 "attribute": "activePower"}]}
        assert other.get("/api/aggregates").json() == {"available": []}


def test_a_deleted_reading_leaves_the_counts(client: TestClient, store: Store) -> None:
    populate(client, store, days=3)
    eid = "urn:ngsi-ld:PhotovoltaicMeasurement:01304-0"
    before = ask(client, level="commune", scopeQ=f"{EPCI_B}/01304",
                 endTimeAt=from_ms(T0 + 3 * DAY))["groups"][0]
    r = client.get(f"{TEMPORAL}/{eid}", params={"attrs": "activePower", "lastN": "1"})
    instance = r.json()["activePower"]
    instance = instance[0] if isinstance(instance, list) else instance
    value = instance["value"]
    r = client.delete(f"{TEMPORAL}/{eid}/attrs/activePower/{instance['instanceId']}")
    assert r.status_code == 204, r.text
    after = ask(client, level="commune", scopeQ=f"{EPCI_B}/01304",
                endTimeAt=from_ms(T0 + 3 * DAY))["groups"][0]
    assert after["totalCount"][0][0] == before["totalCount"][0][0] - 1
    assert close(after["sum"][0][0], before["sum"][0][0] - value)
    # the entity's whole history deleted: its readings leave the rollups too
    assert client.delete(f"{TEMPORAL}/{eid}").status_code == 204
    gone = ask(client, level="commune", scopeQ=f"{EPCI_B}/01304",
               endTimeAt=from_ms(T0 + 3 * DAY))["groups"][0]
    assert gone["totalCount"][0][0] == before["totalCount"][0][0] // 2


@pytest.mark.parametrize("params", [
    {"aggrMethods": "distinctCount"}, {"timeAt": "2026-01-01T05:00:00Z"},
    {"aggrPeriodDuration": "PT6H"}, {"level": "region"}, {"attrs": ""},
    {"endTimeAt": "2025-01-01T00:00:00Z"}, {"timeAt": "hier"}, {"scopeQ": "FR01"},
    {"aggrPeriodDuration": "P1X"}])
def test_bad_queries_are_problem_details(client: TestClient, params: dict[str, str]) -> None:
    base = {"type": "PhotovoltaicMeasurement", "attrs": "activePower",
            "aggrMethods": "sum", "timeAt": from_ms(T0), "endTimeAt": from_ms(T0 + DAY)}
    r = client.get("/api/aggregates", params={**base, **params})
    assert r.status_code == 400, r.text
    assert r.headers["content-type"] == "application/problem+json"
