"""Attribute history in PostgreSQL: the same tail and chunks as SQLite
(``sqlite_history`` explains the numbering), with ``bytea`` strings.

Every function expects the connection to act for the tenant already
(``use_tenant``): the history tables are under row-level security.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import orjson
import psycopg

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
from bocage.storage.postgres_query import dec, enc
from bocage.storage.retention_job import Dialect

#: placeholders and strings of PostgreSQL (rollup_sql, retention_job)
DIALECT: Final = Dialect("%s", enc, dec)

Conn = psycopg.Connection[Any]

INSERT_ONE: Final = (
    "INSERT INTO hist_tail (tid, eid, nid, ds, t, observed, created, modified, body)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
)
INSERT_MANY: Final = (
    "INSERT INTO hist_tail (tid, eid, nid, ds, t, observed, created, modified, body)"
    " SELECT * FROM unnest(%b::int4[], %b::bytea[], %b::int4[], %b::bytea[], %b::int8[],"
    " %b::int8[], %b::int8[], %b::int8[], %b::bytea[])"
)


def tail_params(tid: int, nids: dict[str, int], rows: Sequence[TailRow]) -> list[tuple[Any, ...]]:
    return [
        (tid, enc(eid), nids[attr], enc(ds), t, observed, created, modified, body)
        for eid, attr, ds, t, observed, created, modified, body in rows
    ]


def write_tail(conn: Conn, tid: int, nids: dict[str, int], rows: Sequence[TailRow]) -> None:
    params = tail_params(tid, nids, rows)
    if len(params) >= TAIL_COPY_FROM:
        copy_tail(conn, params)
    elif len(params) > 32:
        columns = [list(c) for c in zip(*params, strict=True)]
        conn.execute(INSERT_MANY, columns)
    else:
        conn.cursor().executemany(INSERT_ONE, params)


#: from this many tail rows on, a write COPYs them (``copy_tail``)
TAIL_COPY_FROM: Final = 100
_STAGE: Final = "bocage_stage_tail"
_TAIL_TYPES: Final = ["int4", "bytea", "int4", "bytea", "int8", "int8", "int8", "int8", "bytea"]


def copy_tail(conn: Conn, params: Sequence[tuple[Any, ...]]) -> None:
    """Append tail rows (``tail_params``) with a binary COPY: an INSERT binding arrays
    has psycopg dump every array element in Python (a third of the writer's CPU for
    history in a bulk create; COPY's rows are written in C).
    PostgreSQL refuses COPY into a table under row-level security, so the rows go
    through a private temporary table, moved out by one statement (which the policy
    checks) in the order they were written (``seq``)."""
    conn.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {_STAGE} (tid int4, eid bytea, nid int4, ds bytea,"
        " t int8, observed int8, created int8, modified int8, body bytea)"
        " ON COMMIT DELETE ROWS")
    with conn.cursor().copy(f"COPY {_STAGE} FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(_TAIL_TYPES)
        for row in params:
            copy.write_row(row)
    conn.execute(
        f"WITH staged AS (DELETE FROM {_STAGE} RETURNING *) INSERT INTO hist_tail"
        " (tid, eid, nid, ds, t, observed, created, modified, body) SELECT * FROM staged")


HEADS_ONE: Final = (
    "INSERT INTO hist_heads (tid, eid, head) VALUES (%s, %s, %s)"
    " ON CONFLICT (tid, eid) DO UPDATE SET head = excluded.head"
)
HEADS_MANY: Final = (
    "INSERT INTO hist_heads (tid, eid, head)"
    " SELECT * FROM unnest(%b::int4[], %b::bytea[], %b::bytea[])"
    " ON CONFLICT (tid, eid) DO UPDATE SET head = excluded.head"
)


def gone_entity(conn: Conn, tid: int, entity_id: str) -> bytes | None:
    eid = enc(entity_id)
    row = conn.execute(
        "SELECT head FROM hist_heads WHERE tid = %s AND eid = %s", (tid, eid)
    ).fetchone()
    if row is not None:
        return bytes(row[0])
    for table in ("hist_tail", "hist_chunks"):
        if conn.execute(
            f"SELECT 1 FROM {table} WHERE tid = %s AND eid = %s LIMIT 1", (tid, eid)
        ).fetchone():
            return orjson.dumps({"id": entity_id})
    return None


def read_rows(
    conn: Conn, tid: int, entity_id: str, window: HistoryRange, nids: dict[int, str]
) -> StoredRows:
    """As ``sqlite_history.read_rows``; strings decoded."""
    if window.attrs is not None and not nids:
        return StoredRows([], [], lambda nid: "")
    where = ["tid = %s", "eid = %s"]
    params: list[Any] = [tid, enc(entity_id)]
    if window.attrs is not None:
        where.append("nid = ANY(%s::int4[])")
        params.append(list(nids))
    chunk_where = list(where)
    chunk_params = list(params)
    sum_where, sum_params = list(where), list(params)
    if window.timeproperty == "observedAt":
        if window.start is not None:
            where.append("t >= %s")
            params.append(window.start)
            chunk_where.append("t_max >= %s")
            chunk_params.append(window.start)
        if window.end is not None:
            where.append("t < %s")
            params.append(window.end)
            chunk_where.append("t_min < %s")
            chunk_params.append(window.end)
    from_summaries: list[Any] = []
    if window.periods is not None and window.timeproperty == "observedAt":
        # as in sqlite_history.read_rows: chunks inside one period read as their summary
        rows = conn.execute(
            "SELECT nid, ds, start, t_min, t_max, summary FROM hist_chunks"
            f" WHERE {' AND '.join(chunk_where)} ORDER BY nid, start, ds", chunk_params,
        ).fetchall()

        def fetch(nid: int, ds: Any, start: int) -> bytes:
            found = conn.execute(f"SELECT data FROM hist_chunks WHERE {_KEY}",
                                 (tid, enc(entity_id), nid, ds, start)).fetchone()
            assert found is not None  # the same snapshot read its key just before
            return bytes(found[0])

        kept, summed = split_by_summary(rows, window, fetch)
        chunks = [(nid, dec(ds), data) for nid, ds, data in kept]
        from_summaries = [(nid, dec(ds), tier, a, b, summary)
                          for nid, ds, tier, a, b, summary in summed]
    else:
        return _read_at_once(conn, where, params, chunk_where, chunk_params, sum_where,
                             sum_params, window, nids)
    tail = [
        (nid, dec(ds), t, observed, created, modified, bytes(body))
        for nid, ds, t, observed, created, modified, body in conn.execute(
            "SELECT nid, ds, t, observed, created, modified, body FROM hist_tail"
            f" WHERE {' AND '.join(where)} ORDER BY nid, t, seq",
            params,
        )
    ]
    if window.start is not None:
        sum_where.append("stop > %s")
        sum_params.append(window.start)
    if window.end is not None:
        sum_where.append("start < %s")
        sum_params.append(window.end)
    summaries = [
        (nid, dec(ds), tier, start, stop, bytes(data))
        for nid, ds, tier, start, stop, data in conn.execute(
            "SELECT nid, ds, tier, start, stop, data FROM hist_summaries"
            f" WHERE {' AND '.join(sum_where)} ORDER BY nid, start, ds",
            sum_params,
        )
    ]
    return StoredRows(chunks, tail, names_of(conn, nids), summaries + from_summaries)


def _read_at_once(
    conn: Conn, where: list[str], params: list[Any], chunk_where: list[str],
    chunk_params: list[Any], sum_where: list[str], sum_params: list[Any],
    window: HistoryRange, nids: dict[int, str],
) -> StoredRows:
    """Chunks, tail and summaries in one statement: one round trip, one snapshot."""
    if window.start is not None:
        sum_where = [*sum_where, "stop > %s"]
        sum_params = [*sum_params, window.start]
    if window.end is not None:
        sum_where = [*sum_where, "start < %s"]
        sum_params = [*sum_params, window.end]
    # columns: part (0 summaries, 1 chunks, 2 tail), nid, ds, then the order of the part
    # (o1, o2, seq), then its fields
    query = (
        "SELECT 0, nid, ds, start, ds, 0::int8, tier, stop, NULL::int8, NULL::int8, data"
        f" FROM hist_summaries WHERE {' AND '.join(sum_where)}"
        " UNION ALL SELECT 1, nid, ds, start, ds, 0::int8, NULL, NULL, NULL, NULL, data"
        f" FROM hist_chunks WHERE {' AND '.join(chunk_where)}"
        " UNION ALL SELECT 2, nid, ds, t, ''::bytea, seq, NULL, observed, created, modified,"
        f" body FROM hist_tail WHERE {' AND '.join(where)}"
        " ORDER BY 1, 2, 4, 5, 6"
    )
    summaries: list[Any] = []
    chunks: list[Any] = []
    tail: list[Any] = []
    for part, nid, ds, a, _, _, tier, b, c, d, data in conn.execute(
            query, [*sum_params, *chunk_params, *params]):
        if part == 1:
            chunks.append((nid, dec(ds), bytes(data)))
        elif part == 2:
            tail.append((nid, dec(ds), a, b, c, d, bytes(data)))
        else:
            summaries.append((nid, dec(ds), tier, a, b, bytes(data)))
    return StoredRows(chunks, tail, names_of(conn, nids), summaries)


def names_of(conn: Conn, known: dict[int, str]) -> Any:
    cache = dict(known)

    def name(nid: int) -> str:
        iri = cache.get(nid)
        if iri is None:
            row = conn.execute("SELECT iri FROM names WHERE nid = %s", (nid,)).fetchone()
            assert row is not None
            iri = cache[nid] = dec(row[0])
        return iri

    return name


def delete_history(conn: Conn, tid: int, entity_id: str, nid: int | None) -> int:
    where, params = "tid = %s AND eid = %s", [tid, enc(entity_id)]
    if nid is not None:
        where += " AND nid = %s"
        params.append(nid)
    # out of the territory rollups first (the entity's head tells its types and scopes)
    for nid_, ds, data in conn.execute(
            f"SELECT nid, ds, data FROM hist_chunks WHERE {where}", params).fetchall():
        rollup_sql.remove(conn, DIALECT, tid, enc(entity_id), nid_,
                          chunk_records("", dec(ds), bytes(data)))
    if nid is None:
        conn.execute("DELETE FROM hist_heads WHERE tid = %s AND eid = %s", params)
    gone = conn.execute(f"DELETE FROM hist_tail WHERE {where}", params).rowcount
    gone += conn.execute(f"DELETE FROM hist_summaries WHERE {where}", params).rowcount
    row = conn.execute(
        f"WITH d AS (DELETE FROM hist_chunks WHERE {where} RETURNING n)"
        " SELECT coalesce(sum(n), 0) FROM d",
        params,
    ).fetchone()
    return int(gone) + int(row[0] if row else 0)


_KEY: Final = "tid = %s AND eid = %s AND nid = %s AND ds = %s AND start = %s"


def replace_record(
    conn: Conn, tid: int, entity_id: str, nid: int, attr: str, t: int, nth: int,
    new: TailRow | None,
) -> bool:
    eid = enc(entity_id)
    chunks = conn.execute(
        "SELECT ds, start, data FROM hist_chunks WHERE tid = %s AND eid = %s AND nid = %s"
        " AND t_min <= %s AND t_max >= %s",
        (tid, eid, nid, t, t),
    ).fetchall()
    tail = conn.execute(
        "SELECT ds, seq FROM hist_tail WHERE tid = %s AND eid = %s AND nid = %s AND t = %s"
        " ORDER BY seq",
        (tid, eid, nid, t),
    ).fetchall()
    found = locate(attr, t, nth, chunks, tail, dec)
    if found is None:
        return False
    if isinstance(found, int):
        conn.execute("DELETE FROM hist_tail WHERE seq = %s", (found,))
    else:
        ds, start, records = found
        key = (tid, eid, nid, ds, start)
        before = next(chunk_records(attr, dec(c_ds), bytes(data)) for c_ds, c_start, data
                      in chunks if (bytes(c_ds), c_start) == (bytes(ds), start))
        rollup_sql.remove(conn, DIALECT, tid, eid, nid, rollup_sql.taken_out(before, records))
        if records:
            blob, t_min, t_max, count = encode_records(records)
            conn.execute(
                f"UPDATE hist_chunks SET data = %s, t_min = %s, t_max = %s, n = %s,"
                f" summary = %s WHERE {_KEY}",
                (blob, t_min, t_max, count, chunk_summary(records), *key),
            )
        else:
            conn.execute(f"DELETE FROM hist_chunks WHERE {_KEY}", key)
    if new is not None:
        write_tail(conn, tid, {attr: nid}, [new])
    return True


def compact_tail(conn: Conn, tid: int, older_than: int, max_records: int, period_ms: int) -> int:
    """One compaction step of one tenant (see ``sqlite_history.compact_tail``: the oldest
    period first)."""
    moved, budget = 0, max(1, max_records)
    while moved < budget:
        first = conn.execute("SELECT min(t) FROM hist_tail WHERE tid = %s AND modified < %s",
                             (tid, older_than)).fetchone()
        if first is None or first[0] is None:
            break
        left = budget - moved
        rows = conn.execute(
            "SELECT seq, eid, nid, ds, t, observed, created, modified, body FROM hist_tail"
            " WHERE tid = %s AND modified < %s AND t < %s"
            " ORDER BY eid, nid, ds, t, seq LIMIT %s",
            (tid, older_than, period_start(first[0], period_ms) + period_ms, left + 1),
        ).fetchall()
        if len(rows) > left:
            if moved:
                break  # this period does not fit whole in the step: the next step's
            rows = rows[:left]
        if not rows:
            break
        _compact_rows(conn, tid, rows, period_ms)
        moved += len(rows)
    return moved


def _compact_rows(conn: Conn, tid: int, rows: list[Any], period_ms: int) -> None:
    groups: dict[tuple[bytes, int, bytes, int], list[Record]] = {}
    for _, eid, nid, ds, t, observed, created, modified, body in rows:
        key = (bytes(eid), nid, bytes(ds), period_start(t, period_ms))
        groups.setdefault(key, []).append(
            record("", "", t, observed, created, modified, bytes(body))
        )
    keys: rollup_sql.KeyCache = {}
    for (eid, nid, ds, start), fresh in groups.items():
        rollup_sql.add(conn, DIALECT, tid, eid, nid, fresh, keys)
        chunk = (tid, eid, nid, ds, start)
        old = conn.execute(f"SELECT data FROM hist_chunks WHERE {_KEY}", chunk).fetchone()
        records = (chunk_records("", "", old[0]) if old else []) + fresh
        blob, t_min, t_max, count = encode_records(records)
        conn.execute(
            "INSERT INTO hist_chunks (tid, eid, nid, ds, start, t_min, t_max, n, data, summary)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (tid, eid, nid, ds, start) DO UPDATE SET t_min = excluded.t_min,"
            " t_max = excluded.t_max, n = excluded.n, data = excluded.data,"
            " summary = excluded.summary",
            (*chunk, t_min, t_max, count, blob, chunk_summary(records)),
        )
    conn.execute("DELETE FROM hist_tail WHERE seq = ANY(%s::int8[])", ([r[0] for r in rows],))


def history_size(conn: Conn) -> tuple[int, int, int, int]:
    """Over the tenant the connection acts for."""
    tail = conn.execute("SELECT count(*) FROM hist_tail").fetchone()
    chunks = conn.execute(
        "SELECT count(*), coalesce(sum(n), 0), coalesce(sum(length(data)), 0) FROM hist_chunks"
    ).fetchone()
    assert tail is not None and chunks is not None
    return int(tail[0]), int(chunks[1]), int(chunks[0]), int(chunks[2])


def tenant_counts(conn: Conn) -> tuple[int, int, int, int, int, int, dict[str, tuple[int, int]]]:
    """Over the tenant the connection acts for: (entities, tail records, tail payload
    bytes, chunks, chunk records, chunk payload bytes, tier -> (summary rows, readings
    they stand for)). A summary is ``<attribute type>\\n<JSON>``; its ``count`` says
    how many readings it holds."""
    entities = conn.execute("SELECT count(*) FROM entities").fetchone()
    tail = conn.execute(
        "SELECT count(*), coalesce(sum(length(body)), 0) FROM hist_tail").fetchone()
    chunks = conn.execute(
        "SELECT count(*), coalesce(sum(n), 0), coalesce(sum(length(data)), 0)"
        " FROM hist_chunks").fetchone()
    assert entities is not None and tail is not None and chunks is not None
    tiers = {
        str(tier): (int(n), int(count)) for tier, n, count in conn.execute(
            "SELECT tier, count(*), coalesce(sum((convert_from(substring(data FROM"
            " position('\\x0a'::bytea IN data) + 1), 'UTF8')::jsonb ->> 'count')::bigint), 0)"
            " FROM hist_summaries GROUP BY tier")}
    return (int(entities[0]), int(tail[0]), int(tail[1]), int(chunks[0]), int(chunks[1]),
            int(chunks[2]), tiers)


def disk_bytes(conn: Conn) -> tuple[int, int, int, int]:
    """(tail, chunks, summaries, database) bytes on disk, indexes and TOAST included."""
    row = conn.execute(
        "SELECT pg_total_relation_size('hist_tail'), pg_total_relation_size('hist_chunks'),"
        " pg_total_relation_size('hist_summaries'), pg_database_size(current_database())"
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2]), int(row[3])
