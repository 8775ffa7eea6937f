"""Stored rows -> :class:`bocage.history.frame.Frame` per attribute, for both backends.

The columnar twin of ``history_chunks.records_of``: the same records, numbered
and selected as ``history_rows.merge_series`` and ``bocage.domain.temporal.select``
do (the contract tests hold both to that reference), without a ``Record`` per
reading. A month of 15-minute readings is 30 chunks: decoding them is a few list
operations each, and when the window cuts inside a time-ordered series, a bisection.

Decoded chunks are kept in a small cache keyed by the chunk's bytes themselves
(content-addressed: a rewritten chunk is another key, so the cache can never
answer with stale data), bounded by an estimate of the memory they hold. Only
chunks whose values are scalars are kept: their lists are then shared between
answers, and nothing in them can be mutated.
"""

from __future__ import annotations

import bisect
import threading
from collections import OrderedDict
from typing import Any, Final

import numpy as np
import orjson

from bocage.domain.temporal import HistoryRange, TimeProperty
from bocage.history.codec import decode_columns
from bocage.history.frame import Frame, Shape, concat
from bocage.storage.history_rows import StoredRows
from bocage.storage.history_tiers import summary_record

_OBSERVED: Final = ord("o")
_SCALARS: Final = frozenset({int, float, str, bool, type(None)})
#: rough bytes a decoded point holds (list slots, int and float objects)
_POINT_BYTES: Final = 120


class _Decoded:
    """A chunk's columns: times, observed (``t`` itself when every point has an
    observedAt), values, one shape per point."""

    __slots__ = ("observed", "shapes", "t", "values")

    def __init__(self, t: list[int], observed: list[Any], values: list[Any],
                 shapes: list[Shape]) -> None:
        self.t, self.observed, self.values, self.shapes = t, observed, values, shapes


