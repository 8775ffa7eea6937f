"""Applying mutations inside the writer's transaction (SQLite store).

Each mutation gets the current entity, calls its function, and writes the
outcome. The job reads every entity it names with one SELECT and writes its
rows at the end with one executemany per statement (bulk writes are most of
the cost otherwise); later mutations of the same entity in the job see the
earlier ones' outcome. A function that raises is reported as that mutation's result and
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
from typing import Any, Final, cast

import orjson

from bocage.domain.entity import Entity
from bocage.domain.errors import BocageError
from bocage.storage.base import DELETE, Mutation, MutationResult
from bocage.storage.history_rows import TailRow, entity_head, written_instances
from bocage.storage.sqlite_history import write_heads, write_tail
from bocage.storage.sqlite_index import EMPTY, GeoRow, IndexRows, index_delta

log = logging.getLogger(__name__)

#: (tenant id, kind, type, name, attribute type): key of a discovery counter
StatKey = tuple[int, str, str, str, str]
_ID_COLUMN: Final = {"entities": "pk", "geo_index": "id"}


class Interner:
    """The writer's cache of tenant and IRI ids (see ``sqlite_schema``), and of
    the next entity pk and geo_index id.

    An id created in a transaction that is then rolled back disappears, so the
    writer calls :meth:`forget` after any rollback.

    New rows get their ids here rather than from SQLite, so that a job can
    insert them all with one executemany and still know them: the writer holds
    the only write connection, so ``max + 1`` (what SQLite itself would pick)
    read once and then counted up stays right. Ids are never reused while the
    cache lives, so pks keep following creation order.
    """

    def __init__(self) -> None:
        self._tenants: dict[str, int] = {}
        #: iri -> nid; read directly on the hot path (a dict hit, no call)
        self.names: dict[str, int] = {}
        self._next: dict[str, int] = {}  # table -> next free id

    def forget(self) -> None:
        self._tenants.clear()
        self.names.clear()
        self._next.clear()

    def take_ids(self, conn: sqlite3.Connection, table: str, count: int) -> int:
        """Reserve ``count`` consecutive ids of ``entities`` or ``geo_index``."""
        first = self._next.get(table)
        if first is None:
            column = _ID_COLUMN[table]
            sql = f"SELECT coalesce(max({column}), 0) + 1 FROM {table}"
            first = int(conn.execute(sql).fetchone()[0])
        self._next[table] = first + count
        return first

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
        nid = self.names.get(iri)
        if nid is None:
            row = conn.execute("SELECT nid FROM names WHERE iri = ?", (iri,)).fetchone()
            nid = (
                row[0]
                if row
                else conn.execute("INSERT INTO names (iri) VALUES (?)", (iri,)).lastrowid
            )
            assert nid is not None
            self.names[iri] = nid
        return nid


def apply_mutations(
    conn: sqlite3.Connection,
    interner: Interner,
    tenant: str,
    mutations: Sequence[Mutation],
    stats: Counter[Any],
    history: bool = True,
) -> list[MutationResult]:
    """``history``: record every attribute instance written (``history_rows``)."""
    results: list[MutationResult] = []
    recorded: list[TailRow] = []
    heads: list[tuple[str, bytes]] = []  # entities deleted: their head, for history
    # pk -> [entity before the job, entity now, index rows (before, now) or None
    # when several mutations touched it: then taken from both ends at the end]
    touched: dict[int, list[Any]] = {}
    tid = interner.tenant(conn, tenant, create=False)
    # The job's view of each entity it touches: (pk, stored blob), or None when
    # absent. One SELECT for the whole job, and the rows are written at its end
    # with one executemany per statement (see _Writes): a 1000-entity batch
    # costs a handful of statements instead of thousands.
    state = _current_rows(conn, tid, mutations)
    writes = _Writes()
    for mutation in mutations:
        entity_id = mutation.entity_id
        row = state.get(entity_id)
        # a fresh decode per mutation: a function may keep (not modify) what it gets;
        # and one for the index and history, in case it modified it nonetheless
        current: Entity | None = orjson.loads(row[1]) if row else None
        pristine: Entity | None = orjson.loads(row[1]) if row else None
        try:
            outcome = mutation.fn(current)
            written: Entity | None = None
            blob = b""
            if outcome is not DELETE:  # encode and index before writing: a bad entity
                blob = _encode(outcome, entity_id)  # writes nothing
                written = cast(Entity, outcome)  # a dict: _encode checked
            rows = index_delta(pristine, written)
        except BocageError as exc:
            results.append(exc)
            continue
        except Exception as exc:  # a bug in a mutation must not stop the writer
            log.exception("mutation of %r failed", entity_id)
            error = BocageError(f"internal error while writing {entity_id}")
            error.__cause__ = exc
            results.append(error)
            continue
        if written is None:
            if row:
                if history and pristine is not None:
                    heads.append((entity_id, entity_head(pristine)))
                writes.delete(row[0])
                _touch(touched, row[0], pristine, None, rows)
                state[entity_id] = None
            results.append(None)
            continue
        entity: Entity = written
        created, modified = entity.get("createdAt"), entity.get("modifiedAt")
        if row:
            pk = row[0]
            writes.update(pk, blob, created, modified)
        else:
            if tid is None:  # the tenant's first write creates it
                tid = interner.tenant(conn, tenant, create=True)
                assert tid is not None
            pk = writes.insert(conn, interner, tid, entity_id, blob, created, modified)
        _touch(touched, pk, pristine, entity, rows)
        state[entity_id] = (pk, blob)
        if history:
            recorded += written_instances(entity_id, pristine, entity)
        results.append(entity)
    writes.run(conn)
    if tid is not None:
        _write_index(conn, interner, tid, touched, stats)
        if recorded:
            write_tail(conn, interner.names, lambda iri: interner.name(conn, iri), tid, recorded)
        if heads:
            write_heads(conn, tid, heads)
    return results


def _touch(touched: dict[int, list[Any]], pk: int, before: Entity | None,
           after: Entity | None, rows: tuple[IndexRows, IndexRows]) -> None:
    entry = touched.get(pk)
    if entry is None:
        touched[pk] = [before, after, rows]
    else:  # touched again in this job: index from the state before the job
        entry[1] = after
        entry[2] = None


#: Ids per ``IN (...)`` list: well under SQLITE_MAX_VARIABLE_NUMBER (999 before 3.32).
_CHUNK: Final = 500


def _current_rows(
    conn: sqlite3.Connection, tid: int | None, mutations: Sequence[Mutation]
) -> dict[str, tuple[int, bytes] | None]:
    """(pk, data) of each existing entity the mutations name."""
    found: dict[str, tuple[int, bytes] | None] = {}
    if tid is None:
        return found
    if len(mutations) == 1:
        row = conn.execute(
            "SELECT pk, data FROM entities WHERE tid = ? AND id = ?",
            (tid, mutations[0].entity_id),
        ).fetchone()
        if row is not None:
            found[mutations[0].entity_id] = (row[0], row[1])
        return found
    ids = list(dict.fromkeys(m.entity_id for m in mutations))
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        marks = ",".join("?" * len(chunk))
        for pk, id_, data in conn.execute(
            f"SELECT pk, id, data FROM entities WHERE tid = ? AND id IN ({marks})",
            (tid, *chunk),
        ):
            found[id_] = (pk, data)
    return found


class _Writes:
    """The entity rows a job writes, run at its end as one executemany each.

    New entities get their pk from the Interner. Only the last state of each
    row is written; deletions run first so that an id deleted and created again
    in one job does not collide with itself on UNIQUE (tid, id).
    """

    __slots__ = ("deletes", "inserts", "updates")

    def __init__(self) -> None:
        self.deletes: list[tuple[int]] = []
        self.updates: dict[int, tuple[bytes, Any, Any, int]] = {}
        self.inserts: dict[int, tuple[int, int, str, bytes, Any, Any]] = {}

    def insert(
        self, conn: sqlite3.Connection, interner: Interner, tid: int, entity_id: str,
        blob: bytes, created: Any, modified: Any,
    ) -> int:
        pk = interner.take_ids(conn, "entities", 1)
        self.inserts[pk] = (pk, tid, entity_id, blob, created, modified)
        return pk

    def update(self, pk: int, blob: bytes, created: Any, modified: Any) -> None:
        new = self.inserts.get(pk)
        if new is not None:  # created earlier in this job: insert the latest state
            self.inserts[pk] = (pk, new[1], new[2], blob, created, modified)
        else:
            self.updates[pk] = (blob, created, modified, pk)

    def delete(self, pk: int) -> None:
        if self.inserts.pop(pk, None) is None:
            self.updates.pop(pk, None)
            self.deletes.append((pk,))

    def run(self, conn: sqlite3.Connection) -> None:
        if self.deletes:
            conn.executemany("DELETE FROM entities WHERE pk = ?", self.deletes)
        if self.updates:
            conn.executemany(
                "UPDATE entities SET data = ?, created_at = ?, modified_at = ? WHERE pk = ?",
                self.updates.values(),
            )
        if self.inserts:
            conn.executemany(
                "INSERT INTO entities (pk, tid, id, data, created_at, modified_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                self.inserts.values(),
            )


def _encode(outcome: object, entity_id: str) -> bytes:
    if not isinstance(outcome, dict):
        raise TypeError(f"a mutation returned {type(outcome).__name__}, not an entity")
    if outcome.get("id") != entity_id:
        raise ValueError(f"a mutation of {entity_id} returned entity {outcome.get('id')!r}")
    return orjson.dumps(outcome)


_TABLES: Final = ("types", "names", "nums", "txts")
_DELETE: Final = {
    "types": "DELETE FROM entity_types WHERE tid = ? AND nid = ? AND pk = ?",
    "names": "DELETE FROM attr_names WHERE tid = ? AND nid = ? AND pk = ?",
    "nums": "DELETE FROM attr_num WHERE tid = ? AND nid = ? AND num = ? AND pk = ?",
    "txts": "DELETE FROM attr_txt WHERE tid = ? AND nid = ? AND txt = ? AND pk = ?",
}
# OR IGNORE: the tables are sets; a stray row must not make later writes fail
_INSERT: Final = {
    "types": "INSERT OR IGNORE INTO entity_types VALUES (?, ?, ?)",
    "names": "INSERT OR IGNORE INTO attr_names VALUES (?, ?, ?)",
    "nums": "INSERT OR IGNORE INTO attr_num VALUES (?, ?, ?, ?)",
    "txts": "INSERT OR IGNORE INTO attr_txt VALUES (?, ?, ?, ?)",
}


class _Changes:
    """The index rows to delete and insert for (pk, rows before, rows after)
    triples, and the discovery facts gained and lost. Names are looked up in
    ``known`` (KeyError for a name not interned yet)."""

    __slots__ = ("added", "geo_gone", "geo_gone_all", "geo_new", "gone", "new", "removed")

    def __init__(self, tid: int, pairs: list[tuple[int, IndexRows, IndexRows]],
                 known: dict[str, int]) -> None:
        gone: dict[str, list[tuple[Any, ...]]] = {t: [] for t in _TABLES}
        new: dict[str, list[tuple[Any, ...]]] = {t: [] for t in _TABLES}
        self.gone, self.new = gone, new
        self.geo_gone_all: list[tuple[int]] = []  # pk: every box of the entity
        self.geo_gone: list[tuple[int, int]] = []  # (pk, nid): the boxes of one attribute
        self.geo_new: list[tuple[int, int, GeoRow]] = []  # (nid, pk, box)
        self.added: Counter[Any] = Counter()
        self.removed: Counter[Any] = Counter()
        types, names, nums, txts = new["types"], new["names"], new["nums"], new["txts"]
        for pk, before, after in pairs:
            if before is EMPTY:  # a new entity (the common bulk case): nothing to diff
                types += [(tid, known[t], pk) for t in after.types]
                names += [(tid, known[n], pk) for n in after.names]
                nums += [(tid, known[n], v, pk) for n, v in after.nums]
                txts += [(tid, known[n], v, pk) for n, v in after.txts]
                if after.geos:
                    self.geo_new += [(known[g[0]], pk, g) for g in after.geos]
                self.added.update(after.facts)
                continue
            gone["types"] += [(tid, known[t], pk) for t in before.types - after.types]
            types += [(tid, known[t], pk) for t in after.types - before.types]
            gone["names"] += [(tid, known[n], pk) for n in before.names - after.names]
            names += [(tid, known[n], pk) for n in after.names - before.names]
            gone["nums"] += [(tid, known[n], v, pk) for n, v in before.nums - after.nums]
            nums += [(tid, known[n], v, pk) for n, v in after.nums - before.nums]
            gone["txts"] += [(tid, known[n], v, pk) for n, v in before.txts - after.txts]
            txts += [(tid, known[n], v, pk) for n, v in after.txts - before.txts]
            if before.geos != after.geos:
                # the boxes of the attributes in the rows: all of them for an entity
                # rewritten whole, the changed ones only for an update (index_delta)
                if after is EMPTY:
                    self.geo_gone_all.append((pk,))
                else:
                    self.geo_gone += [(pk, known[n])
                                      for n in {g[0] for g in before.geos + after.geos}]
                self.geo_new += [(known[g[0]], pk, g) for g in after.geos]
            self.removed.update(before.facts - after.facts)
            self.added.update(after.facts - before.facts)


def _write_index(
    conn: sqlite3.Connection,
    interner: Interner,
    tid: int,
    touched: dict[int, list[Any]],
    stats: Counter[Any],
) -> None:
    pairs: list[tuple[int, IndexRows, IndexRows]] = []
    for pk, (first, last, rows) in touched.items():
        before, after = rows if rows is not None else index_delta(first, last)
        if before is not after:
            pairs.append((pk, before, after))
    known = interner.names
    try:
        changes = _Changes(tid, pairs, known)
    except KeyError:  # a name never stored before: intern them all, then again
        for _, before, after in pairs:
            for iri in (*before.types, *before.names, *after.types, *after.names):
                if iri not in known:
                    interner.name(conn, iri)
        changes = _Changes(tid, pairs, known)
    for fact, n in changes.added.items():
        stats[(tid, *fact)] += n
    for fact, n in changes.removed.items():
        stats[(tid, *fact)] -= n
    gone, new = changes.gone, changes.new
    for table, rows in gone.items():
        if rows:
            conn.executemany(_DELETE[table], rows)
    for table, rows in new.items():
        if rows:
            # Rows go in key order: consecutive inserts then land on the same
            # B-tree page rather than one page per attribute name.
            rows.sort()
            conn.executemany(_INSERT[table], rows)
    _write_geo(conn, interner, tid, changes.geo_gone_all, changes.geo_gone,
               changes.geo_new)


def _write_geo(
    conn: sqlite3.Connection,
    interner: Interner,
    tid: int,
    gone_all: list[tuple[int]],
    gone: list[tuple[int, int]],
    new: list[tuple[int, int, GeoRow]],
) -> None:
    """Remove every box of the entities in ``gone_all``, the boxes of the
    (entity, attribute) pairs in ``gone``, and add ``new`` ones.

    geo_index ids come from the Interner, so that both tables are filled by
    one executemany each.
    """
    if gone_all:
        conn.executemany(
            "DELETE FROM geo_rtree WHERE id IN (SELECT id FROM geo_index WHERE pk = ?)",
            gone_all,
        )
        conn.executemany("DELETE FROM geo_index WHERE pk = ?", gone_all)
    if gone:
        conn.executemany(
            "DELETE FROM geo_rtree WHERE id IN"
            " (SELECT id FROM geo_index WHERE pk = ? AND nid = ?)", gone
        )
        conn.executemany("DELETE FROM geo_index WHERE pk = ? AND nid = ?", gone)
    if not new:
        return
    first = interner.take_ids(conn, "geo_index", len(new))
    conn.executemany(
        "INSERT INTO geo_index (id, tid, nid, pk) VALUES (?, ?, ?, ?)",
        [(first + i, tid, nid, pk) for i, (nid, pk, _) in enumerate(new)],
    )
    conn.executemany(
        "INSERT INTO geo_rtree (id, minx, maxx, miny, maxy) VALUES (?, ?, ?, ?, ?)",
        [(first + i, *box[1:]) for i, (_, _, box) in enumerate(new)],
    )


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
