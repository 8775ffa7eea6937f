"""Records <-> compressed chunk points (``bocage.history.codec``), for both backends.

A point is a record's time ``t``, its value (the member its attribute type
holds it in: ``value``, ``object``, ``languageMap``...) and, as ``extra``, the
rest of the instance as JSON behind one marker byte: ``o`` when ``t`` is the
instance's observedAt, ``m`` when it had none (``t`` is then its modifiedAt).
Instances of one sensor share their rest (type, unitCode), which the codec
stores once per run, so a reading costs its time and value deltas.

What compaction does not keep: a compacted record's ``createdAt`` and
``modifiedAt`` both become ``t``. Keeping the write time of every reading
would cost bytes for every point (it varies with network delay), and the
temporal API's default axis is observedAt; a query on createdAt/modifiedAt
beyond the tail window reads them as ``t`` (docs/history.md).
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final

import orjson

from bocage.domain.entity import VALUE_KEY
from bocage.domain.temporal import History, HistoryRange, Record, Series
from bocage.history.aggregate import summarize
from bocage.history.codec import Point, decode_columns, encode_chunk
from bocage.history.frame import to_history
from bocage.storage.history_frames import frames_of
from bocage.storage.history_rows import StoredRows
from bocage.storage.history_tiers import dump_chunk, undump, undump_chunk

_OBSERVED: Final = ord("o")


def to_point(t: int, observed: bool, body: dict[str, Any]) -> Point:
    vkey = VALUE_KEY.get(body.get("type", "Property"), "value")
    rest = {k: v for k, v in body.items() if k != vkey}
    marker = b"o" if observed else b"m"
    return Point(t, body.get(vkey), marker + orjson.dumps(rest))


def record_point(rec: Record) -> Point:
    return to_point(rec.t, rec.observed is not None, rec.instance)


def point_record(attr: str, dataset: str, point: Point) -> Record:
    extra = point.extra
    body: dict[str, Any] = orjson.loads(extra[1:]) if len(extra) > 1 else {}
    vkey = VALUE_KEY.get(body.get("type", "Property"), "value")
    if point.value is not None or vkey in body:
        body[vkey] = point.value
    observed = point.t if extra[:1] and extra[0] == _OBSERVED else None
    return Record(attr, dataset, point.t, observed, point.t, point.t, body)


def chunk_records(attr: str, dataset: str, data: bytes) -> list[Record]:
    columns = decode_columns(bytes(data))
    shapes: dict[bytes, tuple[dict[str, Any], str, bool]] = {}
    out: list[Record] = []
    for t, value, extra in zip(columns.t, columns.values, columns.extras, strict=True):
        shape = shapes.get(extra)
        if shape is None:
            body: dict[str, Any] = orjson.loads(extra[1:]) if len(extra) > 1 else {}
            vkey = VALUE_KEY.get(body.get("type", "Property"), "value")
            shape = shapes[extra] = (body, vkey, extra[:1] == b"o")
        template, vkey, observed = shape
        inst = dict(template)
        if value is not None:
            inst[vkey] = value
        out.append(Record(attr, dataset, t, t if observed else None, t, t, inst))
    return out


def records_of(rows: StoredRows, window: HistoryRange) -> History:
    """The records ``window`` selects: the frames' (``history_frames``) records."""
    return to_history(frames_of(rows, window))


def columns_of(rows: StoredRows, window: HistoryRange) -> list[Series]:
    """The (time, value) columns of every series ``window`` selects (``last_n``
    and ``limit`` do not apply: aggregation reads the whole range)."""
    bounded = window.start is not None or window.end is not None
    lo = window.start if window.start is not None else -(2**62)
    hi = window.end if window.end is not None else 2**62
    found: dict[tuple[int, str], tuple[str, list[int], list[Any]]] = {}
    for nid, ds, data in rows.chunks:
        columns = decode_columns(bytes(data))
        if not columns.t:
            continue
        kinds: dict[bytes, tuple[str, bool]] = {}
        for extra in set(columns.extras):
            body = orjson.loads(extra[1:]) if len(extra) > 1 else {}
            kinds[extra] = (str(body.get("type", "Property")), extra[:1] == b"o")
        entry = found.get((nid, ds))
        if entry is None:
            entry = found[(nid, ds)] = (kinds[columns.extras[0]][0], [], [])
        times, values = entry[1], entry[2]
        every_observed = all(obs for _, obs in kinds.values())
        inside = lo <= min(columns.t) and max(columns.t) < hi
        if inside and (every_observed or not bounded):
            times.extend(columns.t)  # the usual case: the whole chunk, no loop
            values.extend(columns.values)
            continue
        for t, value, extra in zip(columns.t, columns.values, columns.extras, strict=True):
            if lo <= t < hi and (every_observed or not bounded or kinds[extra][1]):
                times.append(t)
                values.append(value)
    prop = window.timeproperty
    for nid, ds, t, observed, created, modified, body in rows.tail:
        at = {"observedAt": observed, "createdAt": created, "modifiedAt": modified}[prop]
        if at is None:
            if bounded:
                continue
            at = t
        if not lo <= at < hi:
            continue
        inst = orjson.loads(body)
        kind = str(inst.get("type", "Property"))
        entry = found.get((nid, ds))
        if entry is None:
            entry = found[(nid, ds)] = (kind, [], [])
        entry[1].append(at)
        entry[2].append(inst.get(VALUE_KEY.get(kind, "value")))
    buckets: dict[tuple[int, str], list[Any]] = {}
    for nid, ds, tier, start, stop, data in rows.summaries:
        # a chunk's day, already read by split_by_summary; a downsampling tier's bucket
        kind, summary = data if tier == "chunk" else undump(data)
        if (nid, ds) not in found:
            found[(nid, ds)] = (kind, [], [])
        buckets.setdefault((nid, ds), []).append((start, stop, summary))
    out = []
    for (nid, ds), (kind, times, values) in sorted(found.items()):
        if window.attrs is not None and rows.name(nid) not in window.attrs:
            continue
        if times and any(b < a for a, b in itertools.pairwise(times)):
            order = sorted(range(len(times)), key=times.__getitem__)
            times = [times[i] for i in order]
            values = [values[i] for i in order]
        out.append(Series(rows.name(nid), ds, kind, times, values, buckets.get((nid, ds), [])))
    return out


