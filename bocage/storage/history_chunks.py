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

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final

import orjson

from bocage.domain.entity import VALUE_KEY
from bocage.domain.temporal import Record
from bocage.history.codec import Point, decode_chunk, encode_chunk

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
    return [point_record(attr, dataset, p) for p in decode_chunk(bytes(data))]


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
