"""The HistoryStore contract, run on both backends through the ``store`` fixture
(tests/conftest.py: parametrised sqlite/postgres).

Writes go through ``Store.apply`` with the real NGSI-LD mutations (history is
recorded in the write's transaction) or ``add_history``; reads are checked
against ``bocage.domain.temporal.select`` over what was written, before and
after compaction.
"""

from __future__ import annotations

import random
from typing import Any, cast

import pytest

from bocage.domain.entity import Entity
from bocage.domain.errors import BocageError, NonexistentTenant
from bocage.domain.temporal import HistoryRange, Record
from bocage.domain.timefmt import from_ms, to_ms
from bocage.ngsild import mutations as mut
from bocage.storage.base import Mutation, Store
from bocage.storage.history_base import HistoryStore

NS = "https://example.org/"
T, A, B = NS + "Sensor", NS + "a", NS + "b"
E1, E2 = "urn:ngsi-ld:Sensor:1", "urn:ngsi-ld:Sensor:2"
DAY = 86_400_000
BASE = to_ms("2026-01-01T00:00:00Z")


def hist(store: Store) -> HistoryStore:
    return cast(HistoryStore, store)


def prop(value: Any, observed: int | None = None, **extra: Any) -> list[dict[str, Any]]:
    inst: dict[str, Any] = {"type": "Property", "value": value, **extra}
    if observed is not None:
        inst["observedAt"] = from_ms(observed)
    return [inst]


def sensor(eid: str, **attrs: Any) -> Entity:
    return {"id": eid, "type": [T], **{NS + k: v for k, v in attrs.items()}}


def write(store: Store, fn: mut.MutationFn, eid: str = E1, tenant: str = "") -> None:
    [result] = store.apply(tenant, [Mutation(eid, fn)])
    if isinstance(result, BocageError):
        raise result


def values(records: list[Record]) -> list[Any]:
    return [r.instance["value"] for r in records]


def test_writes_record_new_and_changed_instances_only(store: Store) -> None:
    write(store, mut.create(sensor(E1, a=prop(1, BASE), b=prop("x")), from_ms(BASE)))
    write(store, mut.merge(sensor(E1, a=prop(2, BASE + 60_000)), from_ms(BASE + 61_000)))
    write(store, mut.merge(sensor(E1, a=prop(3, BASE + 120_000)), from_ms(BASE + 121_000)))
    got = hist(store).history("", E1, HistoryRange())
    assert values(got[A]) == [1, 2, 3]
    assert values(got[B]) == ["x"]  # b was never rewritten
    first, second = got[A][0], got[A][1]
    assert (first.observed, first.created, first.modified) == (BASE, BASE, BASE)
    assert second.observed == BASE + 60_000 and second.modified == BASE + 61_000
    assert "observedAt" not in second.instance and second.instance["type"] == "Property"
    # b has no observedAt: on the observedAt axis a bounded window leaves it out
    window = HistoryRange(start=BASE - DAY, end=BASE + DAY)
    assert set(hist(store).history("", E1, window)) == {A}
    assert set(hist(store).history("", E1, HistoryRange(timeproperty="modifiedAt",
                                                        start=BASE - DAY))) == {A, B}


def test_a_failed_mutation_records_nothing(store: Store) -> None:
    write(store, mut.create(sensor(E1, a=prop(1, BASE)), from_ms(BASE)))

    def broken(current: Entity | None) -> Entity:
        raise BocageError("no")

    results = store.apply("", [Mutation(E1, broken)])
    assert isinstance(results[0], BocageError)
    with pytest.raises(BocageError):
        write(store, mut.create(sensor(E1, a=prop(9, BASE)), from_ms(BASE)))
    assert values(hist(store).history("", E1, HistoryRange())[A]) == [1]


def test_history_survives_entity_deletion_until_deleted_itself(store: Store) -> None:
    write(store, mut.create(sensor(E1, a=prop(1, BASE), b=prop(2, BASE)), from_ms(BASE)))
    write(store, mut.delete_entity(E1))
    assert store.get("", E1) is None
    assert values(hist(store).history("", E1, HistoryRange())[A]) == [1]
    assert hist(store).delete_history("", E1, A) == 1
    assert set(hist(store).history("", E1, HistoryRange())) == {B}
    assert hist(store).delete_history("", E1) == 1
    assert hist(store).history("", E1, HistoryRange()) == {}
    assert hist(store).delete_history("", E1) == 0


