"""The Store contract: what every storage backend must do, tested through the
``bocage.storage.base.Store`` protocol only.

A backend's test module subclasses :class:`StoreContract` and provides the
``open_store`` fixture: a callable that opens *the* test database (calling it
again after ``close()`` reopens the same data) and accepts ``queue_size``, the
bound on writes waiting to be applied. Every ``test_*`` here then runs on it.

Query results are checked against a brute-force filter over every entity,
using the exact evaluators (``bocage.ngsild.q.matches`` & co.) as the oracle:
whatever prefilter a backend uses, it must never lose a match.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bocage.domain.entity import Entity, attribute_names
from bocage.domain.errors import (
    AlreadyExists,
    BocageError,
    NonexistentTenant,
    ResourceNotFound,
    ServiceUnavailable,
)
from bocage.domain.query import (
    And,
    AttrPath,
    Comparison,
    EntityQuery,
    GeoQuery,
    Or,
    QNode,
    Range,
)
from bocage.ngsild.geo import geo_matches
from bocage.ngsild.q import matches
from bocage.ngsild.scopeq import scope_matches
from bocage.storage.base import DELETE, Mutation, MutationResult, Store

NS = "https://example.org/"
T1, T2, T3 = NS + "T1", NS + "T2", NS + "T3"
A, B, C = NS + "a", NS + "b", NS + "c"
REL, VOC, LANG, LIST = NS + "rel", NS + "voc", NS + "lang", NS + "list"
SUB = NS + "sub"
LOC = "https://uri.etsi.org/ngsi-ld/location"
NOW = "2026-11-25T22:00:00.000Z"

OpenStore = Callable[..., Store]

# ------------------------------------------------------------------ helpers


def prop(value: Any, **extra: Any) -> list[dict[str, Any]]:
    return [{"type": "Property", "value": value, **extra}]


def point(lon: float, lat: float) -> list[dict[str, Any]]:
    return [{"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}}]


def entity(eid: str, *types: str, **attrs: Any) -> Entity:
    """``entity("urn:x:1", T1, a=prop(3))``: attribute keywords are local names
    under NS, except ``location``."""
    e: Entity = {"id": eid, "type": list(types or (T1,)), "createdAt": NOW, "modifiedAt": NOW}
    for name, instances in attrs.items():
        if name == "scope":
            e["scope"] = instances
        else:
            e[LOC if name == "location" else NS + name] = instances
    return e


def create(e: Entity) -> Mutation:
    def fn(current: Entity | None) -> Entity:
        if current is not None:
            raise AlreadyExists(f"{e['id']} already exists")
        return e

    return Mutation(e["id"], fn)


def replace(e: Entity) -> Mutation:
    def fn(current: Entity | None) -> Entity:
        if current is None:
            raise ResourceNotFound(e["id"])
        return e

    return Mutation(e["id"], fn)


def delete(eid: str) -> Mutation:
    def fn(current: Entity | None) -> Any:
        if current is None:
            raise ResourceNotFound(eid)
        return DELETE

    return Mutation(eid, fn)


def update(eid: str, change: Callable[[Entity], None]) -> Mutation:
    def fn(current: Entity | None) -> Entity:
        if current is None:
            raise ResourceNotFound(eid)
        change(current)
        return current

    return Mutation(eid, fn)


def ids(entities: Sequence[dict[str, Any]]) -> list[str]:
    return [e["id"] for e in entities]


def brute_force(entities: Sequence[Entity], query: EntityQuery) -> list[Entity]:
    """The exact answer, in creation order, before pagination."""
    found = []
    for e in entities:
        if query.ids and e["id"] not in query.ids:
            continue
        if query.id_pattern is not None and not re.fullmatch(query.id_pattern, e["id"]):
            continue
        if query.types and not any(all(t in e["type"] for t in g) for g in query.types):
            continue
        if query.attrs and not set(query.attrs) & set(attribute_names(e)):
            continue
        if query.q is not None and not matches(query.q, e):
            continue
        if query.geo is not None and not geo_matches(query.geo, e):
            continue
        if query.scope_q and not scope_matches(query.scope_q, e.get("scope") or []):
            continue
        found.append(e)
    return found


def assert_query(store: Store, tenant: str, data: Sequence[Entity], query: EntityQuery) -> None:
    expected = brute_force(data, query)
    page = store.query(tenant, query)
    start = query.offset
    assert ids(page.entities) == ids(expected[start : start + query.limit]), query
    if query.count:
        assert page.count == len(expected), query
    else:
        assert page.count is None


# ------------------------------------------------------- random data (hypothesis)

_scalar = st.one_of(
    st.integers(-3, 3),
    st.sampled_from([-1.5, 0.5, 2.5, 2.0]),
    st.booleans(),
    st.sampled_from(["x", "y", "xy", "Y", "", "2026-01-01T00:00:00Z"]),
)
_value = st.one_of(
    _scalar,
    _scalar,
    st.lists(_scalar, max_size=3),
    st.builds(lambda v: {"k": v}, _scalar),
    st.builds(
        lambda v: {"@type": "DateTime", "@value": v}, st.sampled_from(["2025-06-01T00:00:00Z"])
    ),
)


def _property(value: Any, sub: Any, observed: bool) -> dict[str, Any]:
    inst: dict[str, Any] = {"type": "Property", "value": value}
    if sub is not None:
        inst[SUB] = {"type": "Property", "value": sub}
    if observed:
        inst["observedAt"] = "2026-01-01T00:00:00Z"
    return inst


_prop_instance = st.builds(_property, _value, st.none() | _scalar, st.booleans())


def _multi(instances: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # a second instance needs its own datasetId
    for n, inst in enumerate(instances[1:], start=1):
        inst["datasetId"] = f"urn:ds:{n}"
    return instances


_attributes = st.fixed_dictionaries(
    {},
    optional={
        A: st.lists(_prop_instance, min_size=1, max_size=2).map(_multi),
        B: st.lists(_prop_instance, min_size=1, max_size=1),
        C: st.lists(_prop_instance, min_size=1, max_size=1),
        REL: st.sampled_from(["urn:x:1", "urn:x:2", ["urn:x:1", "urn:x:3"]]).map(
            lambda o: [{"type": "Relationship", "object": o}]
        ),
        VOC: st.sampled_from([NS + "v/x", NS + "v#y", "urn:z"]).map(
            lambda v: [{"type": "VocabProperty", "vocab": v}]
        ),
        LANG: st.sampled_from([{"fr": "x", "en": "y"}, {"fr": "xy"}]).map(
            lambda m: [{"type": "LanguageProperty", "languageMap": m}]
        ),
        LIST: st.lists(_scalar, max_size=3).map(
            lambda v: [{"type": "ListProperty", "valueList": v}]
        ),
        LOC: st.tuples(st.floats(0, 0.02), st.floats(0, 0.02)).map(lambda p: point(*p)),
    },
)


@st.composite
def datasets(draw: st.DrawFn) -> list[Entity]:
    n = draw(st.integers(0, 12))
    out = []
    for i in range(n):
        e: Entity = {
            "id": f"urn:e:{i}",
            "type": draw(
                st.lists(st.sampled_from([T1, T2, T3]), min_size=1, max_size=2, unique=True)
            ),
        }
        if draw(st.booleans()):
            e["scope"] = draw(st.lists(st.sampled_from(["/a", "/a/b", "/c"]), max_size=2))
        e.update(draw(_attributes))
        out.append(e)
    return out


_paths = st.one_of(
    st.builds(AttrPath, st.sampled_from([A, B, C, REL, VOC, LANG, LIST, NS + "missing"])),
    st.builds(AttrPath, st.sampled_from([A, B]), st.sampled_from([(SUB,), ("observedAt",)])),
    st.builds(AttrPath, st.just(A), st.just(()), st.just(("k",))),
)
_bound = st.one_of(
    st.integers(-3, 3), st.sampled_from([0.5, -1.5, 2.0]), st.sampled_from(["x", "xy", "y"])
)


@st.composite
def comparisons(draw: st.DrawFn) -> Comparison:
    path = draw(_paths)
    op = draw(st.sampled_from(["==", "!=", ">", ">=", "<", "<=", "~=", "!~=", None]))
    if op is None:
        return Comparison(path)
    if op in ("~=", "!~="):
        return Comparison(path, op, draw(st.sampled_from(["x", "^x$", "y|Y"])))
    if op in ("==", "!="):
        kind = draw(st.sampled_from(["scalar", "tuple", "numrange", "strrange", "date"]))
        if kind == "tuple":
            return Comparison(path, op, tuple(draw(st.lists(_scalar, min_size=1, max_size=3))))
        if kind == "numrange":
            low, high = sorted(draw(st.lists(st.integers(-3, 3), min_size=2, max_size=2)))
            return Comparison(path, op, Range(low, high))
        if kind == "strrange":
            return Comparison(path, op, Range("x", draw(st.sampled_from(["xy", "y", "z"]))))
        if kind == "date":
            return Comparison(path, op, dt.datetime(2025, 6, 1, tzinfo=dt.UTC))
        return Comparison(path, op, draw(_scalar))
    return Comparison(path, op, draw(_bound))


q_nodes = st.recursive(
    comparisons(),
    lambda children: st.one_of(
        st.lists(children, min_size=2, max_size=3).map(lambda ts: And(tuple(ts))),
        st.lists(children, min_size=2, max_size=3).map(lambda ts: Or(tuple(ts))),
    ),
    max_leaves=5,
)

_types = st.lists(
    st.lists(st.sampled_from([T1, T2, T3]), min_size=1, max_size=2).map(tuple),
    max_size=2,
).map(tuple)

_geo = st.one_of(
    st.builds(
        lambda x, y, d: GeoQuery("near", {"type": "Point", "coordinates": [x, y]}, LOC, d),
        st.floats(0, 0.02),
        st.floats(0, 0.02),
        st.sampled_from([100.0, 500.0, 2000.0]),
    ),
    st.builds(
        lambda x, y, w: GeoQuery(
            "within",
            {
                "type": "Polygon",
                "coordinates": [[[x, y], [x + w, y], [x + w, y + w], [x, y + w], [x, y]]],
            },
            LOC,
        ),
        st.floats(0, 0.02),
        st.floats(0, 0.02),
        st.sampled_from([0.002, 0.01]),
    ),
)


@st.composite
def queries(draw: st.DrawFn) -> EntityQuery:
    return EntityQuery(
        ids=tuple(draw(st.lists(st.sampled_from([f"urn:e:{i}" for i in range(14)]), max_size=4)))
        if draw(st.integers(0, 4)) == 0
        else (),
        id_pattern=draw(st.sampled_from([None, None, None, r"urn:e:1\d*", "urn:e:[0-4]"])),
        types=draw(_types),
        attrs=tuple(draw(st.lists(st.sampled_from([A, B, LOC, NS + "missing"]), max_size=2))),
        q=draw(st.none() | q_nodes),
        geo=draw(st.none() | st.none() | _geo),
        scope_q=draw(st.sampled_from([(), (), (("/a/#",),), (("/a",), ("/c",)), (("/+", "/c"),)])),
        limit=draw(st.sampled_from([0, 1, 3, 100])),
        offset=draw(st.sampled_from([0, 0, 1, 2])),
        count=draw(st.booleans()),
    )


_tenant_numbers = itertools.count()

PROPERTY_SETTINGS = settings(
    max_examples=60,
    deadline=None,
    # one store per test, fresh tenant per example; the same test runs once per
    # backend subclass (differing executors) by design
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.differing_executors,
    ],
)


# -------------------------------------------------------------------- contract


class StoreContract:
    """Inherit, and provide ``open_store``."""

    @pytest.fixture
    def open_store(self) -> OpenStore:
        raise NotImplementedError("a backend's test class provides open_store")

    @pytest.fixture
    def store(self, open_store: OpenStore) -> Iterator[Store]:
        s = open_store()
        yield s
        s.close()

    # ----------------------------------------------------------- writes

    def test_create_then_get_round_trips(self, store: Store) -> None:
        e = entity(
            "urn:x:1",
            T1,
            T2,
            a=prop(3.5, unitCode="CEL", observedAt=NOW),
            rel=[{"type": "Relationship", "object": "urn:x:2"}],
            location=point(4.8, 45.7),
            scope=["/FR/01"],
        )
        assert store.apply("t", [create(e)]) == [e]
        assert store.get("t", "urn:x:1") == e
        assert store.get("t", "urn:x:2") is None

    def test_create_existing_reports_the_error_and_keeps_the_original(self, store: Store) -> None:
        original = entity("urn:x:1", a=prop(1))
        store.apply("t", [create(original)])
        [result] = store.apply("t", [create(entity("urn:x:1", a=prop(2)))])
        assert isinstance(result, AlreadyExists)
        assert store.get("t", "urn:x:1") == original

    def test_replace_and_delete(self, store: Store) -> None:
        store.apply("t", [create(entity("urn:x:1", a=prop(1))), create(entity("urn:x:2"))])
        newer = entity("urn:x:1", T2, b=prop("new"))
        assert store.apply("t", [replace(newer)]) == [newer]
        assert store.get("t", "urn:x:1") == newer
        assert store.apply("t", [delete("urn:x:1")]) == [None]
        assert store.get("t", "urn:x:1") is None
        [missing] = store.apply("t", [delete("urn:x:1")])
        assert isinstance(missing, ResourceNotFound)
        assert ids(store.query("t", EntityQuery()).entities) == ["urn:x:2"]
        assert store.query("t", EntityQuery(types=((T2,),))).entities == []
        assert store.query("t", EntityQuery(attrs=(A, B))).entities == []

    def test_mutations_apply_in_order_and_see_each_other(self, store: Store) -> None:
        def bump(e: Entity) -> None:
            e[NS + "a"][0]["value"] += 1

        results = store.apply(
            "t",
            [
                create(entity("urn:x:1", a=prop(1))),
                update("urn:x:1", bump),
                update("urn:x:1", bump),
                delete("urn:x:1"),
                create(entity("urn:x:1", a=prop(10))),
                update("urn:x:1", bump),
            ],
        )
        assert [r if r is None else r[NS + "a"][0]["value"] for r in results] == [  # type: ignore[index]
            1, 2, 3, None, 10, 11,
        ]  # fmt: skip
        assert store.get("t", "urn:x:1") == entity("urn:x:1", a=prop(11))
        q = EntityQuery(q=Comparison(AttrPath(A), "==", 11))
        assert ids(store.query("t", q).entities) == ["urn:x:1"]
        assert store.query("t", EntityQuery(q=Comparison(AttrPath(A), "<", 11))).entities == []

    def test_a_failing_mutation_does_not_roll_back_its_siblings(self, store: Store) -> None:
        store.apply("t", [create(entity("urn:x:2"))])
        results = store.apply(
            "t",
            [
                create(entity("urn:x:1")),
                create(entity("urn:x:2", a=prop(1))),  # AlreadyExists
                delete("urn:x:9"),  # ResourceNotFound
                create(entity("urn:x:3")),
            ],
        )
        assert isinstance(results[1], AlreadyExists)
        assert isinstance(results[2], ResourceNotFound)
        assert ids(store.query("t", EntityQuery()).entities) == ["urn:x:2", "urn:x:1", "urn:x:3"]
        assert NS + "a" not in (store.get("t", "urn:x:2") or {})

    def test_a_buggy_mutation_is_a_500_and_the_store_lives_on(self, store: Store) -> None:
        def bug(current: Entity | None) -> Entity:
            raise ValueError("oops")

        def not_an_entity(current: Entity | None) -> Any:
            return 42

        def wrong_id(current: Entity | None) -> Entity:
            return entity("urn:other")

        def unserialisable(current: Entity | None) -> Entity:
            return entity("urn:x:5", a=prop({1, 2}))

        results = store.apply(
            "t",
            [
                Mutation("urn:x:1", bug),
                create(entity("urn:x:2")),
                Mutation("urn:x:3", not_an_entity),
                Mutation("urn:x:4", wrong_id),
                Mutation("urn:x:5", unserialisable),
            ],
        )
        for r in (results[0], results[2], results[3], results[4]):
            assert isinstance(r, BocageError)
            assert r.status == 500
        assert ids(store.query("t", EntityQuery()).entities) == ["urn:x:2"]
        assert store.get("t", "urn:other") is None
        assert store.apply("t", [create(entity("urn:x:6"))]) == [entity("urn:x:6")]
        store.ping()

    def test_empty_apply(self, store: Store) -> None:
        assert store.apply("t", []) == []

    def test_committed_data_survives_reopening(self, open_store: OpenStore) -> None:
        first = open_store()
        first.apply("t", [create(entity("urn:x:1", a=prop(1), location=point(1, 2)))])
        first.apply("", [create(entity("urn:x:2", T2))])
        first.put_context("http://ctx/1", b'{"@context": {}}', "hosted")
        first.close()
        again = open_store()
        try:
            assert again.get("t", "urn:x:1") == entity("urn:x:1", a=prop(1), location=point(1, 2))
            assert ids(again.query("", EntityQuery(types=((T2,),))).entities) == ["urn:x:2"]
            near = GeoQuery("near", {"type": "Point", "coordinates": [1, 2]}, LOC, 10.0)
            assert ids(again.query("t", EntityQuery(geo=near)).entities) == ["urn:x:1"]
            assert [t.type for t in again.types("t")] == [T1]
            assert again.tenants() == ["", "t"]
            assert again.get_context("http://ctx/1") == (b'{"@context": {}}', "hosted")
        finally:
            again.close()

    def test_close_is_idempotent_and_final(self, open_store: OpenStore) -> None:
        s = open_store()
        s.close()
        s.close()
        with pytest.raises(ServiceUnavailable):
            s.apply("t", [create(entity("urn:x:1"))])

    # ---------------------------------------------------------- tenants

    def test_tenants_are_isolated(self, store: Store) -> None:
        store.apply("a", [create(entity("urn:x:1", T1, a=prop(1), location=point(0, 0)))])
        store.apply("b", [create(entity("urn:x:1", T2, a=prop(2), location=point(0, 0)))])
        assert store.get("a", "urn:x:1") == entity("urn:x:1", T1, a=prop(1), location=point(0, 0))
        assert store.get("b", "urn:x:1") == entity("urn:x:1", T2, a=prop(2), location=point(0, 0))
        assert store.get("", "urn:x:1") is None
        near = GeoQuery("near", {"type": "Point", "coordinates": [0, 0]}, LOC, 10.0)
        for tenant, value, type_ in (("a", 1, T1), ("b", 2, T2)):
            for q in (
                EntityQuery(),
                EntityQuery(ids=("urn:x:1",)),
                EntityQuery(q=Comparison(AttrPath(A), ">=", 0)),
                EntityQuery(attrs=(A,)),
                EntityQuery(geo=near),
                EntityQuery(types=((T1,), (T2,))),
            ):
                found = store.query(tenant, q).entities
                assert [e[NS + "a"][0]["value"] for e in found] == [value], (tenant, q)
            assert [t.type for t in store.types(tenant)] == [type_]
            assert [a.entity_count for a in store.attributes(tenant)] == [1, 1]
        assert store.query("a", EntityQuery(types=((T2,),))).entities == []
        assert store.query("a", EntityQuery(q=Comparison(AttrPath(A), "==", 2))).entities == []
        store.apply("a", [delete("urn:x:1")])
        assert store.get("b", "urn:x:1") is not None
        assert store.tenants() == ["a", "b"]

    def test_unknown_tenant_reads_raise(self, store: Store) -> None:
        for read in (
            lambda: store.get("nope", "urn:x:1"),
            lambda: store.query("nope", EntityQuery()),
            lambda: store.query("nope", EntityQuery(q=Comparison(AttrPath(A)))),
            lambda: store.types("nope"),
            lambda: store.attributes("nope"),
        ):
            with pytest.raises(NonexistentTenant):
                read()

    def test_default_tenant_is_empty_not_missing(self, store: Store) -> None:
        assert store.get("", "urn:x:1") is None
        assert store.query("", EntityQuery(count=True)).entities == []
        assert store.query("", EntityQuery(count=True)).count == 0
        assert store.query("", EntityQuery(q=Comparison(AttrPath(A)), count=True)).count == 0
        assert store.types("") == []
        assert store.attributes("") == []
        assert store.tenants() == []

    def test_a_tenant_exists_from_its_first_successful_write(self, store: Store) -> None:
        [error] = store.apply("x", [delete("urn:x:1")])
        assert isinstance(error, ResourceNotFound)
        with pytest.raises(NonexistentTenant):
            store.get("x", "urn:x:1")
        assert "x" not in store.tenants()
        store.apply("x", [create(entity("urn:x:1"))])
        store.apply("x", [delete("urn:x:1")])
        assert store.query("x", EntityQuery()).entities == []  # emptied, still there
        assert store.tenants() == ["x"]

    # ----------------------------------------------------------- queries

    @pytest.fixture
    def fleet(self, store: Store) -> list[Entity]:
        data = [
            entity("urn:bin:1", T1, a=prop(10), b=prop("full"), location=point(4.80, 45.70)),
            entity("urn:bin:2", T1, T2, a=prop(55.5), b=prop("ok"), location=point(4.81, 45.70)),
            entity("urn:bin:3", T2, a=prop(90), c=prop([1, 2, 3]), scope=["/FR/01"]),
            entity(
                "urn:truck:1",
                T3,
                rel=[{"type": "Relationship", "object": "urn:bin:1"}],
                location=[
                    {
                        "type": "GeoProperty",
                        "value": {
                            "type": "Polygon",
                            "coordinates": [
                                [[4.9, 45.9], [5.0, 45.9], [5.0, 46.0], [4.9, 46.0], [4.9, 45.9]]
                            ],
                        },
                    }
                ],
                scope=["/FR/02/x"],
            ),
            entity("urn:bin:4", T1, a=prop(-5), b=prop("broken"), scope=["/FR/01/y"]),
        ]
        assert all(isinstance(r, dict) for r in store.apply("t", [create(e) for e in data]))
        return data

    @pytest.mark.parametrize(
        "query",
        [
            EntityQuery(),
            EntityQuery(ids=("urn:bin:3", "urn:bin:1", "urn:nope")),
            EntityQuery(id_pattern=r"urn:bin:\d"),
            EntityQuery(id_pattern="urn:bin"),  # full match only
            EntityQuery(types=((T1,),)),
            EntityQuery(types=((T2,),)),
            EntityQuery(types=((T1, T2),)),  # AND
            EntityQuery(types=((T1,), (T3,))),  # OR
            EntityQuery(types=((T1, T2), (T3,))),
            EntityQuery(types=((NS + "Unknown",),)),
            EntityQuery(types=((NS + "Unknown",), (T3,))),
            EntityQuery(attrs=(C,)),
            EntityQuery(attrs=(C, REL)),
            EntityQuery(attrs=(NS + "nope",)),
            EntityQuery(q=Comparison(AttrPath(A), ">", 50)),
            EntityQuery(q=Comparison(AttrPath(A), ">=", 55.5)),
            EntityQuery(q=Comparison(AttrPath(A), "<", 10)),
            EntityQuery(q=Comparison(AttrPath(A), "==", Range(0, 60))),
            EntityQuery(q=Comparison(AttrPath(A), "==", (90, 10))),
            EntityQuery(q=Comparison(AttrPath(A), "!=", 10)),
            EntityQuery(q=Comparison(AttrPath(B), "==", "ok")),
            EntityQuery(q=Comparison(AttrPath(B), ">", "f")),
            EntityQuery(q=Comparison(AttrPath(B), "==", Range("a", "g"))),
            EntityQuery(q=Comparison(AttrPath(B), "~=", "^(ok|full)$")),
            EntityQuery(q=Comparison(AttrPath(C), "==", 2)),
            EntityQuery(q=Comparison(AttrPath(REL), "==", "urn:bin:1")),
            EntityQuery(q=Comparison(AttrPath(C))),
            EntityQuery(
                q=Or((Comparison(AttrPath(A), ">", 80), Comparison(AttrPath(B), "==", "ok")))
            ),
            EntityQuery(
                q=And((Comparison(AttrPath(A), ">", 0), Comparison(AttrPath(B), "!=", "ok")))
            ),
            EntityQuery(q=Or((Comparison(AttrPath(A), ">", 80), Comparison(AttrPath(REL))))),
            EntityQuery(types=((T1,),), q=Comparison(AttrPath(A), ">", 0)),
            EntityQuery(types=((T1,),), attrs=(B,), q=Comparison(AttrPath(B), "==", "ok")),
            EntityQuery(scope_q=(("/FR/#",),)),
            EntityQuery(scope_q=(("/FR/01",),)),
            EntityQuery(scope_q=(("/FR/+/+",),), types=((T1,), (T3,))),
        ],
    )
    def test_query_matches_brute_force(
        self, store: Store, fleet: list[Entity], query: EntityQuery
    ) -> None:
        for paged in (
            query,
            replace_query(query, count=True),
            replace_query(query, limit=1, offset=1, count=True),
            replace_query(query, limit=0, count=True),
        ):
            assert_query(store, "t", fleet, paged)

    def test_query_spot_checks(self, store: Store, fleet: list[Entity]) -> None:
        """A few answers written out, so the brute force itself is checked."""

        def found(**kw: Any) -> list[str]:
            return ids(store.query("t", EntityQuery(**kw)).entities)

        assert found(types=((T1, T2),)) == ["urn:bin:2"]
        assert found(types=((T1,), (T3,))) == ["urn:bin:1", "urn:bin:2", "urn:truck:1", "urn:bin:4"]
        assert found(q=Comparison(AttrPath(A), ">", 50)) == ["urn:bin:2", "urn:bin:3"]
        assert found(q=Comparison(AttrPath(B), "==", "ok")) == ["urn:bin:2"]
        assert found(q=Comparison(AttrPath(REL), "==", "urn:bin:1")) == ["urn:truck:1"]
        assert found(q=Comparison(AttrPath(C), "==", 2)) == ["urn:bin:3"]
        assert found(scope_q=(("/FR/01/#",),)) == ["urn:bin:3", "urn:bin:4"]
        assert found(ids=("urn:bin:3", "urn:bin:1")) == ["urn:bin:1", "urn:bin:3"]

    @pytest.mark.parametrize(
        ("geo", "expected"),
        [
            (
                GeoQuery("near", {"type": "Point", "coordinates": [4.80, 45.70]}, LOC, 100.0),
                ["urn:bin:1"],
            ),
            (
                GeoQuery("near", {"type": "Point", "coordinates": [4.805, 45.70]}, LOC, 1000.0),
                ["urn:bin:1", "urn:bin:2"],
            ),
            (
                GeoQuery("near", {"type": "Point", "coordinates": [4.80, 45.70]}, LOC, None, 100.0),
                ["urn:bin:2", "urn:truck:1"],
            ),
            (
                GeoQuery(
                    "within",
                    {
                        "type": "Polygon",
                        "coordinates": [
                            [[4.805, 45.6], [4.9, 45.6], [4.9, 45.8], [4.805, 45.8], [4.805, 45.6]]
                        ],
                    },
                    LOC,
                ),
                ["urn:bin:2"],
            ),
            (
                GeoQuery("intersects", {"type": "Point", "coordinates": [4.95, 45.95]}, LOC),
                ["urn:truck:1"],
            ),
            (
                GeoQuery("contains", {"type": "Point", "coordinates": [4.95, 45.95]}, LOC),
                ["urn:truck:1"],
            ),
            (
                GeoQuery("near", {"type": "Point", "coordinates": [4.95, 45.95]}, LOC, 50.0),
                ["urn:truck:1"],
            ),
            (
                GeoQuery("disjoint", {"type": "Point", "coordinates": [4.95, 45.95]}, LOC),
                ["urn:bin:1", "urn:bin:2"],
            ),
            (
                GeoQuery("near", {"type": "Point", "coordinates": [4.80, 45.70]}, NS + "nope", 1e6),
                [],
            ),
        ],
    )
    def test_geo_queries(
        self, store: Store, fleet: list[Entity], geo: GeoQuery, expected: list[str]
    ) -> None:
        assert ids(store.query("t", EntityQuery(geo=geo)).entities) == expected
        assert_query(store, "t", fleet, EntityQuery(geo=geo, types=((T1,), (T3,)), count=True))

    def test_pages_are_stable_disjoint_and_complete(self, store: Store) -> None:
        data = [entity(f"urn:p:{i}", T1 if i % 3 else T2, a=prop(i % 7)) for i in range(57)]
        store.apply("t", [create(e) for e in data[:30]])
        store.apply("t", [create(e) for e in data[30:]])
        store.apply("t", [replace(entity("urn:p:3", T1, a=prop(6)))])  # an update keeps its place
        data[3] = entity("urn:p:3", T1, a=prop(6))
        for query in (
            EntityQuery(),
            EntityQuery(types=((T1,),)),
            EntityQuery(q=Comparison(AttrPath(A), ">=", 2)),
            EntityQuery(types=((T1,),), q=Comparison(AttrPath(A), "!=", 4)),
        ):
            expected = ids(brute_force(data, query))
            seen: list[str] = []
            for offset in range(0, 70, 8):
                page = store.query("t", replace_query(query, limit=8, offset=offset, count=True))
                assert page.count == len(expected)
                seen += ids(page.entities)
            assert seen == expected
            assert store.query("t", replace_query(query, offset=1000)).entities == []

    # --------------------------------------------------- property-based

    @PROPERTY_SETTINGS
    @given(data=datasets(), query_list=st.lists(queries(), min_size=1, max_size=6))
    def test_random_queries_match_brute_force(
        self, store: Store, data: list[Entity], query_list: list[EntityQuery]
    ) -> None:
        tenant = f"h{next(_tenant_numbers)}"
        if data:
            assert all(isinstance(r, dict) for r in store.apply(tenant, [create(e) for e in data]))
        else:
            tenant = ""  # the default tenant may be empty without existing
        for query in query_list:
            assert_query(store, tenant, data, query)

    @PROPERTY_SETTINGS
    @given(data=datasets(), changes=datasets(), q=q_nodes)
    def test_updates_keep_the_indexes_exact(
        self, store: Store, data: list[Entity], changes: list[Entity], q: QNode
    ) -> None:
        """Replace some entities, delete others: queries must see only the new state."""
        tenant = f"u{next(_tenant_numbers)}"
        store.apply(tenant, [create(entity("urn:keep"))] + [create(e) for e in data])
        current = {e["id"]: e for e in [entity("urn:keep"), *data]}
        mutations = []
        for e in changes:
            if e["id"] in current and len(e) % 3 == 0:
                mutations.append(delete(e["id"]))
                del current[e["id"]]
            elif e["id"] in current:
                mutations.append(replace(e))
                current[e["id"]] = e
        store.apply(tenant, mutations)
        for query in (
            EntityQuery(q=q, limit=100, count=True),
            EntityQuery(types=((T1,), (T3,)), limit=100),
            EntityQuery(attrs=(A, LOC), limit=100, count=True),
            EntityQuery(
                geo=GeoQuery("near", {"type": "Point", "coordinates": [0.01, 0.01]}, LOC, 1000.0),
                limit=100,
            ),
        ):
            assert_query(store, tenant, list(current.values()), query)
        _check_discovery(store, tenant, list(current.values()))

    # ------------------------------------------------------- discovery

    def test_types_and_attributes(self, store: Store, fleet: list[Entity]) -> None:
        _check_discovery(store, "t", fleet)
        types = {t.type: t for t in store.types("t")}
        assert types[T1].entity_count == 3
        assert types[T1].attributes[LOC] == {"GeoProperty"}
        assert types[T3].attributes == {REL: {"Relationship"}, LOC: {"GeoProperty"}}
        attrs = {a.name: a for a in store.attributes("t")}
        assert attrs[A].entity_count == 4
        assert attrs[A].type_names == {T1, T2}
        # discovery follows changes, and forgets what is gone
        store.apply(
            "t",
            [
                delete("urn:truck:1"),
                replace(entity("urn:bin:3", T2, a=[{"type": "Relationship", "object": "urn:x"}])),
            ],
        )
        assert T3 not in {t.type for t in store.types("t")}
        assert REL not in {a.name for a in store.attributes("t")}
        attrs = {a.name: a for a in store.attributes("t")}
        assert attrs[A].attribute_types == {"Property", "Relationship"}
        assert C not in attrs

    # -------------------------------------------------------- contexts

    def test_contexts(self, store: Store) -> None:
        assert store.get_context("http://x/ctx") is None
        assert store.list_contexts() == []
        store.put_context("http://x/ctx", b'{"@context": {"a": "http://a/"}}', "hosted")
        store.put_context("http://a/cached", b"{}", "cached")
        assert store.get_context("http://x/ctx") == (b'{"@context": {"a": "http://a/"}}', "hosted")
        store.put_context("http://x/ctx", b'{"@context": {}}', "hosted")
        assert store.get_context("http://x/ctx") == (b'{"@context": {}}', "hosted")
        assert store.list_contexts() == [("http://a/cached", "cached"), ("http://x/ctx", "hosted")]
        assert store.delete_context("http://x/ctx") is True
        assert store.delete_context("http://x/ctx") is False
        assert store.list_contexts() == [("http://a/cached", "cached")]

    # ----------------------------------------------------- concurrency

    def test_concurrent_writers_lose_nothing(self, store: Store) -> None:
        store.apply("t", [create(entity("urn:counter", a=prop(0)))])

        def bump(e: Entity) -> None:
            e[NS + "a"][0]["value"] += 1

        errors: list[BaseException] = []

        def writer(n: int) -> None:
            try:
                for i in range(25):
                    results: list[MutationResult] = store.apply(
                        "t",
                        [create(entity(f"urn:w:{n}:{i}", a=prop(i))), update("urn:counter", bump)],
                    )
                    assert all(isinstance(r, dict) for r in results)
                    store.query("t", EntityQuery(q=Comparison(AttrPath(A), ">", 3), limit=5))
            except BaseException as exc:  # reported to the main thread
                errors.append(exc)

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert store.query("t", EntityQuery(limit=0, count=True)).count == 1 + 8 * 25
        counter = store.get("t", "urn:counter")
        assert counter is not None and counter[NS + "a"][0]["value"] == 8 * 25

    def test_back_pressure_refuses_rather_than_queueing(self, open_store: OpenStore) -> None:
        """With the writer stalled and the queue full, a write gets ServiceUnavailable."""
        s = open_store(queue_size=1)
        stall, stalled = threading.Event(), threading.Event()

        def blocking(current: Entity | None) -> Entity:
            stalled.set()
            stall.wait(10)
            return entity("urn:slow")

        done: list[object] = []
        threads = [
            threading.Thread(
                target=lambda: done.append(s.apply("t", [Mutation("urn:slow", blocking)]))
            )
        ]
        threads[0].start()
        try:
            assert stalled.wait(10)
            refused = None
            for i in range(20):  # the queue holds one; further writes must be refused
                t = threading.Thread(target=lambda i=i: done.append(_try_apply(s, f"urn:q:{i}")))
                threads.append(t)
                t.start()
                t.join(0.2)
                if any(isinstance(d, ServiceUnavailable) for d in done):
                    refused = next(d for d in done if isinstance(d, ServiceUnavailable))
                    break
            assert isinstance(refused, ServiceUnavailable)
            assert refused.status == 503
        finally:
            stall.set()
            for t in threads:
                t.join(10)
            s.close()

    def test_readers_run_alongside_writers(self, store: Store) -> None:
        store.apply("t", [create(entity(f"urn:r:{i}", a=prop(i))) for i in range(50)])
        stop = time.monotonic() + 1.0
        errors: list[BaseException] = []

        def reader() -> None:
            try:
                while time.monotonic() < stop:
                    page = store.query(
                        "t", EntityQuery(q=Comparison(AttrPath(A), ">=", 0), limit=1000, count=True)
                    )
                    assert page.count is not None and page.count >= 50
                    assert len(page.entities) == page.count
            except BaseException as exc:
                errors.append(exc)

        readers = [threading.Thread(target=reader) for _ in range(4)]
        for t in readers:
            t.start()
        n = 50
        while time.monotonic() < stop:
            store.apply("t", [create(entity(f"urn:r:{n}", a=prop(n)))])
            n += 1
        for t in readers:
            t.join()
        assert errors == []

    def test_ping(self, store: Store) -> None:
        store.ping()


def _try_apply(store: Store, eid: str) -> object:
    try:
        return store.apply("t", [create(entity(eid))])
    except ServiceUnavailable as exc:
        return exc


def replace_query(query: EntityQuery, **changes: Any) -> EntityQuery:
    return dataclasses.replace(query, **changes)


def _check_discovery(store: Store, tenant: str, data: Sequence[Entity]) -> None:
    """types() and attributes() agree with the data."""
    expected_types: dict[str, tuple[int, dict[str, set[str]]]] = {}
    expected_attrs: dict[str, tuple[int, set[str], set[str]]] = {}
    for e in data:
        for t in e["type"]:
            count, attrs = expected_types.get(t, (0, {}))
            for name in attribute_names(e):
                attrs.setdefault(name, set()).update(i.get("type", "Property") for i in e[name])
            expected_types[t] = (count + 1, attrs)
        for name in attribute_names(e):
            count, kinds, types = expected_attrs.get(name, (0, set(), set()))
            kinds.update(i.get("type", "Property") for i in e[name])
            expected_attrs[name] = (count + 1, kinds, types | set(e["type"]))
    assert [(t.type, t.entity_count, t.attributes) for t in store.types(tenant)] == [
        (t, *expected_types[t]) for t in sorted(expected_types)
    ]
    assert [
        (a.name, a.entity_count, a.attribute_types, a.type_names) for a in store.attributes(tenant)
    ] == [(a, *expected_attrs[a]) for a in sorted(expected_attrs)]
