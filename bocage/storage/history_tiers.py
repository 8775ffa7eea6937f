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


#: first byte of a chunk summary in its binary form, and of one in JSON with integers
#: beyond 64 bits (read with the standard library); a plain JSON one (written before the
#: binary form) starts with its type name
_BINARY: Final = b"\x01"
_BIG_JSON: Final = b"\x02"
_KINDS: Final = ("Property", "GeoProperty", "Relationship", "LanguageProperty",
                 "JsonProperty", "VocabProperty", "ListProperty", "ListRelationship")


def dump_chunk(kind: str, s: Summary, t_min: int, t_max: int) -> bytes:
    """The summary a compacted chunk spanning ``[t_min, t_max]`` keeps beside its points,
    in a compact binary form (MessagePack, ~60-80 bytes where the JSON of ``dump`` takes
    ~280: it is stored once per chunk, a day of one attribute): what the chunk row says
    (first/last time = t_min/t_max) and what can be computed again exactly (the mean of
    ``summarize``) are left out. JSON (``dump``) for what MessagePack cannot hold."""
    mean = None if s.mean == (float(s.total / s.n) if s.n else 0.0) else s.mean
    body = [_KINDS.index(kind) if kind in _KINDS else kind, s.count, s.n, s.total, s.sumsq,
            mean, s.m2, s.num_min, s.num_max, s.text_min, s.text_max,
            None if s.distinct is None else sorted(s.distinct),
            None if s.first_t == t_min else s.first_t, s.first_value,
            None if s.last_t == t_max else s.last_t, s.last_value]
    try:
        return _BINARY + msgspec.msgpack.encode(body)
    except (OverflowError, TypeError):  # an integer beyond 64 bits
        return _BIG_JSON + dump(kind, s)


def undump_chunk(data: bytes, t_min: int, t_max: int) -> tuple[str, Summary]:
    """The (attribute type, summary) of a chunk summary, binary (``dump_chunk``) or JSON."""
    data = bytes(data)
    if data[:1] == _BIG_JSON:
        kind_, _, json_body = data[1:].partition(b"\n")
        return kind_.decode(), Summary.from_json(json_body.decode())  # exact big integers
    if data[:1] != _BINARY:
        return undump(data)
    try:
        (kind, count, n, total, sumsq, mean, m2, num_min, num_max, text_min, text_max,
         distinct, first_t, first_value, last_t, last_value) = msgspec.msgpack.decode(data[1:])
    except (msgspec.DecodeError, ValueError) as exc:
        raise ValueError(f"damaged chunk summary: {exc}") from exc
    if mean is None:
        mean = float(total / n) if n else 0.0
    return (_KINDS[kind] if isinstance(kind, int) else str(kind), Summary(
        count=count, n=n, total=total, sumsq=sumsq, mean=mean, m2=m2, num_min=num_min,
        num_max=num_max, text_min=text_min, text_max=text_max,
        distinct=None if distinct is None else frozenset(distinct),
        first_t=t_min if first_t is None else first_t, first_value=first_value,
        last_t=t_max if last_t is None else last_t, last_value=last_value))


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
