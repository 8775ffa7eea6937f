"""The storage-layer enforcement: what a principal reads and writes through ScopedStore.

Runs on both backends (the ``store`` fixture). An entity outside the caller's
scopes must behave exactly as a missing one.
"""

from __future__ import annotations

import pytest
from contract import NS, T1, T2, create, delete, entity, ids, prop, update

from bocage.domain.access import ANONYMOUS, SYSTEM, Grant, Principal
from bocage.domain.errors import AlreadyExists, Forbidden, ResourceNotFound
from bocage.domain.query import EntityQuery
from bocage.ngsild import mutations as mut
from bocage.security.scoped_store import PrincipalStore, ScopedStore, acting_as
from bocage.storage.base import Mutation, Store

EPCI = "/FR/01/240100883"
AMBE, LAGN = EPCI + "/01004", EPCI + "/01202"
OTHER = "/FR/01/200029999/01999"  # another EPCI
NOW = "2026-11-26T00:00:00.000Z"


def who(role: str, *scopes: str) -> Principal:
    return Principal("key", f"key:{role}", tuple(Grant(role, s) for s in scopes))


AGENT_AMBE = who("agent", AMBE)
ELU_EPCI = who("elu", EPCI)
POLICE_AMBE = who("police", AMBE)


@pytest.fixture
def seeded(store: Store) -> Store:
    entities = [
        entity("urn:a:1", T1, scope=[AMBE], a=prop(1)),
        entity("urn:a:2", T2, scope=[AMBE], b=prop(2)),
        entity("urn:l:1", T1, scope=[LAGN], a=prop(3)),
        entity("urn:o:1", T1, scope=[OTHER], c=prop(4)),
        entity("urn:o:open", T2, scope=[OTHER, "/open"], b=prop(5)),
        entity("urn:none", T1, a=prop(6)),  # no scope: the platform's own
    ]
    assert all(isinstance(r, dict) for r in store.apply("", [create(e) for e in entities]))
    return store


def visible(store: Store, principal: Principal, **query: object) -> list[str]:
    page = ScopedStore(store, principal).query("", EntityQuery(limit=100, **query))  # type: ignore[arg-type]
    return ids(page.entities)


def test_queries_see_the_principals_scopes_and_open_data_only(seeded: Store) -> None:
    assert visible(seeded, SYSTEM) == ["urn:a:1", "urn:a:2", "urn:l:1", "urn:o:1",
                                       "urn:o:open", "urn:none"]
    assert visible(seeded, AGENT_AMBE) == ["urn:a:1", "urn:a:2", "urn:o:open"]
    assert visible(seeded, ELU_EPCI) == ["urn:a:1", "urn:a:2", "urn:l:1", "urn:o:open"]
    assert visible(seeded, ANONYMOUS) == ["urn:o:open"]
    assert visible(seeded, POLICE_AMBE) == ["urn:o:open"]  # no read grant: open data only
    # the caller's own scopeQ is intersected, never widened
    assert visible(seeded, AGENT_AMBE, scope_q=((LAGN,),)) == []
    assert visible(seeded, AGENT_AMBE, scope_q=((OTHER,),)) == ["urn:o:open"]
    assert visible(seeded, ELU_EPCI, types=((T1,),)) == ["urn:a:1", "urn:l:1"]
    # counts are exact, pages too
    page = ScopedStore(seeded, ELU_EPCI).query("", EntityQuery(limit=1, offset=1, count=True))
    assert page.count == 4 and ids(page.entities) == ["urn:a:2"]


def test_no_open_data_when_the_setting_is_empty(seeded: Store) -> None:
    page = ScopedStore(seeded, ANONYMOUS, open_scope="").query("", EntityQuery(count=True))
    assert page.entities == [] and page.count == 0
    assert ScopedStore(seeded, ANONYMOUS, open_scope="").get("", "urn:o:open") is None


def test_get_outside_the_scopes_is_none_as_if_missing(seeded: Store) -> None:
    agent = ScopedStore(seeded, AGENT_AMBE)
    assert agent.get("", "urn:a:1") is not None
    assert agent.get("", "urn:l:1") is None
    assert agent.get("", "urn:none") is None
    assert agent.get("", "urn:o:open") is not None


def test_writes_to_hidden_entities_behave_as_writes_to_missing_ones(seeded: Store) -> None:
    agent = ScopedStore(seeded, AGENT_AMBE)
    before = seeded.get("", "urn:l:1")
    for m in (delete("urn:l:1"),
              update("urn:l:1", lambda e: e.update({NS + "a": prop(99)})),
              Mutation("urn:l:1", mut.merge({"id": "urn:l:1", NS + "a": prop(99)}, NOW))):
        [hidden] = agent.apply("", [m])
        [missing] = agent.apply("", [Mutation("urn:nope", m.fn)])
        assert isinstance(hidden, ResourceNotFound) and isinstance(missing, ResourceNotFound)
    assert seeded.get("", "urn:l:1") == before
    # creating over a hidden id says only that the id is taken, and changes nothing
    [taken] = agent.apply("", [create(entity("urn:l:1", T1, scope=[AMBE]))])
    assert isinstance(taken, AlreadyExists)
    upsert = Mutation("urn:l:1", mut.replace(entity("urn:l:1", T1, scope=[AMBE]), NOW,
                                             upsert=True))
    assert isinstance(agent.apply("", [upsert])[0], AlreadyExists)
    assert seeded.get("", "urn:l:1") == before


