"""Downsampling tiers: raw chunks rolled into hourly and daily summaries (pure).

What the retention job does with one chunk or one summary row is decided by
``bocage.history.retention.plan`` under the policy that governs its series
(``resolve``, from the entity's type and scope); this module turns chunks into
bucket summaries and summary rows back into what reads need. The backends run
the SQL (``sqlite_history`` / ``postgres_history``).

How tiers are read back (docs/history.md):

* aggregated queries merge the summaries (``aggregate_summaries``): exact for
  every method but distinctCount when the periods are unions of buckets (P1D
  over hourly buckets, both on UTC boundaries);
* non-aggregated queries get one record per bucket, at the bucket's start,
  whose value is the bucket's mean when its values are numbers, else its last
  value; it says so with a ``bocage:summary`` member (tier and count).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import msgspec
import orjson

from bocage.domain.temporal import Record
from bocage.history.aggregate import EMPTY, Summary, finalize, merge, summarize
from bocage.history.codec import decode_columns

HOUR: Final = 3_600_000
DAY: Final = 86_400_000
TIER_MS: Final = {"hourly": HOUR, "daily": DAY}
#: key of the member a record from a summary carries (not an IRI: never expanded)
SUMMARY_KEY: Final = "bocage:summary"


def chunk_buckets(data: bytes, size_ms: int) -> tuple[str, dict[int, Summary]]:
    """(attribute type, bucket start -> summary) of a chunk's points."""
    columns = decode_columns(bytes(data))
    kind = "Property"
    if columns.extras and len(columns.extras[0]) > 1:
        kind = str(orjson.loads(columns.extras[0][1:]).get("type", "Property"))
    buckets: dict[int, list[tuple[int, object]]] = {}
    for t, value in zip(columns.t, columns.values, strict=True):
        buckets.setdefault(t - t % size_ms, []).append((t, value))
    return kind, {start: summarize(points) for start, points in buckets.items()}


def merged(old: bytes | None, new: Summary) -> Summary:
    """A bucket's stored summary (``dump``ed, or None) merged with ``new``."""
    return new if old is None else merge(undump(old)[1], new)


def load(data: bytes | str) -> Summary:
    return Summary.from_json(bytes(data) if not isinstance(data, str) else data.encode())


def dump(kind: str, summary: Summary) -> bytes:
    """A stored summary: the attribute type, then the summary's JSON."""
    return kind.encode() + b"\n" + summary.to_json()


def undump(data: bytes) -> tuple[str, Summary]:
    kind, _, body = bytes(data).partition(b"\n")
    return kind.decode(), load(body)


#: first byte of a chunk summary: binary, one summary per UTC day of the chunk
#: (``dump_chunk``); binary, one summary (written before the days); JSON with integers
#: beyond 64 bits (read with the standard library). A plain JSON one (the first form)
#: starts with its type name.
_DAYS: Final = b"\x03"
_BINARY: Final = b"\x01"
_BIG_JSON: Final = b"\x02"
_KINDS: Final = ("Property", "GeoProperty", "Relationship", "LanguageProperty",
                 "JsonProperty", "VocabProperty", "ListProperty", "ListRelationship")


def _fields(s: Summary, t_min: int) -> list[Any]:
    mean = None if s.mean == (float(s.total / s.n) if s.n else 0.0) else s.mean
    assert s.first_t is not None and s.last_t is not None
    return [s.count, s.n, s.total, s.sumsq, mean, s.m2, s.num_min, s.num_max, s.text_min,
            s.text_max, None if s.distinct is None else sorted(s.distinct),
            s.first_t - t_min, s.first_value, s.last_t - t_min, s.last_value]


def _summary(fields: list[Any], t_min: int) -> Summary:
    (count, n, total, sumsq, mean, m2, num_min, num_max, text_min, text_max, distinct,
     first, first_value, last, last_value) = fields
    return Summary(
        count=count, n=n, total=total, sumsq=sumsq,
        mean=(float(total / n) if n else 0.0) if mean is None else mean, m2=m2,
        num_min=num_min, num_max=num_max, text_min=text_min, text_max=text_max,
        distinct=None if distinct is None else frozenset(distinct),
        first_t=t_min + first, first_value=first_value, last_t=t_min + last,
        last_value=last_value)


def dump_chunk(kind: str, days: Sequence[Summary], t_min: int) -> bytes:
    """What a compacted chunk whose first point is at ``t_min`` keeps beside its points:
    the summary of each UTC day it holds (non-empty, in time order), in a compact
    binary form (MessagePack, ~60 bytes a day where the JSON of ``dump`` takes ~280):
    times as offsets from ``t_min``, the mean of ``summarize`` left out (computed
    again, exactly). An aggregation whose periods hold whole days reads these instead
    of decoding the chunk. JSON (one summary of the whole chunk) for what MessagePack
    cannot hold."""
    body: list[Any] = [_KINDS.index(kind) if kind in _KINDS else kind]
    body += [_fields(day, t_min) for day in days]
    try:
        return _DAYS + msgspec.msgpack.encode(body)
    except (OverflowError, TypeError):  # an integer beyond 64 bits
        whole = days[0]
        for day in days[1:]:
            whole = merge(whole, day)
        return _BIG_JSON + dump(kind, whole)


def undump_chunk(data: bytes, t_min: int, t_max: int) -> tuple[str, list[Summary]]:
    """(attribute type, summaries in time order) of a chunk summary, whatever its form;
    ``t_min``/``t_max``: the chunk's first and last times."""
    data = bytes(data)
    if data[:1] == _BIG_JSON:
        head, _, json_body = data[1:].partition(b"\n")
        return head.decode(), [Summary.from_json(json_body.decode())]  # exact big ints
    if data[:1] not in (_DAYS, _BINARY):
        name, whole = undump(data)
        return name, [whole]
    try:
        body = msgspec.msgpack.decode(data[1:])
        kind = body[0]
        if data[:1] == _DAYS:
            days = [_summary(fields, t_min) for fields in body[1:]]
        else:  # one summary; first/last times None when they are the chunk's
            fields = list(body[1:])
            first, last = fields[11], fields[13]
            fields[11] = 0 if first is None else first - t_min
            fields[13] = t_max - t_min if last is None else last - t_min
            days = [_summary(fields, t_min)]
    except (msgspec.DecodeError, ValueError, TypeError, IndexError) as exc:
        raise ValueError(f"damaged chunk summary: {exc}") from exc
    return _KINDS[kind] if isinstance(kind, int) else str(kind), days


def summary_record(
    attr: str, dataset: str, tier: str, start: int, data: bytes
) -> Record:
    kind, summary = undump(data)
    value = finalize(summary, "avg") if summary.n == summary.count else None
    if value is None:
        value = summary.last_value
    vkey = {"Relationship": "object", "LanguageProperty": "languageMap",
            "JsonProperty": "json", "VocabProperty": "vocab", "ListProperty": "valueList",
            "ListRelationship": "objectList"}.get(kind, "value")
    inst: dict[str, Any] = {"type": kind, vkey: value,
                            SUMMARY_KEY: {"tier": tier, "count": summary.count}}
    return Record(attr, dataset, start, start, start, start, inst)


def bucket_rows(rows: Sequence[tuple[int, int, bytes]]) -> list[tuple[int, int, Summary]]:
    """(start, end, data) summary rows -> what ``aggregate_summaries`` takes."""
    return [(start, end, undump(data)[1]) for start, end, data in rows]


__all__ = ["EMPTY", "TIER_MS", "bucket_rows", "chunk_buckets", "dump", "dump_chunk",
           "merged", "summary_record", "undump", "undump_chunk"]
