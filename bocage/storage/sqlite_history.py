"""Attribute history in SQLite: the tail, the chunks, and how reads merge them.

Writes happen in the writer thread (``sqlite_apply`` appends tail rows in the
entity write's own transaction; the temporal API's writes and compaction are
writer jobs too), reads on reader connections. Records of one attribute are
numbered in (time, write) order, chunk records before tail ones, which is the
order compaction keeps: an instanceId names the same record before and after.
"""

from __future__ import annotations

import sqlite3
from typing import Any, Final

import orjson

from bocage.domain.temporal import HistoryRange, Record
from bocage.storage import rollup_sql
from bocage.storage.history_chunks import (
    chunk_records,
    chunk_summary,
    encode_records,
    locate,
    period_start,
    split_by_summary,
)
from bocage.storage.history_rows import StoredRows, TailRow, record
from bocage.storage.retention_job import Dialect
from bocage.storage.stats import StorageStats

#: placeholders and strings of SQLite (rollup_sql, retention_job)
DIALECT: Final = Dialect("?", lambda text: text, str)

_INSERT: Final = (
    "INSERT INTO hist_tail (tid, eid, nid, ds, t, observed, created, modified, body)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def write_tail(
    conn: sqlite3.Connection, names: dict[str, int], intern: Any, tid: int, rows: list[TailRow]
) -> None:
    """Append tail rows; ``names`` is the writer's IRI cache, ``intern(iri)`` fills it."""
    conn.executemany(
        _INSERT,
        [
            (tid, eid, names.get(attr) or intern(attr), ds, t, observed, created, modified, body)
            for eid, attr, ds, t, observed, created, modified, body in rows
        ],
    )


def write_heads(conn: sqlite3.Connection, tid: int, heads: list[tuple[str, bytes]]) -> None:
    conn.executemany(
        "INSERT OR REPLACE INTO hist_heads (tid, eid, head) VALUES (?, ?, ?)",
        [(tid, eid, head) for eid, head in heads],
    )


def gone_entity(conn: sqlite3.Connection, tid: int, entity_id: str) -> bytes | None:
    """The head of an entity deleted with its history kept; ``{"id": ...}``
    for history without one (written through the temporal API only)."""
    row = conn.execute(
        "SELECT head FROM hist_heads WHERE tid = ? AND eid = ?", (tid, entity_id)
    ).fetchone()
    if row is not None:
        return bytes(row[0])
    for table in ("hist_tail", "hist_chunks"):
        if conn.execute(
            f"SELECT 1 FROM {table} WHERE tid = ? AND eid = ? LIMIT 1", (tid, entity_id)
        ).fetchone():
            return orjson.dumps({"id": entity_id})
    return None


def read_rows(
    conn: sqlite3.Connection, tid: int, entity_id: str, window: HistoryRange, nids: dict[int, str]
) -> StoredRows:
    """The chunk and tail rows of an entity that may hold records of ``window``.
    ``nids``: the interned ids of the wanted attributes (all when ``window.attrs`` is None)."""
    if window.attrs is not None and not nids:
        return StoredRows([], [], lambda nid: "")
    where = ["tid = ?", "eid = ?"]
    params: list[Any] = [tid, entity_id]
    if window.attrs is not None:
        where.append(f"nid IN ({', '.join('?' * len(nids))})")
        params += list(nids)
    sum_where, sum_params = list(where), list(params)
    if window.timeproperty == "observedAt":
        # t is observedAt whenever there is one: a safe prefilter
        if window.start is not None:
            where.append("t >= ?")
            params.append(window.start)
        if window.end is not None:
            where.append("t < ?")
            params.append(window.end)
    clause = " AND ".join(where)
    chunk_where = clause.replace("t >= ?", "t_max >= ?").replace("t < ?", "t_min < ?")
    from_summaries: list[Any] = []
    if window.periods is not None and window.timeproperty == "observedAt":
        # whole-period aggregation: chunks inside one period are read as their summary,
        # the others (window edges, chunks without a summary) as their points
        chunks, from_summaries = split_by_summary(conn.execute(
            "SELECT nid, ds, start, t_min, t_max, summary FROM hist_chunks"
            f" WHERE {chunk_where} ORDER BY nid, start, ds", params,
        ).fetchall(), window, lambda nid, ds, start: conn.execute(
            "SELECT data FROM hist_chunks WHERE tid = ? AND eid = ? AND nid = ?"
            " AND ds = ? AND start = ?", (tid, entity_id, nid, ds, start),
        ).fetchone()[0])
    else:
        chunks = conn.execute(
            f"SELECT nid, ds, data FROM hist_chunks WHERE {chunk_where}"
            " ORDER BY nid, start, ds", params,
        ).fetchall()
    tail = conn.execute(
        "SELECT nid, ds, t, observed, created, modified, body FROM hist_tail"
        f" WHERE {clause} ORDER BY nid, t, seq",
        params,
    ).fetchall()
    if window.start is not None:
        sum_where.append("stop > ?")
        sum_params.append(window.start)
    if window.end is not None:
        sum_where.append("start < ?")
        sum_params.append(window.end)
    summaries = conn.execute(
        "SELECT nid, ds, tier, start, stop, data FROM hist_summaries"
        f" WHERE {' AND '.join(sum_where)} ORDER BY nid, start, ds",
        sum_params,
    ).fetchall()
    return StoredRows(chunks, tail, names_of(conn, nids), summaries + from_summaries)


