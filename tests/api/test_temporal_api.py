"""The temporal API (/ngsi-ld/v1/temporal/entities) on both backends: history
written through the ordinary entity API, read back with every parameter."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from admin_client import admin_client
from starlette.testclient import TestClient

from bocage.api.app import create_app
from bocage.settings import Settings
from bocage.storage.base import Store

BASE = "/ngsi-ld/v1"
TEMPORAL = f"{BASE}/temporal/entities"
E1 = "urn:ngsi-ld:AirQualityObserved:1"
E2 = "urn:ngsi-ld:AirQualityObserved:2"


def at(minute: int) -> str:
    return f"2026-03-01T10:{minute:02d}:00.000Z"


def reading(value: float, minute: int) -> dict[str, Any]:
    return {"type": "Property", "value": value, "observedAt": at(minute), "unitCode": "59"}


@pytest.fixture
def loaded(client: TestClient) -> TestClient:
    """Two sensors; E1's co2 read six times (minutes 0..50), its status once."""
    for eid, scope, lon in ((E1, "/FR/01/A", 5.0), (E2, "/FR/01/B", 6.0)):
        r = client.post(f"{BASE}/entities", json={
            "id": eid, "type": "AirQualityObserved", "scope": scope,
            "co2": reading(400, 0),
            "status": {"type": "Property", "value": "ok"},
            "location": {"type": "GeoProperty",
                         "value": {"type": "Point", "coordinates": [lon, 45.0]}},
        })
        assert r.status_code == 201, r.text
    for n in range(1, 6):
        r = client.patch(f"{BASE}/entities/{E1}/attrs", json={"co2": reading(400 + n * 10,
                                                                              n * 10)})
        assert r.status_code == 204, r.text
    return client


def co2_values(body: dict[str, Any]) -> list[Any]:
    return [i["value"] for i in body.get("co2", [])]


def get(client: TestClient, eid: str = E1, **params: Any) -> Any:
    r = client.get(f"{TEMPORAL}/{eid}", params=params)
    assert r.status_code == 200, r.text
    return r.json()


def test_retrieve_normalized(loaded: TestClient) -> None:
    body = get(loaded)
    assert body["id"] == E1 and body["type"] == "AirQualityObserved"
    assert co2_values(body) == [400, 410, 420, 430, 440, 450]
    first = body["co2"][0]
    assert first["observedAt"] == at(0) and first["unitCode"] == "59"
    assert first["instanceId"].startswith("urn:ngsi-ld:Instance:")
    assert len({i["instanceId"] for i in body["co2"]}) == 6
    assert "modifiedAt" not in first
    assert [i["value"] for i in body["status"]] == ["ok"]  # written once
    with_sys = get(loaded, options="sysAttrs")
    assert "modifiedAt" in with_sys["co2"][0] and "createdAt" in with_sys["co2"][0]


def test_timerel_and_timeproperty(loaded: TestClient) -> None:
    assert co2_values(get(loaded, timerel="before", timeAt=at(20))) == [400, 410]
    assert co2_values(get(loaded, timerel="after", timeAt=at(20))) == [430, 440, 450]
    assert co2_values(get(loaded, timerel="between", timeAt=at(10),
                          endTimeAt=at(40))) == [410, 420, 430]
    # status has no observedAt: on that axis a time filter leaves it out
    assert "status" not in get(loaded, timerel="before", timeAt=at(59))
    # every instance was written just now: all of them are "after" 2020
    later = get(loaded, timerel="after", timeAt="2020-01-01T00:00:00Z",
                timeproperty="modifiedAt")
    assert len(later["co2"]) == 6 and len(later["status"]) == 1
    assert get(loaded, timerel="before", timeAt="2020-01-01T00:00:00Z",
               timeproperty="createdAt").get("co2") is None


def test_last_n_and_attrs(loaded: TestClient) -> None:
    assert co2_values(get(loaded, lastN=2)) == [440, 450]
    assert co2_values(get(loaded, lastN=2, timerel="before", timeAt=at(30))) == [410, 420]
    body = get(loaded, attrs="status")
    assert set(body) == {"id", "type", "scope", "status"}


def test_temporal_values(loaded: TestClient) -> None:
    for params in ({"options": "temporalValues"}, {"format": "temporalValues"}):
        body = get(loaded, attrs="co2", lastN=3, **params)
        assert body["co2"] == {"type": "Property",
                               "values": [[430, at(30)], [440, at(40)], [450, at(50)]]}


