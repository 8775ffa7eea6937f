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


__all__ = ["EMPTY", "TIER_MS", "bucket_rows", "chunk_buckets", "dump", "merged",
           "summary_record", "undump"]
