"""One retention step, written once for both backends.

A step walks at most ``limit`` chunks (then summary rows) older than the
shortest raw window, oldest first, from a cursor, and for each asks
``retention.plan`` under its series' policy: keep it, roll it into hourly or
daily summaries (merged into the bucket rows already there), or drop it.
Each step is one short writer job, like a compaction step.

The backends differ in placeholders and in how strings are stored; a
:class:`Dialect` says both.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import orjson

from bocage.history.retention import Action, Policy, plan, resolve
from bocage.storage.history_tiers import DAY, TIER_MS, chunk_buckets, dump, merged, undump

#: how far back (ms) the cursor starts: before any plausible reading
_FIRST: Final = -(2**62)


@dataclass(frozen=True, slots=True)
class Dialect:
    param: str  # "?" or "%s"
    text: Callable[[Any], Any]  # str -> stored form (bytea for PostgreSQL)
    untext: Callable[[Any], str]


SeriesInfo = tuple[str, str | None]  # (entity type IRI, first scope)


def _sql(sql: str, dialect: Dialect) -> str:
    return sql.replace("?", dialect.param)


def entity_head(conn: Any, dialect: Dialect, tid: int, eid: Any) -> dict[str, Any]:
    """An entity as stored (``eid`` as its history rows hold it), else the head its
    history kept after it was deleted, else ``{}``."""
    row = conn.execute(_sql("SELECT data FROM entities WHERE tid = ? AND id = ?", dialect),
                       (tid, eid)).fetchone()
    if row is None:
        row = conn.execute(
            _sql("SELECT head FROM hist_heads WHERE tid = ? AND eid = ?", dialect),
            (tid, eid)).fetchone()
    if row is None:
        return {}
    raw = row[0]  # PostgreSQL hands json columns over decoded
    found: dict[str, Any] = raw if isinstance(raw, dict) else orjson.loads(
        raw if isinstance(raw, str) else bytes(raw))
    return found


def series_info(conn: Any, dialect: Dialect, tid: int, eid: Any, cache: dict[Any, SeriesInfo],
                use: Callable[[int], None]) -> SeriesInfo:
    """Type and scope of an entity (current, else as deleted), cached per step."""
    key = (tid, eid)
    found = cache.get(key)
    if found is None:
        use(tid)
        entity = entity_head(conn, dialect, tid, eid)
        types = entity.get("type") or [""]
        scopes = entity.get("scope") or [None]
        found = cache[key] = (str(types[0]), scopes[0])
    return found


def step(
    conn: Any,
    dialect: Dialect,
    names: Callable[[int], str],
    use: Callable[[int], None],
    now_ms: int,
    policies: Sequence[Policy],
    cursor: tuple[Any, ...] | None,
    limit: int,
) -> tuple[int, int, tuple[Any, ...] | None]:
    """(rolled, dropped, next cursor or None when done). The cursor walks the
    chunks, then the hourly summaries, then the daily ones."""
    raw_min = min((p.raw_days for p in policies if p.raw_days), default=1)
    stage = cursor[0] if cursor else "raw"
    position = cursor[1:] if cursor else None
    info: dict[Any, SeriesInfo] = {}
    rolled = dropped = 0
    if stage == "raw":
        cutoff = now_ms - raw_min * DAY
        after = position or (_FIRST, 0, dialect.text(""), 0, dialect.text(""), _FIRST)
        rows = conn.execute(_sql(
            "SELECT t_max, tid, eid, nid, ds, start, data FROM hist_chunks"
            " WHERE t_max < ? AND (t_max, tid, eid, nid, ds, start) > (?, ?, ?, ?, ?, ?)"
            " ORDER BY t_max, tid, eid, nid, ds, start LIMIT ?", dialect),
            (cutoff, *after, limit)).fetchall()
        for t_max, tid, eid, nid, ds, start, data in rows:
            etype, scope = series_info(conn, dialect, tid, eid, info, use)
            policy = resolve(policies, etype, names(nid), scope)
            action = plan(policy, now_ms, t_max, "raw")
            if action is Action.KEEP:
                continue
            use(tid)
            if action is not Action.DROP:
                tier = "hourly" if action is Action.ROLL_HOURLY else "daily"
                kind, buckets = chunk_buckets(data, TIER_MS[tier])
                for bucket, summary in buckets.items():
                    _add(conn, dialect, (tid, eid, nid, ds, tier, bucket),
                         bucket + TIER_MS[tier], kind, summary)
                rolled += 1
            else:
                dropped += 1
            conn.execute(_sql("DELETE FROM hist_chunks WHERE tid = ? AND eid = ? AND nid = ?"
                              " AND ds = ? AND start = ?", dialect), (tid, eid, nid, ds, start))
        if len(rows) == limit:
            return rolled, dropped, ("raw", *rows[-1][:6])
        return rolled, dropped, ("hourly",)
    tier = stage
    after = position or (_FIRST, 0, dialect.text(""), 0, dialect.text(""), _FIRST)
    rows = conn.execute(_sql(
        "SELECT stop, tid, eid, nid, ds, start, data FROM hist_summaries"
        " WHERE tier = ? AND stop <= ? AND (stop, tid, eid, nid, ds, start) > (?, ?, ?, ?, ?, ?)"
        " ORDER BY stop, tid, eid, nid, ds, start LIMIT ?", dialect),
        (tier, now_ms - raw_min * DAY, *after, limit)).fetchall()
    for end, tid, eid, nid, ds, start, data in rows:
        etype, scope = series_info(conn, dialect, tid, eid, info, use)
        policy = resolve(policies, etype, names(nid), scope)
        action = plan(policy, now_ms, end - 1, tier)
        if action is Action.KEEP or (action is Action.ROLL_HOURLY):
            continue  # a summary never goes back to a finer tier
        use(tid)
        if action is Action.ROLL_DAILY and tier == "hourly":
            kind, summary = undump(data)
            bucket = start - start % DAY
            _add(conn, dialect, (tid, eid, nid, ds, "daily", bucket), bucket + DAY, kind, summary)
            rolled += 1
        elif action is Action.ROLL_DAILY:
            continue  # already daily
        else:
            dropped += 1
        conn.execute(_sql("DELETE FROM hist_summaries WHERE tid = ? AND eid = ? AND nid = ?"
                          " AND ds = ? AND tier = ? AND start = ?", dialect),
                     (tid, eid, nid, ds, tier, start))
    if len(rows) == limit:
        return rolled, dropped, (tier, *rows[-1][:6])
    return rolled, dropped, ("daily",) if tier == "hourly" else None


def _add(conn: Any, dialect: Dialect, key: tuple[Any, ...], end: int, kind: str,
         summary: Any) -> None:
    old = conn.execute(_sql(
        "SELECT data FROM hist_summaries WHERE tid = ? AND eid = ? AND nid = ? AND ds = ?"
        " AND tier = ? AND start = ?", dialect), key).fetchone()
    data = dump(kind, merged(None if old is None else bytes(old[0]), summary))
    if old is None:
        conn.execute(_sql("INSERT INTO hist_summaries (tid, eid, nid, ds, tier, start, stop, data)"
                          " VALUES (?, ?, ?, ?, ?, ?, ?, ?)", dialect), (*key, end, data))
    else:
        conn.execute(_sql("UPDATE hist_summaries SET data = ? WHERE tid = ? AND eid = ?"
                          " AND nid = ? AND ds = ? AND tier = ? AND start = ?", dialect),
                     (data, *key))


# ------------------------------------------------------------------- policies


def policy_row(policy: Policy) -> tuple[Any, ...]:
    return (policy.entity_type or "", policy.attribute or "", policy.scope or "",
            policy.raw_days, policy.hourly_days, policy.daily_days)


def row_policy(row: Sequence[Any]) -> Policy:
    etype, attr, scope, raw, hourly, daily = row
    return Policy(etype or None, attr or None, scope or None, raw, hourly, daily)
