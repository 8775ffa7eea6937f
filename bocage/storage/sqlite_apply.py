"""Applying mutations inside the writer's transaction (SQLite store).

Each mutation reads the current entity, calls its function, and writes the
outcome. A function that raises is reported as that mutation's result and
writes nothing (it runs before any SQL of its own), so siblings are never
rolled back. Index tables are brought up to date once per job, from the
difference between the rows of each touched entity before the job and after
it (see ``sqlite_index``): a value update usually rewrites one or two rows.
"""

from __future__ import annotations

import logging
import sqlite3
from collections import Counter
from collections.abc import Sequence
from typing import Any

import orjson

from bocage.domain.entity import Entity
from bocage.domain.errors import BocageError
from bocage.storage.base import DELETE, Mutation, MutationResult
from bocage.storage.sqlite_index import EMPTY, IndexRows, index_rows

log = logging.getLogger(__name__)

#: (tenant, kind, type, name, attribute type): key of a discovery counter
StatKey = tuple[str, str, str, str, str]


def apply_mutations(
    conn: sqlite3.Connection,
    tenant: str,
    mutations: Sequence[Mutation],
    stats: Counter[Any],
) -> list[MutationResult]:
    results: list[MutationResult] = []
    touched: dict[int, list[IndexRows]] = {}  # pk -> [rows before the job, rows now]
    wrote = False
    for mutation in mutations:
        row = conn.execute(
            "SELECT pk, data FROM entities WHERE tenant = ? AND id = ?",
            (tenant, mutation.entity_id),
        ).fetchone()
        current: Entity | None = orjson.loads(row[1]) if row else None
        if row and row[0] not in touched:
            # before fn runs: it may modify the entity it is handed
            rows = index_rows(current) if current is not None else EMPTY
            touched[row[0]] = [rows, rows]
        try:
            outcome = mutation.fn(current)
            if outcome is DELETE:
                blob, after = b"", EMPTY
            else:  # encode and index before writing: a bad entity writes nothing
                blob = _encode(outcome, mutation.entity_id)
                after = index_rows(outcome)  # type: ignore[arg-type]  # a dict, checked
        except BocageError as exc:
            results.append(exc)
            continue
        except Exception as exc:  # a bug in a mutation must not stop the writer
            log.exception("mutation of %r failed", mutation.entity_id)
            error = BocageError(f"internal error while writing {mutation.entity_id}")
            error.__cause__ = exc
            results.append(error)
            continue
        if outcome is DELETE:
            if row:
                conn.execute("DELETE FROM entities WHERE pk = ?", (row[0],))
                touched[row[0]][1] = EMPTY
            results.append(None)
            continue
        entity: Entity = outcome  # type: ignore[assignment]  # DELETE handled above
        created, modified = entity.get("createdAt"), entity.get("modifiedAt")
        if row:
            pk = row[0]
            conn.execute(
                "UPDATE entities SET data = ?, created_at = ?, modified_at = ? WHERE pk = ?",
                (blob, created, modified, pk),
            )
        else:
            cursor = conn.execute(
                "INSERT INTO entities (tenant, id, data, created_at, modified_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (tenant, mutation.entity_id, blob, created, modified),
            )
            pk = cursor.lastrowid
            assert pk is not None
            # a pk freed earlier in this job may come back (SQLite reuses max+1)
            touched.setdefault(pk, [EMPTY, EMPTY])
        touched[pk][1] = after
        wrote = True
        results.append(entity)
    _write_index(conn, tenant, touched, stats)
    if wrote:
        conn.execute("INSERT OR IGNORE INTO tenants (name) VALUES (?)", (tenant,))
    return results


def _encode(outcome: object, entity_id: str) -> bytes:
    if not isinstance(outcome, dict):
        raise TypeError(f"a mutation returned {type(outcome).__name__}, not an entity")
    if outcome.get("id") != entity_id:
        raise ValueError(f"a mutation of {entity_id} returned entity {outcome.get('id')!r}")
    return orjson.dumps(outcome)


