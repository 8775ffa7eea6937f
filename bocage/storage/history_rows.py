"""What a write adds to the history, and how stored rows become records (pure).

Both backends record history inside the transaction of the entity write: for
every attribute instance a mutation creates or changes (compared with the
entity before it, by ``modifiedAt`` first, then by content), one *tail row*.
Its time members are kept as epoch-ms columns (``t``, ``observed``,
``created``, ``modified``) and removed from the stored body, which
:func:`record` and ``bocage.ngsild.temporal_render`` put back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from bocage.domain.entity import ENTITY_KEYS, Entity, Instance
from bocage.domain.temporal import History, HistoryRange, Record, select
from bocage.domain.timefmt import to_ms

_TIME_KEYS: Final = ("observedAt", "createdAt", "modifiedAt")

#: (entity id, attribute IRI, datasetId or "", t, observed, created, modified, body)
TailRow = tuple[str, str, str, int, int | None, int, int, bytes]

#: normal-form instant -> ms. Every instance a write stamps shares its ``now``,
#: and sensors repeat observedAt values: parsing each costs more than a row.
_MS: dict[str, int] = {}
_MS_MAX: Final = 8192


_DAYS: dict[str, int] = {}  # "YYYY-MM-DD" -> ms at its midnight


def ms(text: str) -> int:
    """Epoch ms of a stored instant. Stored instants are in the normal form
    (``YYYY-MM-DDTHH:MM:SS.mmmZ``): read by slicing, the date part cached;
    anything else goes through the strict parser."""
    found = _MS.get(text)
    if found is not None:
        return found
    if len(text) == 24 and text[10] == "T" and text[19] == "." and text[23] == "Z":
        day = _DAYS.get(text[:10])
        if day is None:
            if len(_DAYS) >= _MS_MAX:
                _DAYS.clear()
            day = _DAYS[text[:10]] = to_ms(text[:10] + "T00:00:00Z")
        try:
            found = (day + int(text[11:13]) * 3_600_000 + int(text[14:16]) * 60_000
                     + int(text[17:19]) * 1000 + int(text[20:23]))
        except ValueError:
            found = to_ms(text)
    else:
        found = to_ms(text)
    if len(_MS) >= _MS_MAX:
        _MS.clear()
    _MS[text] = found
    return found


def tail_row(entity_id: str, attr: str, inst: Instance) -> TailRow:
    observed_text = inst.get("observedAt")
    modified = ms(inst["modifiedAt"]) if "modifiedAt" in inst else 0
    created = ms(inst["createdAt"]) if "createdAt" in inst else modified
    observed = ms(observed_text) if isinstance(observed_text, str) else None
    body = {k: v for k, v in inst.items() if k not in _TIME_KEYS}
    return (
        entity_id,
        attr,
        str(inst.get("datasetId", "")),
        modified if observed is None else observed,
        observed,
        created,
        modified,
        orjson.dumps(body),
    )


def entity_head(entity: Entity) -> bytes:
    """What history keeps of an entity deleted through /entities."""
    return orjson.dumps({k: entity[k] for k in ("id", "type", "scope") if k in entity})


def written_instances(entity_id: str, before: Entity | None, after: Entity) -> list[TailRow]:
    """One row per instance of ``after`` that ``before`` did not hold as is."""
    rows: list[TailRow] = []
    for attr, insts in after.items():
        if attr in ENTITY_KEYS or not isinstance(insts, list):
            continue
        old = before.get(attr) if before is not None else None
        if old is insts:
            continue
        previous: dict[Any, Instance] = {}
        if old:
            previous = {i.get("datasetId"): i for i in old if isinstance(i, dict)}
        for inst in insts:
            if not isinstance(inst, dict):
                continue
            prior = previous.get(inst.get("datasetId"))
            if prior is not None and (
                prior is inst
                or (prior.get("modifiedAt") == inst.get("modifiedAt") and prior == inst)
            ):
                continue
            rows.append(tail_row(entity_id, attr, inst))
    return rows


def record(
    attr: str,
    dataset: str,
    t: int,
    observed: int | None,
    created: int,
    modified: int,
    body: bytes | str,
    nth: int = 0,
) -> Record:
    return Record(attr, dataset, t, observed, created, modified, orjson.loads(body), nth)


def number_series(records: list[Record], merged: bool = False) -> list[Record]:
    """``records`` of one attribute ordered (see ``series_order``), with ``nth``
    set for records sharing a time (so each gets its own instanceId).
    ``merged``: chunk records then tail records, each in order, to interleave."""
    if merged:
        records = sorted(records, key=series_order)  # stable: chunks stay first
    out: list[Record] = []
    last_t, count = None, 0
    for rec in records:
        count = count + 1 if rec.t == last_t else 0
        last_t = rec.t
        if count != rec.nth:
            rec = Record(rec.attr, rec.dataset, rec.t, rec.observed, rec.created,
                         rec.modified, rec.instance, count)
        out.append(rec)
    return out


@dataclass(frozen=True, slots=True)
class StoredRows:
    """What a backend read for one entity: chunk rows ``(nid, ds, data)`` in
    (nid, start, ds) order, tail rows ``(nid, ds, t, observed, created,
    modified, body)`` in (nid, t, seq) order, and ``name(nid)`` -> IRI."""

    chunks: list[Any]
    tail: list[Any]
    name: Callable[[int], str]
    #: summary rows ``(nid, ds, tier, start, stop, data)`` (downsampled history)
    summaries: list[Any] = field(default_factory=list)


def merge_series(
    chunks: dict[int, list[Record]], tail: dict[int, list[Record]], window: HistoryRange
) -> History:
    """Chunk and tail records of each attribute (by nid) merged, numbered and
    selected: what every backend's read returns. ``chunks`` lists come in
    chunk order, ``tail`` lists in write order."""
    everything: list[Record] = []
    for nid in sorted(set(chunks) | set(tail)):
        everything += number_series(
            sorted(chunks.get(nid, []), key=series_order)
            + sorted(tail.get(nid, []), key=series_order),
            merged=True,
        )
    return select(everything, window)


def series_order(record: Record) -> tuple[int, str]:
    """Records of an attribute sharing an instant are numbered by dataset, chunk
    records before tail ones, then in write order (sorts are stable)."""
    return record.t, record.dataset