def test_tenants_are_isolated(store: Store) -> None:
    write(store, mut.create(sensor(E1, a=prop(1, BASE)), from_ms(BASE)), tenant="t1")
    write(store, mut.create(sensor(E1, a=prop(2, BASE)), from_ms(BASE)), tenant="t2")
    assert values(hist(store).history("t1", E1, HistoryRange())[A]) == [1]
    assert values(hist(store).history("t2", E1, HistoryRange())[A]) == [2]
    assert hist(store).history("", E1, HistoryRange()) == {}
    with pytest.raises(NonexistentTenant):
        hist(store).history("nobody", E1, HistoryRange())
    assert hist(store).delete_history("t1", E1) == 1
    assert values(hist(store).history("t2", E1, HistoryRange())[A]) == [2]


def _random_history(rnd: random.Random) -> list[tuple[str, str, dict[str, Any]]]:
    """(entity, attribute, stamped instance) in write order: readings of a few
    series, some sharing an instant, some without observedAt, a dataset."""
    out = []
    for n in range(300):
        eid = rnd.choice((E1, E2))
        attr = rnd.choice((A, B))
        t = BASE + rnd.randrange(0, 40) * 3_600_000 + rnd.choice((0, 0, 1500))
        inst: dict[str, Any] = {"type": "Property", "value": rnd.choice(
            (rnd.randint(-50, 50), round(rnd.uniform(0, 30), 1), "ok", True, {"k": n}))}
        if rnd.random() < 0.9:
            inst["observedAt"] = from_ms(t)
        if rnd.random() < 0.2:
            inst["datasetId"] = "urn:ngsi-ld:Dataset:backup"
        if rnd.random() < 0.5:
            inst["unitCode"] = "CEL"
        written = from_ms(BASE + 50 * DAY + n)
        inst["createdAt"] = inst["modifiedAt"] = written
        out.append((eid, attr, inst))
    return out


def _windows(rnd: random.Random) -> list[HistoryRange]:
    out = [HistoryRange(), HistoryRange(attrs=frozenset({A})), HistoryRange(last_n=3),
           HistoryRange(limit=5), HistoryRange(attrs=frozenset({NS + "none"}))]
    for _ in range(12):
        start = BASE + rnd.randrange(-2, 42) * 3_600_000
        end = start + rnd.randrange(1, 20) * 3_600_000
        out.append(HistoryRange(
            start=rnd.choice((start, None)), end=rnd.choice((end, None)),
            last_n=rnd.choice((None, 2, 7)), limit=rnd.choice((None, 4, 100))))
    return out


def _shape(records: dict[str, list[Record]]) -> dict[str, list[tuple[Any, ...]]]:
    return {attr: [(r.dataset, r.t, r.observed, r.instance, r.instance_id) for r in recs]
            for attr, recs in records.items()}


def test_reads_match_the_reference_before_and_after_compaction(store: Store) -> None:
    rnd = random.Random(5)
    written = _random_history(rnd)
    for eid, attr, inst in written:
        hist(store).add_history("", eid, [(attr, inst)])
    windows = _windows(rnd)
    before = {(eid, w): _shape(hist(store).history("", eid, w))
              for eid in (E1, E2) for w in windows}
    # the reference: every record of the entity, in write order, through select()
    from bocage.storage.history_rows import merge_series, record, tail_row

    for eid in (E1, E2):
        rows = [tail_row(e, a, i) for e, a, i in written if e == eid]
        by_attr: dict[int, list[Record]] = {}
        for row in sorted(rows, key=lambda r: r[3]):  # stable: write order at equal t
            by_attr.setdefault(hash(row[1]), []).append(record(row[1], *row[2:]))
        for w in windows:
            expected = merge_series({}, by_attr, w)
            assert before[(eid, w)] == _shape(expected), w
    size = hist(store).history_size()
    assert size.tail_records == len(written) and size.chunks == 0
    while hist(store).compact(BASE + 60 * DAY, max_records=70):
        pass
    size = hist(store).history_size()
    assert size.tail_records == 0 and size.chunk_records == len(written)
    assert 0 < size.chunk_bytes < 40 * len(written)
    for (eid, w), shape in before.items():
        after = _shape(hist(store).history("", eid, w))
        for attr in shape:
            for x, y in zip(after[attr], shape[attr], strict=True):
                assert x == y, w


