"""The columnar renderer (``bocage.api.temporal_frames``) against the per-record
one (``bocage.ngsild.temporal_render.render_temporal``) and the record-by-record
pagination it replaced, over random histories (hypothesis): same JSON, same pages."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from bocage.api.temporal_frames import iso_times, paginate, render_frames
from bocage.domain.temporal import History, Record, TimeProperty
from bocage.domain.timefmt import from_ms
from bocage.history.frame import from_records, to_history
from bocage.ngsild.render import View
from bocage.ngsild.temporal_render import render_temporal

NS = "https://example.org/"
BASE = 1_767_225_600_000  # 2026-01-01


class Terms:
    """Compacts the example namespace, and vocab values to their last segment."""

    def expand(self, term: str) -> str:
        return NS + term

    def compact(self, iri: str) -> str:
        return iri.removeprefix(NS)

    def expand_vocab(self, value: Any) -> Any:
        return value

    def compact_vocab(self, value: Any) -> Any:
        return value.rsplit("/", 1)[-1] if isinstance(value, str) else value


values = st.one_of(st.integers(-5, 5), st.floats(allow_nan=False, width=32), st.booleans(),
                   st.sampled_from(["on", "off", NS + "vocab/open"]),
                   st.lists(st.integers(0, 3), max_size=2))


@st.composite
def records(draw: st.DrawFn, attr: str) -> list[Record]:
    out = []
    kind = draw(st.sampled_from(["Property", "Property", "Relationship", "VocabProperty"]))
    vkey = {"Relationship": "object", "VocabProperty": "vocab"}.get(kind, "value")
    last_t, nth = None, 0
    for _ in range(draw(st.integers(0, 12))):
        t = BASE + draw(st.integers(0, 40)) * 1000 + draw(st.sampled_from([0, 0, 7]))
        inst: dict[str, Any] = {"type": kind}
        if draw(st.booleans()):
            inst["unitCode"] = draw(st.sampled_from(["CEL", "KWH"]))
        if draw(st.integers(0, 4)) == 0:
            inst[NS + "quality"] = {"type": "Property", "value": draw(st.integers(0, 2))}
        if draw(st.integers(0, 3)) > 0:
            inst[vkey] = draw(values)
        if draw(st.integers(0, 5)) == 0:
            inst["bocage:summary"] = {"tier": "hourly", "count": 3}
        dataset = draw(st.sampled_from(["", "", "urn:ngsi-ld:Dataset:b"]))
        if dataset:
            inst["datasetId"] = dataset
        observed = t if draw(st.integers(0, 4)) > 0 else None
        created = t + draw(st.integers(0, 5000))
        modified = created + draw(st.integers(0, 5000))
        out.append((t, dataset, observed, created, modified, inst))
    out.sort(key=lambda r: (r[0], r[1]))
    recs = []
    for t, dataset, observed, created, modified, inst in out:
        nth = nth + 1 if t == last_t else 0
        last_t = t
        recs.append(Record(attr, dataset, t, observed, created, modified, inst, nth))
    return recs


@st.composite
def histories(draw: st.DrawFn) -> History:
    return {NS + a: draw(records(NS + a)) for a in ("a", "b")}


def frames(history: History) -> list[Any]:
    return [from_records(attr, recs) for attr, recs in sorted(history.items()) if recs]


props = st.sampled_from(["observedAt", "createdAt", "modifiedAt"])


@settings(max_examples=200, deadline=None)
@given(histories(), st.booleans(), st.booleans(), props)
def test_same_json_as_the_record_renderer(history: History, sys_attrs: bool, simplified: bool,
                                          prop: TimeProperty) -> None:
    head = {"id": "urn:ngsi-ld:Sensor:1", "type": [NS + "Sensor"]}
    view = View(sys_attrs=sys_attrs)
    expected = render_temporal(head, history, Terms(), view, prop, simplified)
    got = render_frames(head, frames(history), Terms(), view, prop, simplified)
    assert orjson.loads(orjson.dumps(got)) == orjson.loads(orjson.dumps(expected))


@settings(max_examples=200, deadline=None)
@given(histories(), st.booleans())
def test_frames_give_their_records_back(history: History, _: bool) -> None:
    assert to_history(frames(history)) == {a: r for a, r in history.items() if r}


def reference_paginate(histories: list[History], page: int, backward: bool,
                       prop: TimeProperty) -> tuple[int, int] | None:
    """The record-by-record pagination the frames replaced (temporal._paginate)."""

    def at(r: Record) -> int:
        t = r.time(prop)
        return r.t if t is None else t

    cut: list[int] = []
    for hist in histories:
        for recs in hist.values():
            if len(recs) > page:
                if backward:
                    del recs[: len(recs) - page]
                else:
                    del recs[page:]
                cut.append(at(recs[0]) if backward else at(recs[-1]))
    if not cut:
        return None
    edge = max(cut) if backward else min(cut)
    first, last = edge, edge
    for hist in histories:
        for attr, recs in hist.items():
            kept = [r for r in recs if (at(r) >= edge if backward else at(r) <= edge)]
            hist[attr] = kept
            for r in kept:
                first, last = min(first, at(r)), max(last, at(r))
    return first, last


@settings(max_examples=300, deadline=None)
@given(st.lists(histories(), min_size=1, max_size=3), st.integers(1, 6), st.booleans(), props)
def test_pages_as_the_record_pagination(entities: list[History], page: int, backward: bool,
                                        prop: TimeProperty) -> None:
    entity_frames = [frames(h) for h in entities]
    copies = [{a: list(r) for a, r in h.items() if r} for h in entities]
    expected = reference_paginate(copies, page, backward, prop)
    got, span = paginate(entity_frames, page, backward, prop)
    assert span == expected
    for want, have in zip(copies, got, strict=True):
        assert {a: r for a, r in want.items() if r} == to_history(have)


@given(st.lists(st.one_of(st.none(), st.integers(-62_135_596_800_000, 253_402_300_799_999))))
def test_iso_times_as_from_ms(times: list[int | None]) -> None:
    assert iso_times(times) == [None if t is None else from_ms(t) for t in times]