def names_of(conn: sqlite3.Connection, known: dict[int, str]) -> Any:
    cache = dict(known)

    def name(nid: int) -> str:
        iri = cache.get(nid)
        if iri is None:
            row = conn.execute("SELECT iri FROM names WHERE nid = ?", (nid,)).fetchone()
            iri = cache[nid] = row[0]
        return iri

    return name


# ------------------------------------------------------------------ writer jobs


def delete_history(conn: sqlite3.Connection, tid: int, entity_id: str, nid: int | None) -> int:
    where, params = "tid = ? AND eid = ?", [tid, entity_id]
    if nid is not None:
        where += " AND nid = ?"
        params.append(nid)
    gone = 0
    # out of the territory rollups first (the entity's head tells its types and scopes)
    for nid_, ds, n, data in conn.execute(
            f"SELECT nid, ds, n, data FROM hist_chunks WHERE {where}", params).fetchall():
        gone += n
        rollup_sql.remove(conn, DIALECT, tid, entity_id, nid_, chunk_records("", ds, data))
    if nid is None:
        conn.execute("DELETE FROM hist_heads WHERE tid = ? AND eid = ?", params)
    gone += conn.execute(f"DELETE FROM hist_tail WHERE {where}", params).rowcount
    gone += conn.execute(f"DELETE FROM hist_summaries WHERE {where}", params).rowcount
    conn.execute(f"DELETE FROM hist_chunks WHERE {where}", params)
    return int(gone)


def replace_record(
    conn: sqlite3.Connection,
    tid: int,
    entity_id: str,
    nid: int,
    attr: str,
    t: int,
    nth: int,
    new: TailRow | None,
) -> bool:
    """Remove the ``nth`` record of the attribute at ``t`` (numbered as reads
    number them), then append ``new`` if given."""
    chunks = conn.execute(
        "SELECT ds, start, data FROM hist_chunks WHERE tid = ? AND eid = ? AND nid = ?"
        " AND t_min <= ? AND t_max >= ?",
        (tid, entity_id, nid, t, t),
    ).fetchall()
    tail = conn.execute(
        "SELECT ds, seq FROM hist_tail WHERE tid = ? AND eid = ? AND nid = ? AND t = ?"
        " ORDER BY seq",
        (tid, entity_id, nid, t),
    ).fetchall()
    found = locate(attr, t, nth, chunks, tail)
    if found is None:
        return False
    if isinstance(found, int):
        conn.execute("DELETE FROM hist_tail WHERE seq = ?", (found,))
    else:
        ds, start, records = found
        key = (tid, entity_id, nid, ds, start)
        before = next(chunk_records(attr, ds, data) for c_ds, c_start, data in chunks
                      if (c_ds, c_start) == (ds, start))
        rollup_sql.remove(conn, DIALECT, tid, entity_id, nid, rollup_sql.taken_out(before,
                                                                                 records))
        if records:
            blob, t_min, t_max, count = encode_records(records)
            conn.execute(
                "UPDATE hist_chunks SET data = ?, t_min = ?, t_max = ?, n = ?, summary = ?"
                " WHERE tid = ? AND eid = ? AND nid = ? AND ds = ? AND start = ?",
                (blob, t_min, t_max, count, chunk_summary(records), *key),
            )
        else:
            conn.execute(
                "DELETE FROM hist_chunks"
                " WHERE tid = ? AND eid = ? AND nid = ? AND ds = ? AND start = ?",
                key,
            )
    if new is not None:
        write_tail(conn, {new[1]: nid}, None, tid, [new])
    return True


def compact_tail(
    conn: sqlite3.Connection, older_than: int, max_records: int, period_ms: int
) -> int:
    """One compaction step: the oldest tail rows modified before ``older_than`` of the
    oldest period that has some, merged into their chunks (one per entity × attribute ×
    dataset × period). A period at a time, series after series: a backlog (a bulk
    import, a long stop) then writes each chunk once, where steps cutting across
    periods or series would rewrite every chunk a step boundary falls in (dead rows on
    PostgreSQL, decoding and encoding it again). Within a series, (t, seq) order is the
    order the chunk keeps anyway."""
    moved, budget = 0, max(1, max_records)
    while moved < budget:
        (first,) = conn.execute("SELECT min(t) FROM hist_tail WHERE modified < ?",
                                (older_than,)).fetchone()
        if first is None:
            break
        left = budget - moved
        rows = conn.execute(
            "SELECT seq, tid, eid, nid, ds, t, observed, created, modified, body"
            " FROM hist_tail WHERE modified < ? AND t < ?"
            " ORDER BY tid, eid, nid, ds, t, seq LIMIT ?",
            (older_than, period_start(first, period_ms) + period_ms, left + 1),
        ).fetchall()
        if len(rows) > left:
            if moved:
                break  # this period does not fit whole in the step: the next step's
            rows = rows[:left]
        if not rows:
            break
        _compact_rows(conn, rows, period_ms)
        moved += len(rows)
    return moved


