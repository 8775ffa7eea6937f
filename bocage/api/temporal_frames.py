"""Frames (``bocage.history.frame``) -> the normalized and temporalValues
representations, and temporal pagination over frames.

The same output as ``bocage.ngsild.temporal_render.render_temporal`` over the
frames' records (``tests/api/test_temporal_frames.py`` holds it to that), at a
fraction of the cost: each distinct instance shape (type, unitCode, datasetId,
sub-attributes) is rendered once, then every reading is that rendering copied
with its value, its time strings and its instanceId. Times are formatted from
epoch milliseconds with cached day and time-of-day strings, not through
``datetime`` objects.
"""

from __future__ import annotations

from typing import Any, Final

from bocage.domain.entity import Entity
from bocage.domain.temporal import INSTANCE_PREFIX, TimeProperty
from bocage.domain.terms import Terms
from bocage.domain.timefmt import from_ms
from bocage.history.frame import Frame, Shape
from bocage.ngsild.render import View, render_instance
from bocage.ngsild.temporal_render import (
    SUMMARY_KEY,
    VALUES_KEY,
    entity_head,
    render_record,
)

_DAY: Final = 86_400_000
_TOD_MAX: Final = 200_000
#: day number -> "YYYY-MM-DDT" (as from_ms writes it); ms of day -> "HH:MM:SS.mmmZ"
_DAYS: dict[int, str] = {}
_TODS: dict[int, str] = {}


def iso_times(times: list[int | None] | list[int]) -> list[str | None]:
    """``from_ms`` of every time (None stays None), with cached parts."""
    days, tods = _DAYS, _TODS
    if len(tods) > _TOD_MAX:
        tods.clear()
    out: list[str | None] = []
    append = out.append
    last_day: int | None = None
    prefix = ""
    for t in times:
        if t is None:
            append(None)
            continue
        day, rest = divmod(t, _DAY)
        if day != last_day:
            found = days.get(day)
            if found is None:
                found = days[day] = from_ms(day * _DAY)[:-13]
            prefix, last_day = found, day
        tod = tods.get(rest)
        if tod is None:
            s, ms = divmod(rest, 1000)
            m, s = divmod(s, 60)
            h, m = divmod(m, 60)
            tod = tods[rest] = f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}Z"
        append(prefix + tod)
    return out


def render_frames(
    head: Entity, frames: list[Frame], terms: Terms, view: View, timeproperty: TimeProperty,
    simplified: bool,
) -> dict[str, Any]:
    out = entity_head(head, terms)
    for frame in frames:
        if not len(frame):
            continue
        name = terms.compact(frame.attr)
        if simplified:
            out[name] = _simplified(frame, terms, timeproperty)
        elif view.lang is not None or view.format != "normalized":
            # views the fast path does not cover: record by record
            out[name] = [render_record(r, terms, view) for r in frame.records()]
        else:
            out[name] = _normalized(frame, terms, view)
    return out


def _template(shape: Shape, terms: Terms, view: View) -> tuple[dict[str, Any], Any]:
    """A shape rendered once (its members in the order the per-record renderer
    gives them), and the ``bocage:summary`` member it carries, if any."""
    body = dict(shape.body)
    summary = body.pop(SUMMARY_KEY, None)
    shown = render_instance(body, terms, view)
    assert isinstance(shown, dict)  # normalized: always an object
    return shown, summary


def _normalized(frame: Frame, terms: Terms, view: View) -> list[dict[str, Any]]:
    observed = iso_times(frame.observed)
    ids = ([f"{INSTANCE_PREFIX}{t}" for t in frame.t] if frame.nth is None
           else frame.instance_ids())
    templates: dict[int, tuple[dict[str, Any], Any]] = {}
    shapes = frame.shapes
    if view.sys_attrs:
        created = iso_times(frame.created)
        modified = created if frame.modified is frame.created else iso_times(frame.modified)
    out: list[dict[str, Any]] = []
    append = out.append
    last: Shape | None = None
    template: dict[str, Any] = {}
    summary: Any = None
    vkey = "value"
    vocab = False
    for i, value in enumerate(frame.values):
        shape = shapes[i]
        if shape is not last:
            found = templates.get(id(shape))
            if found is None:
                found = templates[id(shape)] = _template(shape, terms, view)
            (template, summary), last = found, shape
            vkey, vocab = shape.vkey, shape.kind == "VocabProperty"
        item = dict(template)
        if value is not None:
            item[vkey] = terms.compact_vocab(value) if vocab else value
        at = observed[i]
        if at is not None:
            item["observedAt"] = at
        if view.sys_attrs:
            item["createdAt"] = created[i]
            item["modifiedAt"] = modified[i]
        item["instanceId"] = ids[i]
        if summary is not None:
            item[SUMMARY_KEY] = summary
        append(item)
    return out


def _simplified(frame: Frame, terms: Terms, prop: TimeProperty) -> Any:
    times = iso_times(frame.at(prop))
    series: dict[str, dict[str, Any]] = {}
    columns: dict[str, list[Any]] = {}
    for ds, value, shape, at in zip(frame.datasets, frame.values, frame.shapes, times,
                                    strict=True):
        found = columns.get(ds)
        if found is None:
            kind = shape.kind
            key = VALUES_KEY.get(kind, "values")
            head: dict[str, Any] = {"type": kind, key: []}
            if ds:
                head["datasetId"] = ds
            series[ds] = head
            found = columns[ds] = head[key]
        if shape.kind == "VocabProperty":
            value = terms.compact_vocab(value)
        found.append([value, at])
    shown = list(series.values())
    return shown[0] if len(shown) == 1 else shown


def paginate(entities: list[list[Frame]], page: int, backward: bool,
             prop: TimeProperty) -> tuple[list[list[Frame]], tuple[int, int] | None]:
    """Temporal pagination over frames (as ``temporal._paginate`` over records): when
    an attribute has more than ``page`` records, every attribute is cut to the span
    all are complete for. (the frames, that span in ms) — span None when nothing was cut."""
    cut: list[int] = []
    for frames in entities:
        for frame in frames:
            if len(frame) > page:
                at = frame.at(prop)
                cut.append(at[len(at) - page] if backward else at[page - 1])
    if not cut:
        return entities, None
    edge = max(cut) if backward else min(cut)
    first, last = edge, edge
    out: list[list[Frame]] = []
    for frames in entities:
        kept_frames = []
        for frame in frames:
            if len(frame) > page:
                frame = frame.take(slice(len(frame) - page, None) if backward else slice(page))
            at = frame.at(prop)
            rows = [i for i, x in enumerate(at) if (x >= edge if backward else x <= edge)]
            kept = frame.take(rows if len(rows) < len(at) else slice(None))
            kept.attr = frame.attr
            if rows:
                times = [at[i] for i in rows]
                first, last = min(first, min(times)), max(last, max(times))
            kept_frames.append(kept)
        out.append(kept_frames)
    return out, (first, last)
