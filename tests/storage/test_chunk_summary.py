"""Chunk summaries (``history_tiers.dump_chunk``: one per UTC day of the chunk, binary)
round-trip exactly, ints apart from floats, and the forms written before them (JSON, one
binary summary) are still read."""

from __future__ import annotations

import math
from dataclasses import fields

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from bocage.history.aggregate import Summary, summarize
from bocage.storage.history_chunks import DAY_MS
from bocage.storage.history_tiers import dump, dump_chunk, undump_chunk

values = st.one_of(
    st.integers(-(2**70), 2**70), st.floats(allow_nan=False), st.booleans(), st.text(max_size=5),
    st.lists(st.integers(0, 3), max_size=3), st.dictionaries(st.text(max_size=2), st.integers()),
    st.none())
points = st.lists(st.tuples(st.integers(0, 2**45), values), min_size=1, max_size=40)
kinds = st.sampled_from(["Property", "Relationship", "VocabProperty", "SomethingElse"])


def typed(value: object) -> object:
    if isinstance(value, list):
        return [typed(v) for v in value]
    if isinstance(value, dict):
        return {k: typed(v) for k, v in value.items()}
    if isinstance(value, float) and math.isnan(value):
        return "nan"  # inf - inf in a sum of squares
    return (type(value), value)


def ints(value: object) -> list[int]:
    if isinstance(value, list | tuple):
        return [i for v in value for i in ints(v)]
    if isinstance(value, dict):
        return ints(list(value.values()))
    return [value] if isinstance(value, int) else []


def same(got: Summary, want: Summary) -> None:
    for field in fields(want):  # 1 and 1.0, True and 1 told apart
        assert typed(getattr(got, field.name)) == typed(getattr(want, field.name)), field.name


@given(points, kinds, st.integers(0, 3))
def test_day_summaries_round_trip(pts: list[tuple[int, object]], kind: str, spread: int) -> None:
    pts = [(t % (spread * DAY_MS + 1), v) for t, v in pts]  # up to a few days
    days: dict[int, list[tuple[int, object]]] = {}
    for t, v in pts:
        days.setdefault(t - t % DAY_MS, []).append((t, v))
    want = [summarize(days[d]) for d in sorted(days)]
    t_min, t_max = min(t for t, _ in pts), max(t for t, _ in pts)
    data = dump_chunk(kind, want, t_min)
    got_kind, got = undump_chunk(data, t_min, t_max)
    if data[:1] == b"\x02":  # an integer beyond 64 bits: one JSON summary of the chunk
        assert any(abs(v) >= 2**31 for v in ints([v for _, v in pts]))
        assert got_kind == kind and len(got) == 1 and got[0].count == len(pts)
        return
    assert got_kind == kind and len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        same(g, w)


plain = st.lists(st.tuples(st.integers(0, 2**45), st.one_of(
    st.integers(-(2**30), 2**30), st.floats(-1e100, 1e100), st.booleans(), st.text(max_size=5))),
    min_size=1, max_size=40)


@given(plain)
def test_earlier_forms_are_still_read(pts: list[tuple[int, object]]) -> None:
    summary = summarize(pts)
    t_min, t_max = min(t for t, _ in pts), max(t for t, _ in pts)
    assert undump_chunk(dump("Property", summary), t_min, t_max) == ("Property", [summary])
    s = summary  # the single binary summary of the first binary form
    mean = None if s.mean == (float(s.total / s.n) if s.n else 0.0) else s.mean
    one = b"\x01" + msgspec.msgpack.encode([
        0, s.count, s.n, s.total, s.sumsq, mean, s.m2, s.num_min, s.num_max, s.text_min,
        s.text_max, None if s.distinct is None else sorted(s.distinct), None, s.first_value,
        None, s.last_value])
    kind, [got] = undump_chunk(one, t_min, t_max)
    assert kind == "Property"
    same(got, summary)


def test_a_day_costs_far_less_than_its_json() -> None:
    pts = [(1_767_225_600_000 + i * 900_000, round(5904.5 + i * 0.3, 1)) for i in range(96)]
    summary = summarize(pts)
    binary = dump_chunk("Property", [summary], pts[0][0])
    assert len(binary) < 80 < 250 < len(dump("Property", summary))