def _compact_rows(conn: sqlite3.Connection, rows: list[Any], period_ms: int) -> None:
    groups: dict[tuple[int, str, int, str, int], list[Record]] = {}
    for _, tid, eid, nid, ds, t, observed, created, modified, body in rows:
        key = (tid, eid, nid, ds, period_start(t, period_ms))
        groups.setdefault(key, []).append(
            record("", ds, t, observed, created, modified, body)
        )
    keys: rollup_sql.KeyCache = {}
    for key, fresh in groups.items():
        rollup_sql.add(conn, DIALECT, key[0], key[1], key[2], fresh, keys)
        old = conn.execute(
            "SELECT data FROM hist_chunks"
            " WHERE tid = ? AND eid = ? AND nid = ? AND ds = ? AND start = ?",
            key,
        ).fetchone()
        records = (chunk_records("", key[3], old[0]) if old else []) + fresh
        blob, t_min, t_max, count = encode_records(records)
        conn.execute(
            "INSERT OR REPLACE INTO hist_chunks"
            " (tid, eid, nid, ds, start, t_min, t_max, n, data, summary)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (*key, t_min, t_max, count, blob, chunk_summary(records)),
        )
    conn.executemany("DELETE FROM hist_tail WHERE seq = ?", [(r[0],) for r in rows])


def history_size(conn: sqlite3.Connection) -> tuple[int, int, int, int]:
    tail = conn.execute("SELECT count(*) FROM hist_tail").fetchone()[0]
    chunks, points, size = conn.execute(
        "SELECT count(*), coalesce(sum(n), 0), coalesce(sum(length(data)), 0) FROM hist_chunks"
    ).fetchone()
    return int(tail), int(points), int(chunks), int(size)


#: the history's tables and their indexes, for their size on disk
_HISTORY_BTREES = {"tail": ("hist_tail", "hist_tail_series"),
                   "chunks": ("hist_chunks", "hist_chunks_age"),
                   "summaries": ("hist_summaries", "hist_summaries_age")}


def storage_stats(conn: sqlite3.Connection, database_bytes: int) -> StorageStats:
    """The sobriety figures of an SQLite database (see ``bocage.storage.stats``)."""
    (entities,) = conn.execute("SELECT count(*) FROM entities").fetchone()
    tail, tail_payload = conn.execute(
        "SELECT count(*), coalesce(sum(length(body)), 0) FROM hist_tail").fetchone()
    chunks, points, chunk_payload = conn.execute(
        "SELECT count(*), coalesce(sum(n), 0), coalesce(sum(length(data)), 0)"
        " FROM hist_chunks").fetchone()
    rows: dict[str, int] = {}
    summarized: dict[str, int] = {}
    # a summary is "<attribute type>\n<JSON>": its count says how many readings it holds
    for tier, n, count in conn.execute(
        "SELECT tier, count(*), coalesce(sum(json_extract(CAST(substr(data,"
        " instr(data, X'0A') + 1) AS TEXT), '$.count')), 0)"
        " FROM hist_summaries GROUP BY tier"
    ):
        rows[str(tier)], summarized[str(tier)] = int(n), int(count)
    disk = {part: _btree_bytes(conn, names) for part, names in _HISTORY_BTREES.items()}
    return StorageStats(
        entities=int(entities), tail_records=int(tail),
        tail_bytes=disk["tail"] if disk["tail"] is not None else int(tail_payload),
        tail_payload_bytes=int(tail_payload), chunk_records=int(points), chunks=int(chunks),
        chunk_bytes=disk["chunks"] if disk["chunks"] is not None else int(chunk_payload),
        chunk_payload_bytes=int(chunk_payload), summary_rows=rows,
        summarized_records=summarized, summary_bytes=disk["summaries"] or 0,
        database_bytes=database_bytes)


def _btree_bytes(conn: sqlite3.Connection, names: tuple[str, ...]) -> int | None:
    """Pages of these tables and indexes, in bytes (None without the dbstat table)."""
    total = 0
    try:
        for name in names:
            row = conn.execute("SELECT coalesce(sum(pgsize), 0) FROM dbstat"
                               " WHERE name = ? AND aggregate = TRUE", (name,)).fetchone()
            total += int(row[0])
    except sqlite3.OperationalError:  # SQLite built without SQLITE_ENABLE_DBSTAT_VTAB
        return None
    return total
