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

#: (tenant id, kind, type, name, attribute type): key of a discovery counter
StatKey = tuple[int, str, str, str, str]


class Interner:
    """The writer's cache of tenant and IRI ids (see ``sqlite_schema``).

    An id created in a transaction that is then rolled back disappears, so the
    writer calls :meth:`forget` after any rollback.
    """

    def __init__(self) -> None:
        self._tenants: dict[str, int] = {}
        self._names: dict[str, int] = {}

    def forget(self) -> None:
        self._tenants.clear()
        self._names.clear()

    def tenant(self, conn: sqlite3.Connection, name: str, create: bool) -> int | None:
        tid = self._tenants.get(name)
        if tid is None:
            row = conn.execute("SELECT tid FROM tenants WHERE name = ?", (name,)).fetchone()
            if row is not None:
                tid = row[0]
            elif create:
                tid = conn.execute("INSERT INTO tenants (name) VALUES (?)", (name,)).lastrowid
            if tid is not None:
                self._tenants[name] = tid
        return tid

    def name(self, conn: sqlite3.Connection, iri: str) -> int:
        nid = self._names.get(iri)
        if nid is None:
            row = conn.execute("SELECT nid FROM names WHERE iri = ?", (iri,)).fetchone()
            nid = (
                row[0]
                if row
                else conn.execute("INSERT INTO names (iri) VALUES (?)", (iri,)).lastrowid
            )
            assert nid is not None
            self._names[iri] = nid
        return nid


def apply_mutations(
    conn: sqlite3.Connection,
    interner: Interner,
    tenant: str,
    mutations: Sequence[Mutation],
    stats: Counter[Any],
) -> list[MutationResult]:
    results: list[MutationResult] = []
    touched: dict[int, list[IndexRows]] = {}  # pk -> [rows before the job, rows now]
    tid = interner.tenant(conn, tenant, create=False)
    for mutation in mutations:
        row = None
        if tid is not None:
            row = conn.execute(
                "SELECT pk, data FROM entities WHERE tid = ? AND id = ?",
                (tid, mutation.entity_id),
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
            if tid is None:  # the tenant's first write creates it
                tid = interner.tenant(conn, tenant, create=True)
            cursor = conn.execute(
                "INSERT INTO entities (tid, id, data, created_at, modified_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (tid, mutation.entity_id, blob, created, modified),
            )
            pk = cursor.lastrowid
            assert pk is not None
            # a pk freed earlier in this job may come back (SQLite reuses max+1)
            touched.setdefault(pk, [EMPTY, EMPTY])
        touched[pk][1] = after
        results.append(entity)
    if tid is not None:
        _write_index(conn, interner, tid, touched, stats)
    return results


def _encode(outcome: object, entity_id: str) -> bytes:
    if not isinstance(outcome, dict):
        raise TypeError(f"a mutation returned {type(outcome).__name__}, not an entity")
    if outcome.get("id") != entity_id:
        raise ValueError(f"a mutation of {entity_id} returned entity {outcome.get('id')!r}")
    return orjson.dumps(outcome)


def _write_index(
    conn: sqlite3.Connection,
    interner: Interner,
    tid: int,
    touched: dict[int, list[IndexRows]],
    stats: Counter[Any],
) -> None:
    def nid(iri: str) -> int:
        return interner.name(conn, iri)

    gone: dict[str, list[tuple[Any, ...]]] = {"types": [], "names": [], "nums": [], "txts": []}
    new: dict[str, list[tuple[Any, ...]]] = {"types": [], "names": [], "nums": [], "txts": []}
    for pk, (before, after) in touched.items():
        if before is after:
            continue
        gone["types"] += [(tid, nid(t), pk) for t in before.types - after.types]
        new["types"] += [(tid, nid(t), pk) for t in after.types - before.types]
        gone["names"] += [(tid, nid(n), pk) for n in before.names - after.names]
        new["names"] += [(tid, nid(n), pk) for n in after.names - before.names]
        gone["nums"] += [(tid, nid(n), v, pk) for n, v in before.nums - after.nums]
        new["nums"] += [(tid, nid(n), v, pk) for n, v in after.nums - before.nums]
        gone["txts"] += [(tid, nid(n), v, pk) for n, v in before.txts - after.txts]
        new["txts"] += [(tid, nid(n), v, pk) for n, v in after.txts - before.txts]
        if before.geos != after.geos:
            if before.geos:
                conn.execute(
                    "DELETE FROM geo_rtree WHERE id IN (SELECT id FROM geo_index WHERE pk = ?)",
                    (pk,),
                )
                conn.execute("DELETE FROM geo_index WHERE pk = ?", (pk,))
            for name, minx, maxx, miny, maxy in after.geos:
                gid = conn.execute(
                    "INSERT INTO geo_index (tid, nid, pk) VALUES (?, ?, ?)", (tid, nid(name), pk)
                ).lastrowid
                conn.execute(
                    "INSERT INTO geo_rtree (id, minx, maxx, miny, maxy) VALUES (?, ?, ?, ?, ?)",
                    (gid, minx, maxx, miny, maxy),
                )
        for fact in before.facts - after.facts:
            stats[(tid, *fact)] -= 1
        for fact in after.facts - before.facts:
            stats[(tid, *fact)] += 1
    conn.executemany("DELETE FROM entity_types WHERE tid = ? AND nid = ? AND pk = ?", gone["types"])
    conn.executemany("DELETE FROM attr_names WHERE tid = ? AND nid = ? AND pk = ?", gone["names"])
    conn.executemany(
        "DELETE FROM attr_num WHERE tid = ? AND nid = ? AND num = ? AND pk = ?", gone["nums"]
    )
    conn.executemany(
        "DELETE FROM attr_txt WHERE tid = ? AND nid = ? AND txt = ? AND pk = ?", gone["txts"]
    )
    # OR IGNORE: the tables are sets; a stray row must not make later writes fail
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
        "INSERT INTO stats (tid, kind, type, name, attr_type, n) VALUES (?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (tid, kind, type, name, attr_type) DO UPDATE SET n = n + excluded.n",
        changed,
    )
    conn.executemany(
        "DELETE FROM stats WHERE tid = ? AND kind = ? AND type = ? AND name = ?"
        " AND attr_type = ? AND n <= 0",
        [key for key, n in delta.items() if n < 0],
    )