def test_query(loaded: TestClient) -> None:
    def query(**params: Any) -> dict[str, Any]:
        r = loaded.get(TEMPORAL, params=params)
        assert r.status_code == 200, r.text
        return {e["id"]: e for e in r.json()}

    both = query(type="AirQualityObserved", attrs="co2")
    assert co2_values(both[E1]) == [400, 410, 420, 430, 440, 450]
    assert co2_values(both[E2]) == [400]
    assert set(query(type="AirQualityObserved", q="co2>420")) == {E1}
    assert set(query(idPattern=".*:2$")) == {E2}
    assert set(query(id=E2, type="AirQualityObserved")) == {E2}
    assert set(query(type="AirQualityObserved", scopeQ="/FR/01/A")) == {E1}
    near = query(type="AirQualityObserved", georel="near;maxDistance==1000",
                 geometry="Point", coordinates="[6.0,45.0]")
    assert set(near) == {E2}
    assert co2_values(query(type="AirQualityObserved", lastN=1)[E1]) == [450]
    r = loaded.get(TEMPORAL, params={"type": "AirQualityObserved", "count": "true",
                                     "limit": 1})
    assert r.headers["NGSILD-Results-Count"] == "2" and len(r.json()) == 1


@pytest.mark.parametrize("params", [
    {"timerel": "before"},
    {"timerel": "sometime", "timeAt": at(0)},
    {"timeAt": at(0)},
    {"timerel": "between", "timeAt": at(10)},
    {"timerel": "between", "timeAt": at(10), "endTimeAt": at(5)},
    {"timerel": "after", "timeAt": at(10), "endTimeAt": at(20)},
    {"timerel": "after", "timeAt": "yesterday"},
    {"timeproperty": "deletedAt"},
    {"lastN": "0"},
    {"lastN": "-3"},
    {"lastN": "many"},
    {"lastN": "99999999"},
    {"format": "keyValues"},
    {"options": "keyValues"},
    {"options": "bogus"},
    {"aggrMethods": "avg"},
])
def test_bad_parameters_are_problem_details(loaded: TestClient, params: dict[str, str]) -> None:
    for url in (f"{TEMPORAL}/{E1}", TEMPORAL):
        query = {"type": "AirQualityObserved", **params} if url == TEMPORAL else params
        r = loaded.get(url, params=query)
        assert r.status_code == 400, (params, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["type"].endswith("BadRequestData")


def test_unknown_entity_is_404(loaded: TestClient) -> None:
    r = loaded.get(f"{TEMPORAL}/urn:ngsi-ld:Nothing:1")
    assert r.status_code == 404 and r.json()["type"].endswith("ResourceNotFound")
    assert loaded.get(f"{TEMPORAL}/not a uri").status_code == 400


@pytest.fixture
def small_pages(settings: Settings, store: Store) -> Iterator[TestClient]:
    with admin_client(create_app(settings.replace(history_max_instances=4), store)) as c:
        yield c


def test_temporal_pagination(small_pages: TestClient) -> None:
    client = small_pages
    r = client.post(f"{BASE}/entities", json={"id": E1, "type": "AirQualityObserved",
                                              "co2": reading(0, 0), "no2": reading(0, 0)})
    assert r.status_code == 201
    for n in range(1, 10):
        body = {"co2": reading(n, n)}
        if n % 2:
            body["no2"] = reading(n, n)
        assert client.patch(f"{BASE}/entities/{E1}/attrs", json=body).status_code == 204
    r = client.get(f"{TEMPORAL}/{E1}")
    assert r.status_code == 206
    assert r.headers["Content-Range"] == f"date-time {at(0)}-{at(3)}/*"
    body = r.json()
    assert co2_values(body) == [0, 1, 2, 3] and [i["value"] for i in body["no2"]] == [0, 1, 3]
    # the next page starts after the range
    r = client.get(f"{TEMPORAL}/{E1}", params={"timerel": "after", "timeAt": at(3)})
    assert r.status_code == 206 and co2_values(r.json()) == [4, 5, 6, 7]
    # backward with lastN
    r = client.get(f"{TEMPORAL}/{E1}", params={"lastN": 6})
    assert r.status_code == 206
    assert r.headers["Content-Range"] == f"date-time {at(6)}-{at(9)}/6"
    assert co2_values(r.json()) == [6, 7, 8, 9]
    r = client.get(f"{TEMPORAL}/{E1}", params={"lastN": 4, "attrs": "co2"})
    assert r.status_code == 200 and co2_values(r.json()) == [6, 7, 8, 9]


def test_provision_temporal_entity(client: TestClient) -> None:
    body = {"id": E1, "type": "AirQualityObserved",
            "co2": [reading(500, 5), reading(480, 1), reading(490, 3)]}
    r = client.post(TEMPORAL, json=body)
    assert r.status_code == 201, r.text
    assert r.headers["Location"] == f"/ngsi-ld/v1/temporal/entities/{E1}"
    assert co2_values(get(client)) == [480, 490, 500]
    # the entity exists, its current value the latest observation
    current = client.get(f"{BASE}/entities/{E1}").json()
    assert current["co2"]["value"] == 500
    # upsert: more instances, 204
    r = client.post(TEMPORAL, json={"id": E1, "type": "AirQualityObserved",
                                    "co2": [reading(470, 0)]})
    assert r.status_code == 204, r.text
    r = client.post(f"{TEMPORAL}/{E1}/attrs", json={"co2": [reading(510, 7), reading(520, 9)],
                                                   "no2": reading(20, 9)})
    assert r.status_code == 204, r.text
    body = get(client)
    assert co2_values(body) == [470, 480, 490, 500, 510, 520]
    assert [i["value"] for i in body["no2"]] == [20]
    # modify one instance, then delete one
    target = body["co2"][1]["instanceId"]
    r = client.patch(f"{TEMPORAL}/{E1}/attrs/co2/{target}", json={"value": 485})
    assert r.status_code == 204, r.text
    body = get(client)
    assert co2_values(body) == [470, 485, 490, 500, 510, 520]
    assert body["co2"][1]["observedAt"] == at(1)
    target = body["co2"][0]["instanceId"]
    assert client.delete(f"{TEMPORAL}/{E1}/attrs/co2/{target}").status_code == 204
    assert client.delete(f"{TEMPORAL}/{E1}/attrs/co2/{target}").status_code == 404
    assert client.patch(f"{TEMPORAL}/{E1}/attrs/co2/{target}",
                        json={"value": 1}).status_code == 404
    assert co2_values(get(client)) == [485, 490, 500, 510, 520]
    # an attribute's whole history
    assert client.delete(f"{TEMPORAL}/{E1}/attrs/no2").status_code == 204
    assert "no2" not in get(client)
    assert client.delete(f"{TEMPORAL}/{E1}/attrs/no2").status_code == 404
    # the temporal entity: history and entity
    assert client.delete(f"{TEMPORAL}/{E1}").status_code == 204
    assert client.get(f"{TEMPORAL}/{E1}").status_code == 404
    assert client.get(f"{BASE}/entities/{E1}").status_code == 404
    assert client.delete(f"{TEMPORAL}/{E1}").status_code == 404


def test_provision_errors(client: TestClient) -> None:
    r = client.post(f"{TEMPORAL}/{E1}/attrs", json={"co2": [reading(1, 1)]})
    assert r.status_code == 404
    assert client.post(TEMPORAL, json={"type": "X"}).status_code == 400
    assert client.post(TEMPORAL, json={"id": E1, "type": "X",
                                       "co2": [{"type": "Property"}]}).status_code == 400
    assert client.post(TEMPORAL, json=[1]).status_code == 400


def test_deleting_an_entity_keeps_its_history(loaded: TestClient) -> None:
    assert loaded.delete(f"{BASE}/entities/{E1}").status_code == 204
    body = get(loaded)
    assert body["type"] == "AirQualityObserved" and body["scope"] == "/FR/01/A"
    assert len(body["co2"]) == 6
    # queries select current entities only
    r = loaded.get(TEMPORAL, params={"type": "AirQualityObserved"})
    assert [e["id"] for e in r.json()] == [E2]
    assert loaded.delete(f"{TEMPORAL}/{E1}").status_code == 204
    assert loaded.get(f"{TEMPORAL}/{E1}").status_code == 404


def test_tenants(client: TestClient) -> None:
    r = client.post(TEMPORAL, json={"id": E1, "type": "X", "co2": [reading(1, 1)]},
                    headers={"NGSILD-Tenant": "commune-a"})
    assert r.status_code == 201
    assert client.get(f"{TEMPORAL}/{E1}").status_code == 404
    r = client.get(f"{TEMPORAL}/{E1}", headers={"NGSILD-Tenant": "commune-a"})
    assert co2_values(r.json()) == [1]
    r = client.get(f"{TEMPORAL}/{E1}", headers={"NGSILD-Tenant": "nobody"})
    assert r.status_code == 404 and r.json()["type"].endswith("NonexistentTenant")


def test_q_reads_past_values_not_the_current_state(loaded: TestClient) -> None:
    def ids(**params: Any) -> set[str]:
        r = loaded.get(TEMPORAL, params={"type": "AirQualityObserved", **params})
        assert r.status_code == 200, r.text
        return {e["id"] for e in r.json()}

    # E1 reads 400, 410 before minute 20 and 450 now: "now" must not count
    assert ids(q="co2>415", timerel="before", timeAt=at(20)) == set()
    assert ids(q="co2>405", timerel="before", timeAt=at(20)) == {E1}
    assert ids(q="co2==440", timerel="between", timeAt=at(30), endTimeAt=at(45)) == {E1}
    assert ids(q="co2==440", timerel="after", timeAt=at(45)) == set()
    # the whole evolution of a matching entity is returned, not only matching instances
    r = loaded.get(TEMPORAL, params={"type": "AirQualityObserved", "q": "co2<=400"})
    bodies = {e["id"]: e for e in r.json()}
    assert set(bodies) == {E1, E2} and co2_values(bodies[E1])[-1] == 450
    r = loaded.get(TEMPORAL, params={"type": "AirQualityObserved", "q": "co2>=400",
                                     "count": "true", "limit": 1, "offset": 1})
    assert r.headers["NGSILD-Results-Count"] == "2" and len(r.json()) == 1


def test_q_over_past_values_matches_a_replay_oracle(client: TestClient) -> None:
    """Random series of two attributes written through temporal provisioning; every
    query answered by the API equals a replay of the same data instant by instant."""
    import operator
    import random

    rnd = random.Random(20261126)
    ops = {">": operator.gt, "<": operator.lt, "==": operator.eq, "!=": operator.ne,
           ">=": operator.ge}
    data: dict[str, dict[str, list[tuple[int, int]]]] = {}
    for n in range(6):
        eid = f"urn:ngsi-ld:Room:{n}"
        data[eid] = {name: sorted({rnd.randrange(50): rnd.randrange(6)
                                   for _ in range(rnd.randrange(8))}.items())
                     for name in ("co2", "occupancy")}
        body: dict[str, Any] = {"id": eid, "type": "Room"}
        for name, series in data[eid].items():
            if series:
                body[name] = [{"type": "Property", "value": v, "observedAt": at(t)}
                              for t, v in series]
        r = client.post(TEMPORAL, json=body)
        assert r.status_code == 201, r.text

    def holds(eid: str, term: tuple[str, str, int], instant: int) -> bool:
        name, op, bound = term
        seen = [v for t, v in data[eid][name] if t <= instant]
        return bool(seen) and ops[op](seen[-1], bound)

    for _ in range(25):
        terms = [(rnd.choice(["co2", "occupancy"]), rnd.choice(sorted(ops)), rnd.randrange(6))
                 for _ in range(2)]
        glue = rnd.choice([";", "|", ""])
        lo, hi = sorted(rnd.sample(range(51), 2))
        q = "".join(map(str, terms[0])) + (glue + "".join(map(str, terms[1])) if glue else "")
        expected = set()
        for eid in data:
            instants = sorted({t for s in data[eid].values() for t, _ in s if lo <= t < hi})
            for i in instants:
                # the window's records only: what happened before lo does not count
                window = {k: [(t, v) for t, v in s if lo <= t < hi]
                          for k, s in data[eid].items()}
                saved, data[eid] = data[eid], window
                first = holds(eid, terms[0], i)
                ok = first if not glue else (
                    first and holds(eid, terms[1], i) if glue == ";"
                    else first or holds(eid, terms[1], i))
                data[eid] = saved
                if ok:
                    expected.add(eid)
                    break
        r = client.get(TEMPORAL, params={"type": "Room", "q": q, "timerel": "between",
                                         "timeAt": at(lo), "endTimeAt": at(hi),
                                         "limit": 100})
        assert r.status_code == 200, r.text
        assert {e["id"] for e in r.json()} == expected, (q, lo, hi)