def test_compaction_keeps_recent_rows_in_the_tail(store: Store) -> None:
    write(store, mut.create(sensor(E1, a=prop(1, BASE)), from_ms(BASE)))
    write(store, mut.merge(sensor(E1, a=prop(2, BASE + DAY)), from_ms(BASE + DAY)))
    assert hist(store).compact(BASE + 1) == 1
    assert hist(store).compact(BASE + 1) == 0
    size = hist(store).history_size()
    assert (size.tail_records, size.chunk_records) == (1, 1)
    assert values(hist(store).history("", E1, HistoryRange())[A]) == [1, 2]
    # a later write in an already compacted period joins its chunk
    hist(store).add_history("", E1, [(A, {**prop(5, BASE + 1000)[0], "createdAt":
                                          from_ms(BASE), "modifiedAt": from_ms(BASE)})])
    assert hist(store).compact(BASE + 1) == 1
    assert hist(store).history_size().chunks == 1
    assert values(hist(store).history("", E1, HistoryRange())[A]) == [1, 5, 2]


@pytest.mark.parametrize("compacted", [False, True])
def test_replace_and_delete_one_instance(store: Store, compacted: bool) -> None:
    stamp = {"createdAt": from_ms(BASE), "modifiedAt": from_ms(BASE)}
    for value, t in ((1, BASE), (2, BASE + 60_000), (3, BASE + 60_000)):
        hist(store).add_history("", E1, [(A, {**prop(value, t)[0], **stamp})])
    if compacted:
        assert hist(store).compact(BASE + 1) == 3
    got = hist(store).history("", E1, HistoryRange())[A]
    ids = [r.instance_id for r in got]
    assert len(set(ids)) == 3  # two records share an instant, not an id
    assert hist(store).replace_instance("", E1, A, ids[2], None)
    assert values(hist(store).history("", E1, HistoryRange())[A]) == [1, 2]
    new = {**prop(20, BASE + 60_000)[0], **stamp}
    assert hist(store).replace_instance("", E1, A, ids[1], new)
    assert values(hist(store).history("", E1, HistoryRange())[A]) == [1, 20]
    assert not hist(store).replace_instance("", E1, A, ids[2], None)  # gone
    assert not hist(store).replace_instance("", E1, A, "urn:x:not-ours", None)
    assert not hist(store).replace_instance("", E1, B, ids[0], None)
    assert not hist(store).replace_instance("other", E1, A, ids[0], None)


def test_reads_on_write_time_axes_match_the_reference(store: Store) -> None:
    """timeproperty createdAt/modifiedAt, before compaction and after it (which makes
    a compacted record's write times its time t, see docs/history.md), frames included."""
    from bocage.history.frame import to_history
    from bocage.storage.history_rows import merge_series, record, tail_row

    rnd = random.Random(11)
    written = _random_history(rnd)
    for n, (eid, attr, inst) in enumerate(written):
        stamp = from_ms(BASE + rnd.randrange(0, 45) * 3_600_000 + n)
        inst["createdAt"] = stamp
        inst["modifiedAt"] = from_ms(to_ms(stamp) + rnd.choice((0, 0, 5000)))
        hist(store).add_history("", eid, [(attr, inst)])
    windows = []
    for _ in range(10):
        start = BASE + rnd.randrange(-2, 42) * 3_600_000
        end = start + rnd.randrange(1, 30) * 3_600_000
        windows.append(HistoryRange(
            timeproperty=rnd.choice(("createdAt", "modifiedAt")),
            start=rnd.choice((start, None)), end=rnd.choice((end, None)),
            last_n=rnd.choice((None, 2, 7)), limit=rnd.choice((None, 4, 100)),
            attrs=rnd.choice((None, frozenset({A})))))

    def reference(eid: str, w: HistoryRange, compacted: bool) -> dict[str, Any]:
        rows = [tail_row(e, a, i) for e, a, i in written if e == eid]
        by_attr: dict[int, list[Record]] = {}
        for row in sorted(rows, key=lambda r: r[3]):
            _, attr, ds, t, observed, created, modified, body = row
            if compacted:
                created = modified = t
            by_attr.setdefault(hash(attr), []).append(
                record(attr, ds, t, observed, created, modified, body))
        return _shape(merge_series({}, by_attr, w))

    for compacted in (False, True):
        if compacted:
            while hist(store).compact(BASE + 60 * DAY, max_records=70):
                pass
            assert hist(store).history_size().tail_records == 0
        for eid in (E1, E2):
            for w in windows:
                expected = reference(eid, w, compacted)
                assert _shape(hist(store).history("", eid, w)) == expected, (compacted, w)
                frames = hist(store).history_frames("", eid, w)
                assert _shape(to_history(frames)) == expected, (compacted, w)