def chunk_summary(records: Sequence[Record]) -> bytes | None:
    """What a compacted chunk keeps beside its points (``history_tiers.dump_chunk``): the
    summary of each UTC day it holds, so that aggregations over whole days need not
    decode it; None when one of its points has no observedAt (its time would then not
    be on the default axis)."""
    if not records or any(r.observed is None for r in records):
        return None
    kind = str(records[0].instance.get("type", "Property"))
    vkey = VALUE_KEY.get(kind, "value")
    days: dict[int, list[tuple[int, object]]] = {}
    for r in records:
        days.setdefault(r.t - r.t % DAY_MS, []).append((r.t, r.instance.get(vkey)))
    return dump_chunk(kind, [summarize(days[d]) for d in sorted(days)],
                      min(r.t for r in records))


#: the span of the summaries a chunk keeps (a UTC day)
DAY_MS: Final = 86_400_000


def inside_window(t_min: int, t_max: int, window: HistoryRange) -> bool:
    """Whether points spanning ``[t_min, t_max]`` all lie in an aggregation's window."""
    if window.periods is None or window.timeproperty != "observedAt":
        return False
    if window.start is not None and t_min < window.start:
        return False
    return window.end is None or t_max < window.end


def summary_usable(t_min: int, t_max: int, window: HistoryRange) -> bool:
    """Whether points spanning ``[t_min, t_max]`` may be read as their summary for
    ``window``: inside the window and inside one of its aggregation periods."""
    bounds = window.periods
    if bounds is None or not inside_window(t_min, t_max, window):
        return False
    k = bisect.bisect_right(bounds, t_min) - 1
    return 0 <= k < len(bounds) - 1 and t_max < bounds[k + 1]


def split_by_summary(
    rows: Iterable[tuple[Any, Any, int, int, int, Any]], window: HistoryRange,
    fetch: Callable[[Any, Any, int], Any],
) -> tuple[list[tuple[Any, Any, Any]], list[tuple[Any, Any, str, int, int, Any]]]:
    """Chunk rows ``(nid, ds, start, t_min, t_max, summary)`` of an aggregation read ->
    (chunks to decode ``(nid, ds, data)``, summary rows ``(nid, ds, "chunk", first,
    stop, (kind, Summary))``): a chunk inside the window whose every day lies inside one
    period of ``window`` is read as its days' summaries, the others' points are fetched
    (``fetch(nid, ds, start)`` -> data). Both backends."""
    chunks, summaries = [], []
    for nid, ds, start, t_min, t_max, summary in rows:
        if summary is not None and inside_window(t_min, t_max, window):
            kind, days = undump_chunk(summary, t_min, t_max)
            if all(d.first_t is not None and d.last_t is not None
                   and summary_usable(d.first_t, d.last_t, window) for d in days):
                summaries += [(nid, ds, "chunk", d.first_t, d.last_t + 1, (kind, d))
                              for d in days if d.first_t is not None and d.last_t is not None]
                continue
        chunks.append((nid, ds, fetch(nid, ds, start)))
    return chunks, summaries


def encode_records(records: Iterable[Record]) -> tuple[bytes, int, int, int]:
    """(blob, t_min, t_max, count) of records (sorted by t, stably)."""
    points = sorted((record_point(r) for r in records), key=lambda p: p.t)
    return encode_chunk(points), points[0].t, points[-1].t, len(points)


def period_start(t: int, period_ms: int) -> int:
    return t - t % period_ms


#: where a record is: a tail row's seq, or (ds as stored, chunk start, the
#: chunk's other records)
Location = int | tuple[Any, int, list[Record]]


def locate(
    attr: str,
    t: int,
    nth: int,
    chunks: Sequence[tuple[Any, int, bytes]],
    tail: Sequence[tuple[Any, int]],
    text: Callable[[Any], str] = str,
) -> Location | None:
    """The ``nth`` record at ``t`` among the chunks ``(ds, start, data)`` whose
    span holds ``t`` and the tail rows ``(ds, seq)`` at ``t`` (in seq order),
    numbered as ``history_rows.merge_series`` numbers them."""
    found: list[tuple[tuple[str, int, int], Location]] = []
    for ds, start, data in chunks:
        records = chunk_records(attr, text(ds), data)
        for i, rec in enumerate(records):
            if rec.t == t:
                rest = records[:i] + records[i + 1 :]
                found.append(((text(ds), 0, len(found)), (ds, start, rest)))
    for ds, seq in tail:
        found.append(((text(ds), 1, seq), int(seq)))
    found.sort(key=lambda item: item[0])
    return found[nth][1] if nth < len(found) else None