class ChunkCache:
    """LRU of decoded chunks keyed by their bytes, at most ``max_bytes`` (estimated)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[bytes, tuple[_Decoded, int]] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, data: bytes) -> _Decoded | None:
        with self._lock:
            found = self._items.get(data)
            if found is None:
                return None
            self._items.move_to_end(data)
            return found[0]

    def put(self, data: bytes, decoded: _Decoded) -> None:
        cost = len(data) + len(decoded.t) * _POINT_BYTES
        if cost > self.max_bytes // 8:
            return
        with self._lock:
            if data in self._items:
                return
            self._items[data] = (decoded, cost)
            self._size += cost
            while self._size > self.max_bytes:
                _, (_, gone) = self._items.popitem(last=False)
                self._size -= gone

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._size = 0


#: the process-wide cache of decoded chunks (64 MB of decoded points at most)
CHUNKS: Final = ChunkCache(64 << 20)


def decode(data: bytes, cache: ChunkCache | None = CHUNKS) -> _Decoded:
    data = bytes(data)
    found = cache.get(data) if cache is not None else None
    if found is not None:
        return found
    columns = decode_columns(data)
    kinds: dict[bytes, tuple[Shape, bool]] = {}
    for extra in set(columns.extras):
        body: dict[str, Any] = orjson.loads(extra[1:]) if len(extra) > 1 else {}
        kinds[extra] = (Shape(body), extra[:1] == b"o" if extra else False)
    t = columns.t
    if len(kinds) == 1:
        shape, observed = next(iter(kinds.values()))
        shapes = [shape] * len(t)
        observed_col: list[Any] = t if observed else [None] * len(t)
    else:
        shapes = [kinds[e][0] for e in columns.extras]
        observed_col = [x if kinds[e][1] else None
                        for x, e in zip(t, columns.extras, strict=True)]
    decoded = _Decoded(t, observed_col, columns.values, shapes)
    if cache is not None and set(map(type, columns.values)) <= _SCALARS:
        cache.put(data, decoded)
    return decoded


def frames_of(rows: StoredRows, window: HistoryRange,
              cache: ChunkCache | None = CHUNKS) -> list[Frame]:
    """The records ``window`` selects, one frame per attribute (in IRI order)."""
    parts: dict[int, list[Frame]] = {}  # nid -> chunk-side frames, then tail frames
    tails: dict[int, list[Frame]] = {}
    for nid, ds, tier, start, _, data in rows.summaries:
        rec = summary_record("", ds, tier, start, data)
        value_key = Shape(rec.instance).vkey
        value = rec.instance.get(value_key)
        body = {k: v for k, v in rec.instance.items() if k != value_key}
        parts.setdefault(nid, []).append(Frame("", [ds], [start], [start], [start], [start],
                                               [value], [Shape(body)]))
    for nid, ds, data in rows.chunks:
        d = decode(data, cache)
        if d.t:
            parts.setdefault(nid, []).append(
                Frame("", [ds] * len(d.t), d.t, d.observed, d.t, d.t, d.values, d.shapes))
    for nid, ds, t, observed, created, modified, body in rows.tail:
        inst = orjson.loads(body)
        shape = Shape(inst)
        value = inst.pop(shape.vkey, None)
        tails.setdefault(nid, []).append(
            Frame("", [ds], [t], [observed], [created], [modified], [value], [shape]))
    out = []
    for nid in sorted(set(parts) | set(tails)):
        attr = rows.name(nid)
        if window.attrs is not None and attr not in window.attrs:
            continue
        frame = _numbered(attr, parts.get(nid, []), tails.get(nid, []))
        chosen = select_frame(frame, window)
        if len(chosen):
            out.append(chosen)
    out.sort(key=lambda f: f.attr)
    return out


def _numbered(attr: str, chunks: list[Frame], tail: list[Frame]) -> Frame:
    """Chunk records then tail records of one attribute, ordered by (t, datasetId)
    (stable: chunk records first, then in stored order) and numbered (``nth``) as
    ``history_rows.number_series`` numbers them."""
    whole = concat(attr, chunks + tail)
    whole.attr = attr
    t, ds = whole.t, whole.datasets
    n = len(t)
    steps = np.diff(np.asarray(t, dtype=np.int64)) if n > 1 else np.zeros(0, np.int64)
    one_dataset = n == 0 or ds.count(ds[0]) == n
    if not (one_dataset and bool((steps >= 0).all())):
        order = sorted(range(n), key=lambda i: (t[i], ds[i]))
        whole = whole.take(order)
        whole.attr = attr
        t = whole.t
        steps = np.diff(np.asarray(t, dtype=np.int64)) if n > 1 else steps
    if bool((steps == 0).any()):
        nth, last, count = [], None, 0
        for x in t:
            count = count + 1 if x == last else 0
            last = x
            nth.append(count)
        whole.nth = nth
    else:
        whole.nth = None
    return whole


def select_frame(frame: Frame, window: HistoryRange) -> Frame:
    """What ``bocage.domain.temporal.select`` keeps of one attribute's records."""
    prop: TimeProperty = window.timeproperty
    start, end = window.start, window.end
    rows: slice | list[int] = slice(None)
    if start is not None or end is not None:
        lo = start if start is not None else -(2**63)
        hi = end if end is not None else 2**63
        column = frame.times(prop)
        if column is frame.t and frame.nth is None:  # every record observed, t ordered
            rows = slice(bisect.bisect_left(column, lo), bisect.bisect_left(column, hi))
        else:
            rows = [i for i, x in enumerate(column) if x is not None and lo <= x < hi]
    chosen = frame.take(rows)
    chosen.attr = frame.attr
    cap = window.last_n
    if window.limit is not None:
        cap = window.limit if cap is None else min(cap, window.limit)
    ds = chosen.datasets
    if not ds or (ds.count(ds[0]) == len(ds) and prop == "observedAt"):
        if cap is None or cap >= len(chosen):
            return chosen
        return chosen.take(slice(-cap, None) if window.last_n is not None else slice(cap))
    # several datasets (or another time axis): per series, ordered, capped
    series: dict[str, list[int]] = {}
    for i, d in enumerate(ds):
        series.setdefault(d, []).append(i)
    at = chosen.at(prop)
    picked: list[int] = []
    for _, idx in sorted(series.items()):
        if prop != "observedAt":
            idx.sort(key=at.__getitem__)
        if cap is not None:
            idx = idx[-cap:] if window.last_n is not None else idx[:cap]
        picked += idx
    out = chosen.take(picked)
    out.attr = frame.attr
    return out
