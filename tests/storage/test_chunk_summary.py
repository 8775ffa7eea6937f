"""Chunk summaries in their binary form (``history_tiers.dump_chunk``) round-trip
exactly, ints apart from floats, and the JSON form written before them is still read."""

from __future__ import annotations

import math
from dataclasses import fields

from hypothesis import given
from hypothesis import strategies as st

from bocage.history.aggregate import summarize
from bocage.storage.history_tiers import dump, dump_chunk, undump_chunk

values = st.one_of(
    st.integers(-(2**70), 2**70), st.floats(allow_nan=False), st.booleans(), st.text(max_size=5),
    st.lists(st.integers(0, 3), max_size=3), st.dictionaries(st.text(max_size=2), st.integers()),
    st.none())
points = st.lists(st.tuples(st.integers(0, 2**45), values), min_size=1, max_size=40)
kinds = st.sampled_from(["Property", "Relationship", "VocabProperty", "SomethingElse"])


@given(points, kinds)
def test_binary_chunk_summaries_round_trip(pts: list[tuple[int, object]], kind: str) -> None:
    summary = summarize(pts)
    t_min, t_max = min(t for t, _ in pts), max(t for t, _ in pts)
    data = dump_chunk(kind, summary, t_min, t_max)
    got_kind, got = undump_chunk(data, t_min, t_max)
    assert got_kind == kind
    for field in fields(summary):  # 1 and 1.0, True and 1 told apart
        assert typed(getattr(got, field.name)) == typed(getattr(summary, field.name))


def typed(value: object) -> object:
    if isinstance(value, list):
        return [typed(v) for v in value]
    if isinstance(value, dict):
        return {k: typed(v) for k, v in value.items()}
    if isinstance(value, float) and math.isnan(value):
        return "nan"  # inf - inf in a sum of squares
    return (type(value), value)


plain = st.lists(st.tuples(st.integers(0, 2**45), st.one_of(
    st.integers(-(2**30), 2**30), st.floats(-1e100, 1e100), st.booleans(), st.text(max_size=5))),
    min_size=1, max_size=40)


@given(plain)
def test_json_chunk_summaries_are_still_read(pts: list[tuple[int, object]]) -> None:
    summary = summarize(pts)
    t_min, t_max = min(t for t, _ in pts), max(t for t, _ in pts)
    assert undump_chunk(dump("Property", summary), t_min, t_max) == ("Property", summary)


def test_binary_is_smaller() -> None:
    pts = [(1_767_225_600_000 + i * 900_000, round(5904.5 + i * 0.3, 1)) for i in range(96)]
    summary = summarize(pts)
    binary = dump_chunk("Property", summary, pts[0][0], pts[-1][0])
    assert len(binary) < 80 < 250 < len(dump("Property", summary))