def _write_index(
    conn: sqlite3.Connection,
    tenant: str,
    touched: dict[int, list[IndexRows]],
    stats: Counter[Any],
) -> None:
    gone: dict[str, list[tuple[Any, ...]]] = {"types": [], "names": [], "nums": [], "txts": []}
    new: dict[str, list[tuple[Any, ...]]] = {"types": [], "names": [], "nums": [], "txts": []}
    for pk, (before, after) in touched.items():
        if before is after:
            continue
        for t in before.types - after.types:
            gone["types"].append((tenant, t, pk))
        for t in after.types - before.types:
            new["types"].append((tenant, t, pk))
        for n in before.names - after.names:
            gone["names"].append((tenant, n, pk))
        for n in after.names - before.names:
            new["names"].append((tenant, n, pk))
        for name, num in before.nums - after.nums:
            gone["nums"].append((tenant, name, num, pk))
        for name, num in after.nums - before.nums:
            new["nums"].append((tenant, name, num, pk))
        for name, txt in before.txts - after.txts:
            gone["txts"].append((tenant, name, txt, pk))
        for name, txt in after.txts - before.txts:
            new["txts"].append((tenant, name, txt, pk))
        if before.geos != after.geos:
            if before.geos:
                conn.execute(
                    "DELETE FROM geo_rtree WHERE id IN (SELECT id FROM geo_index WHERE pk = ?)",
                    (pk,),
                )
                conn.execute("DELETE FROM geo_index WHERE pk = ?", (pk,))
            for name, minx, maxx, miny, maxy in after.geos:
                gid = conn.execute(
                    "INSERT INTO geo_index (tenant, name, pk) VALUES (?, ?, ?)", (tenant, name, pk)
                ).lastrowid
                conn.execute(
                    "INSERT INTO geo_rtree (id, minx, maxx, miny, maxy) VALUES (?, ?, ?, ?, ?)",
                    (gid, minx, maxx, miny, maxy),
                )
        for fact in before.facts - after.facts:
            stats[(tenant, *fact)] -= 1
        for fact in after.facts - before.facts:
            stats[(tenant, *fact)] += 1
    conn.executemany(
        "DELETE FROM entity_types WHERE tenant = ? AND type = ? AND pk = ?", gone["types"]
    )
    conn.executemany(
        "DELETE FROM attr_names WHERE tenant = ? AND name = ? AND pk = ?", gone["names"]
    )
    conn.executemany(
        "DELETE FROM attr_num WHERE tenant = ? AND name = ? AND num = ? AND pk = ?", gone["nums"]
    )
    conn.executemany(
        "DELETE FROM attr_txt WHERE tenant = ? AND name = ? AND txt = ? AND pk = ?", gone["txts"]
    )
    # OR IGNORE: the tables are sets, and a row left by a crash-free bug must not
    # turn every later write of that entity into an error
    conn.executemany("INSERT OR IGNORE INTO entity_types VALUES (?, ?, ?)", new["types"])
    conn.executemany("INSERT OR IGNORE INTO attr_names VALUES (?, ?, ?)", new["names"])
    conn.executemany("INSERT OR IGNORE INTO attr_num VALUES (?, ?, ?, ?)", new["nums"])
    conn.executemany("INSERT OR IGNORE INTO attr_txt VALUES (?, ?, ?, ?)", new["txts"])


def flush_stats(conn: sqlite3.Connection, delta: Counter[Any]) -> None:
    """Add a group's discovery deltas to the counters (once per transaction)."""
    changed = [(*key, n) for key, n in delta.items() if n]
    if not changed:
        return
    conn.executemany(
        "INSERT INTO stats (tenant, kind, type, name, attr_type, n) VALUES (?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (tenant, kind, type, name, attr_type) DO UPDATE SET n = n + excluded.n",
        changed,
    )
    conn.executemany(
        "DELETE FROM stats WHERE tenant = ? AND kind = ? AND type = ? AND name = ?"
        " AND attr_type = ? AND n <= 0",
        [key for key, n in delta.items() if n < 0],
    )