def test_what_a_write_produces_must_stay_in_the_writers_scopes(seeded: Store) -> None:
    agent = ScopedStore(seeded, AGENT_AMBE)
    ok, elsewhere, unscoped, straddling, published = agent.apply("", [
        create(entity("urn:a:new", T1, scope=[AMBE + "/school"])),
        create(entity("urn:x:1", T1, scope=[LAGN])),
        create(entity("urn:x:2", T1)),
        create(entity("urn:x:3", T1, scope=[AMBE, LAGN])),
        create(entity("urn:a:pub", T1, scope=[AMBE, "/open/parking"])),
    ])
    assert isinstance(ok, dict) and isinstance(published, dict)
    for refused in (elsewhere, unscoped, straddling):
        assert isinstance(refused, Forbidden)
    assert all(seeded.get("", i) is None for i in ("urn:x:1", "urn:x:2", "urn:x:3"))
    # moving one's own entity to another commune is refused too
    [moved] = agent.apply("", [update("urn:a:1", lambda e: e.update(scope=[LAGN]))])
    assert isinstance(moved, Forbidden)
    assert seeded.get("", "urn:a:1")["scope"] == [AMBE]  # type: ignore[index]


def test_visible_but_not_writable_is_forbidden(seeded: Store) -> None:
    for principal in (AGENT_AMBE, ELU_EPCI):
        [r] = ScopedStore(seeded, principal).apply("", [delete("urn:o:open")])
        assert isinstance(r, Forbidden)
    [r] = ScopedStore(seeded, ELU_EPCI).apply("", [delete("urn:a:1")])  # elu: read only
    assert isinstance(r, Forbidden)
    assert seeded.get("", "urn:a:1") is not None and seeded.get("", "urn:o:open") is not None


def test_discovery_counts_only_what_is_visible(seeded: Store) -> None:
    agent = ScopedStore(seeded, AGENT_AMBE)
    types = {t.type: t.entity_count for t in agent.types("")}
    assert types == {T1: 1, T2: 2}
    attrs = {a.name: (a.entity_count, a.type_names) for a in agent.attributes("")}
    assert attrs == {NS + "a": (1, {T1}), NS + "b": (2, {T2})}
    assert ScopedStore(seeded, ANONYMOUS).types("")[0].type == T2
    assert [t.type for t in ScopedStore(seeded, ANONYMOUS).types("")] == [T2]


def test_scoped_discovery_agrees_with_the_backends_own(store: Store) -> None:
    """Recomputed discovery = the backend's statistics when everything is in sight."""
    body = [entity(f"urn:e:{i}", T1 if i % 2 else T2, scope=[AMBE if i % 3 else LAGN],
                   **{"a" if i % 2 else "b": prop(i)}, **({"c": prop(0)} if i % 5 == 0 else {}))
            for i in range(30)]
    store.apply("", [create(e) for e in body])
    store.apply("", [delete("urn:e:7"), update("urn:e:8", lambda e: e.pop(NS + "b"))])
    elu = ScopedStore(store, ELU_EPCI)
    assert elu.types("") == store.types("")
    assert elu.attributes("") == store.attributes("")


def test_principal_store_acts_for_the_current_principal(seeded: Store) -> None:
    shared = PrincipalStore(seeded)
    q = EntityQuery(limit=100)
    assert ids(shared.query("", q).entities) == ["urn:o:open"]  # outside a request: anonymous
    with acting_as(AGENT_AMBE):
        assert ids(shared.query("", q).entities) == ["urn:a:1", "urn:a:2", "urn:o:open"]
        with acting_as(SYSTEM):
            assert len(shared.query("", q).entities) == 6
        assert shared.get("", "urn:l:1") is None
    assert shared.get("", "urn:a:1") is None


def test_history_is_seen_and_written_as_its_entity_is(seeded: Store) -> None:
    from bocage.domain.temporal import HistoryRange

    raw = ScopedStore(seeded, SYSTEM)
    everything = HistoryRange()
    assert raw.history("", "urn:l:1", everything)  # creation recorded history
    agent, elu = ScopedStore(seeded, AGENT_AMBE), ScopedStore(seeded, ELU_EPCI)
    assert agent.history("", "urn:l:1", everything) == {}  # Lagnieu's: as if none
    assert agent.history("", "urn:a:1", everything) == raw.history("", "urn:a:1", everything)
    stamped = [(NS + "a", {"type": "Property", "value": 7, "observedAt": NOW,
                           "createdAt": NOW, "modifiedAt": NOW})]
    with pytest.raises(ResourceNotFound):
        agent.add_history("", "urn:l:1", stamped)
    with pytest.raises(Forbidden):
        elu.add_history("", "urn:a:1", stamped)  # visible, read-only
    assert agent.delete_history("", "urn:l:1") == 0
    assert raw.history("", "urn:l:1", everything)  # untouched
    agent.add_history("", "urn:a:1", stamped)
    # a deleted entity keeps the scopes it had: its history stays Lagnieu's
    assert isinstance(raw.apply("", [delete("urn:l:1")])[0], type(None))
    assert raw.gone_entity("", "urn:l:1") is not None
    assert agent.gone_entity("", "urn:l:1") is None
    assert agent.history("", "urn:l:1", everything) == {}
    assert elu.gone_entity("", "urn:l:1") is not None
    with pytest.raises(Forbidden):
        agent.history_size()


def test_the_scoped_stores_cover_every_storage_method() -> None:
    """A method added to a storage protocol must be added (and scoped) here too, or
    routes reaching it through ``services.store`` would fail or bypass the scopes."""
    from bocage.storage.base import Store as StoreProtocol
    from bocage.storage.history_base import HistoryStore

    for protocol in (StoreProtocol, HistoryStore):
        methods = {n for n in vars(protocol) if not n.startswith("_")
                   and callable(getattr(protocol, n))}
        for cls in (ScopedStore, PrincipalStore):
            missing = {m for m in methods if m not in vars(cls)}
            assert not missing, f"{cls.__name__} lacks {sorted(missing)} of {protocol.__name__}"
