"""An attribute's history as parallel columns (pure): what a raw temporal read
returns, without building a ``Record`` (and an instance dict) per reading.

A :class:`Frame` holds what ``History[attr]`` holds — the records of one
attribute, every datasetId, in the order ``bocage.domain.temporal.select``
gives them — as one list per field. The rest of each instance (type, unitCode,
datasetId, sub-attributes...) is a :class:`Shape` shared by every record that
has the same one (a compacted chunk stores it once per run), so a renderer
works once per shape and once per value. :meth:`Frame.records` gives the
records back, for code that wants them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bocage.domain.entity import VALUE_KEY
from bocage.domain.temporal import Record, TimeProperty, instance_id


class Shape:
    """An instance without its value and time members: ``body`` (never mutated),
    its attribute type ``kind`` and the member its value goes in, ``vkey``."""

    __slots__ = ("body", "kind", "vkey")

    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body
        self.kind = str(body.get("type", "Property"))
        self.vkey = VALUE_KEY.get(self.kind, "value")


@dataclass(slots=True)
class Frame:
    """The records of one attribute as columns (treat them as immutable: columns
    may be shared between frames). ``observed`` is None where the instance had no
    observedAt; a record's value is ``values[i]`` in member ``shapes[i].vkey``
    (None: the instance has no value member); ``nth`` None means every nth is 0."""

    attr: str
    datasets: list[str]
    t: list[int]
    observed: list[Any]  # int | None (the very list ``t`` when every record is observed)
    created: list[int]
    modified: list[int]
    values: list[Any]
    shapes: list[Shape]
    nth: list[int] | None = None

    def __len__(self) -> int:
        return len(self.t)

    def times(self, prop: TimeProperty) -> list[Any]:
        """The column of a time property (observedAt may hold None)."""
        if prop == "observedAt":
            return self.observed
        return self.created if prop == "createdAt" else self.modified

    def at(self, prop: TimeProperty) -> list[int]:
        """Each record's time on ``prop``, its own time ``t`` where it has none."""
        if prop != "observedAt":
            return self.created if prop == "createdAt" else self.modified
        if self.observed is self.t:
            return self.t
        return [t if o is None else o for t, o in zip(self.t, self.observed, strict=True)]

    def instance_ids(self) -> list[str]:
        if self.nth is None:
            return [instance_id(t, 0) for t in self.t]
        return [instance_id(t, n) for t, n in zip(self.t, self.nth, strict=True)]

    def take(self, rows: slice | list[int]) -> Frame:
        """The frame of the records at ``rows`` (a slice, or indices in order)."""
        if isinstance(rows, slice):
            if rows == slice(None):
                return self

            def cut(column: list[Any]) -> list[Any]:
                return column[rows]
        else:
            def cut(column: list[Any]) -> list[Any]:
                return [column[i] for i in rows]
        t = cut(self.t)
        observed = t if self.observed is self.t else cut(self.observed)
        created = t if self.created is self.t else cut(self.created)
        modified = created if self.modified is self.created else (
            t if self.modified is self.t else cut(self.modified))
        return Frame(self.attr, cut(self.datasets), t, observed, created, modified,
                     cut(self.values), cut(self.shapes),
                     None if self.nth is None else cut(self.nth))

    def records(self) -> list[Record]:
        out = []
        nth = self.nth or [0] * len(self.t)
        for ds, t, observed, created, modified, value, shape, n in zip(
                self.datasets, self.t, self.observed, self.created, self.modified,
                self.values, self.shapes, nth, strict=True):
            inst = dict(shape.body)
            if value is not None:
                inst[shape.vkey] = value
            out.append(Record(self.attr, ds, t, observed, created, modified, inst, n))
        return out


def concat(attr: str, frames: list[Frame]) -> Frame:
    """One frame of several frames' records, in that order (the frame itself when
    there is one)."""
    if len(frames) == 1:
        return frames[0]
    out = Frame(attr, [], [], [], [], [], [], [], None)
    nth: list[int] = []
    for f in frames:
        out.datasets += f.datasets
        out.t += f.t
        out.observed += f.observed
        out.created += f.created
        out.modified += f.modified
        out.values += f.values
        out.shapes += f.shapes
        nth += f.nth if f.nth is not None else [0] * len(f)
    out.nth = nth if any(nth) else None
    # keep the aliases that say "every record observed" / "write times are t"
    if all(f.observed is f.t for f in frames):
        out.observed = out.t
    if all(f.created is f.t for f in frames):
        out.created = out.t
    if all(f.modified is f.t for f in frames):
        out.modified = out.t
    return out


def to_history(frames: list[Frame]) -> dict[str, list[Record]]:
    """The ``History`` (attribute -> records) of frames."""
    return {f.attr: f.records() for f in frames if len(f)}


def from_records(attr: str, records: list[Record]) -> Frame:
    """The frame of an attribute's records (as ``History[attr]`` lists them)."""
    shapes: dict[bytes, Shape] = {}
    out = Frame(attr, [], [], [], [], [], [], [], [r.nth for r in records])
    for r in records:
        body = dict(r.instance)
        kind = str(body.get("type", "Property"))
        value = body.pop(VALUE_KEY.get(kind, "value"), None)
        key = repr(sorted(body.items(), key=lambda kv: kv[0])).encode()
        shape = shapes.get(key)
        if shape is None:
            shape = shapes[key] = Shape(body)
        out.datasets.append(r.dataset)
        out.t.append(r.t)
        out.observed.append(r.observed)
        out.created.append(r.created)
        out.modified.append(r.modified)
        out.values.append(value)
        out.shapes.append(shape)
    if not any(out.nth or ()):
        out.nth = None
    return out
