"""Territory rollup rows (``bocage.history.rollup``) in SQL, written once for both backends.

Compaction calls :func:`add` for the readings it moves into a chunk; the temporal API's
deletions call :func:`remove` for the compacted readings they take away. Both run in the
writer's transaction. :func:`read` returns the rows of one entity type × attribute under
some scopes, for a span of days. Placeholders and stored strings follow the
``retention_job.Dialect`` of the backend.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any, Final

import orjson

from bocage.domain.entity import VALUE_KEY
from bocage.domain.temporal import Record
from bocage.history.rollup import DayTotals, day_deltas, rollup_keys
from bocage.storage.retention_job import Dialect, entity_head

_UPSERT: Final = (
    "INSERT INTO hist_rollups (tid, nid, etype, scope, day, count, n, total, sumsq, low, high)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (tid, nid, etype, scope, day) DO UPDATE SET"
    " count = hist_rollups.count + excluded.count, n = hist_rollups.n + excluded.n,"
    " total = hist_rollups.total + excluded.total,"
    " sumsq = hist_rollups.sumsq + excluded.sumsq,"
    " low = CASE WHEN excluded.low IS NULL THEN hist_rollups.low"
    " WHEN hist_rollups.low IS NULL OR excluded.low < hist_rollups.low THEN excluded.low"
    " ELSE hist_rollups.low END,"
    " high = CASE WHEN excluded.high IS NULL THEN hist_rollups.high"
    " WHEN hist_rollups.high IS NULL OR excluded.high > hist_rollups.high THEN excluded.high"
    " ELSE hist_rollups.high END"
)

#: (tid, eid as stored) -> the entity's (type IRI, scope) rollup keys, per writer job
KeyCache = dict[tuple[int, Any], list[tuple[str, str]]]


def keys_of(conn: Any, dialect: Dialect, tid: int, eid: Any,
            cache: KeyCache) -> list[tuple[str, str]]:
    """The rollup rows an entity's readings count in: its types × its scopes (current
    entity, else its head kept after deletion); none without a scope."""
    found = cache.get((tid, eid))
    if found is None:
        entity = entity_head(conn, dialect, tid, eid)
        types = [str(t) for t in entity.get("type") or ()]
        scopes = [s for s in entity.get("scope") or () if isinstance(s, str)]
        found = cache[(tid, eid)] = rollup_keys(types, scopes)
    return found


def readings(records: Iterable[Record]) -> list[tuple[int, object]]:
    """The (observedAt, value) of the records that have an observedAt."""
    out = []
    for r in records:
        if r.observed is None:
            continue
        vkey = VALUE_KEY.get(str(r.instance.get("type", "Property")), "value")
        out.append((r.observed, r.instance.get(vkey)))
    return out


def _write(conn: Any, dialect: Dialect, tid: int, nid: int, keys: list[tuple[str, str]],
           deltas: dict[int, DayTotals]) -> None:
    if not keys or not deltas:
        return
    conn.cursor().executemany(_UPSERT.replace("?", dialect.param), [
        (tid, nid, etype, scope, day, d.count, d.n, d.total, d.sumsq, d.low, d.high)
        for etype, scope in keys for day, d in deltas.items()])


def add(conn: Any, dialect: Dialect, tid: int, eid: Any, nid: int, records: Iterable[Record],
        cache: KeyCache) -> None:
    """Count ``records`` (just compacted) in their entity's rollup rows."""
    keys = keys_of(conn, dialect, tid, eid, cache)
    if keys:
        _write(conn, dialect, tid, nid, keys, day_deltas(readings(records)))


def remove(conn: Any, dialect: Dialect, tid: int, eid: Any, nid: int,
           records: Iterable[Record]) -> None:
    """Take compacted ``records`` that are being deleted out of the counts and sums."""
    keys = keys_of(conn, dialect, tid, eid, {})
    if keys:
        deltas = {day: d.negated() for day, d in day_deltas(readings(records)).items()}
        _write(conn, dialect, tid, nid, keys, deltas)


def taken_out(old: Sequence[Record], kept: Sequence[Record]) -> list[Record]:
    """The records of ``old`` that ``kept`` no longer holds (a multiset difference)."""
    left = Counter((r.t, r.observed, orjson.dumps(r.instance, option=orjson.OPT_SORT_KEYS))
                   for r in kept)
    out = []
    for r in old:
        key = (r.t, r.observed, orjson.dumps(r.instance, option=orjson.OPT_SORT_KEYS))
        if left[key]:
            left[key] -= 1
        else:
            out.append(r)
    return out


def _scope_clause(p: str, scopes: Sequence[str]) -> tuple[str, list[Any]]:
    clause = "(" + " OR ".join(
        f"scope = {p} OR substr(scope, 1, {p}) = {p}" for _ in scopes) + ")"
    params: list[Any] = []
    for s in scopes:
        params += [s, len(s) + 1, s + "/"]
    return clause, params


def series(conn: Any, dialect: Dialect, tid: int,
           scopes: Sequence[str] | None) -> list[tuple[str, int]]:
    """The (entity type, attribute nid) pairs that have rollup rows under ``scopes``."""
    p = dialect.param
    where, params = f"tid = {p}", [tid]
    if scopes is not None:
        if not scopes:
            return []
        clause, more = _scope_clause(p, scopes)
        where += " AND " + clause
        params += more
    rows = conn.execute(f"SELECT DISTINCT etype, nid FROM hist_rollups WHERE {where}"
                        " ORDER BY etype, nid", params).fetchall()
    return [(str(etype), int(nid)) for etype, nid in rows]


def read(conn: Any, dialect: Dialect, tid: int, nid: int, etype: str,
         scopes: Sequence[str] | None, start_ms: int, end_ms: int,
         ) -> list[tuple[str, int, DayTotals]]:
    """``(scope, day, totals)`` rows of ``etype`` × attribute ``nid`` for the days in
    ``[start_ms, end_ms)``, under ``scopes`` (each a scope or its subtree; None: all)."""
    p = dialect.param
    where = [f"tid = {p}", f"nid = {p}", f"etype = {p}", f"day >= {p}", f"day < {p}"]
    params: list[Any] = [tid, nid, etype, start_ms, end_ms]
    if scopes is not None:
        if not scopes:
            return []
        clause, more = _scope_clause(p, scopes)
        where.append(clause)
        params += more
    rows = conn.execute(
        "SELECT scope, day, count, n, total, sumsq, low, high FROM hist_rollups"
        f" WHERE {' AND '.join(where)} ORDER BY scope, day", params).fetchall()
    return [(str(scope), int(day), DayTotals(int(c), int(n), float(t), float(q), low, high))
            for scope, day, c, n, t, q, low, high in rows]
