"""Applying mutations inside the writer's transaction (PostgreSQL store).

A job costs a fixed handful of round trips whatever its size: the current rows
of every entity it names are read at once (``FOR UPDATE``: another bocage
process writing the same entity waits for us), the mutation functions run in
Python against those, and the outcome is written table by table with one
array statement each (``unnest``), or ``COPY`` when a job creates many
entities. A function that raises is reported as that mutation's result and
writes nothing, as in SQLite; index rows are derived with
``sqlite_index.index_rows`` and only the difference is written.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, cast

import orjson
import psycopg
from psycopg import sql

from bocage.domain.entity import Entity
from bocage.domain.errors import BocageError
from bocage.storage.base import DELETE, Mutation, MutationResult
from bocage.storage.history_rows import TailRow, entity_head, written_instances
from bocage.storage.postgres_history import (
    HEADS_MANY,
    HEADS_ONE,
    INSERT_MANY,
    INSERT_ONE,
    TAIL_COPY_FROM,
    copy_tail,
    tail_params,
)
from bocage.storage.postgres_query import dec, enc
from bocage.storage.sqlite_index import EMPTY, IndexRows, index_rows

log = logging.getLogger(__name__)

Conn = psycopg.Connection[Any]

#: From this many fresh rows on, COPY (through a staging table) beats binding
#: arrays to an ``INSERT ... SELECT unnest`` (see docs/postgresql.md).
COPY_FROM: Final = 256


class Interner:
    """The writer's cache of tenant and IRI ids. An id created in a transaction
    that is then rolled back disappears: the writer calls :meth:`forget`."""

    def __init__(self) -> None:
        self._tenants: dict[str, int] = {}
        self._names: dict[str, int] = {}

    def forget(self) -> None:
        self._tenants.clear()
        self._names.clear()

    def tenant(self, conn: Conn, name: str, create: bool) -> int | None:
        tid = self._tenants.get(name)
        if tid is None:
            row = conn.execute("SELECT tid FROM tenants WHERE name = %s", (name,)).fetchone()
            if row is None and create:
                row = (
                    conn.execute(
                        "INSERT INTO tenants (name) VALUES (%s) ON CONFLICT (name) DO NOTHING"
                        " RETURNING tid",
                        (name,),
                    ).fetchone()
                    or conn.execute(  # created meanwhile by another process
                        "SELECT tid FROM tenants WHERE name = %s", (name,)
                    ).fetchone()
                )
            if row is not None:
                tid = self._tenants[name] = int(row[0])
        return tid

    def names(self, conn: Conn, iris: set[str]) -> dict[str, int]:
        """nid of every IRI, interning the new ones (two round trips at most)."""
        missing = [iri for iri in iris if iri not in self._names]
        for _ in range(2):  # insert, then read back what a concurrent insert won
            if not missing:
                break
            raw = [enc(iri) for iri in missing]
            for nid, iri in conn.execute(
                "SELECT nid, iri FROM names WHERE iri = ANY(%s::bytea[])", (raw,)
            ):
                self._names[dec(iri)] = nid
            missing = [iri for iri in missing if iri not in self._names]
            if missing:
                for nid, iri in conn.execute(
                    "INSERT INTO names (iri) SELECT unnest(%s::bytea[])"
                    " ON CONFLICT (iri) DO NOTHING RETURNING nid, iri",
                    ([enc(iri) for iri in missing],),
                ):
                    self._names[dec(iri)] = nid
                missing = [iri for iri in missing if iri not in self._names]
        if missing:
            raise RuntimeError(f"could not intern {len(missing)} IRIs")
        return {iri: self._names[iri] for iri in iris}


def use_tenant(conn: Conn, tid: int) -> None:
    """Act for tenant ``tid`` until the end of the transaction (row-level security)."""
    conn.execute("SELECT set_config('bocage.tenant', %s, true)", (str(tid),))


@dataclass(slots=True)
class _State:
    """One entity through a job: as read, and as the mutations left it."""

    pk: int | None  # its row before the job, if any
    original: str | None  # data as read (json text)
    blob: str | None  # data now (None: absent)
    rows: IndexRows | None = None  # index rows of ``blob`` (None: not computed)
    dirty: bool = False
    recreated: bool = False  # deleted then created again: a new row, a new pk
    created_at: int = 0  # mutation number of its (re)creation: the order of new pks


def apply_mutations(
    conn: Conn,
    interner: Interner,
    tenant: str,
    mutations: Sequence[Mutation],
    stats: Counter[Any],
    history: bool = True,
) -> list[MutationResult]:
    """``history``: record every attribute instance written (``history_rows``)."""
    tid = interner.tenant(conn, tenant, create=False)
    recorded: list[TailRow] = []
    heads: list[tuple[str, bytes]] = []  # entities deleted: their head, for history
    states: dict[str, _State] = {}
    if tid is not None:
        wanted = list(dict.fromkeys(enc(m.entity_id) for m in mutations))
        with conn.pipeline():  # one round trip for both
            use_tenant(conn, tid)
            cursor = conn.execute(
                "SELECT pk, id, data::text FROM entities WHERE tid = %s AND id = ANY(%s::bytea[])"
                " FOR UPDATE",
                (tid, wanted),
            )
        for pk, raw_id, data in cursor:
            states[dec(raw_id)] = _State(pk, data, data)
    results: list[MutationResult] = []
    for number, mutation in enumerate(mutations):
        state = states.get(mutation.entity_id)
        if state is None:
            state = states[mutation.entity_id] = _State(None, None, None)
        current: Entity | None = None if state.blob is None else orjson.loads(state.blob)
        try:
            outcome = mutation.fn(current)
            if outcome is DELETE:
                blob, rows = None, EMPTY
            else:  # encode and index before writing: a bad entity writes nothing
                blob = _encode(outcome, mutation.entity_id)
                rows = index_rows(cast(Entity, outcome))  # a dict: _encode checked
        except BocageError as exc:
            results.append(exc)
            continue
        except Exception as exc:  # a bug in a mutation must not stop the writer
            log.exception("mutation of %r failed", mutation.entity_id)
            error = BocageError(f"internal error while writing {mutation.entity_id}")
            error.__cause__ = exc
            results.append(error)
            continue
        if blob is None:
            if state.blob is None:
                results.append(None)
                continue
            if history and current is not None:
                heads.append((mutation.entity_id, entity_head(current)))
            if state.pk is not None:
                state.recreated = True  # a later create makes a new row
        elif state.blob is None:
            state.created_at = number
        state.blob, state.rows, state.dirty = blob, rows, True
        if blob is not None and history:
            recorded += written_instances(mutation.entity_id, current, cast(Entity, outcome))
        results.append(None if blob is None else cast(Entity, outcome))
    dirty = {eid: s for eid, s in states.items() if s.dirty}
    if dirty:
        if tid is None and any(s.blob is not None for s in dirty.values()):
            tid = interner.tenant(conn, tenant, create=True)
            assert tid is not None
            use_tenant(conn, tid)
        if tid is not None:
            _write(conn, interner, tid, dirty, stats, recorded, heads)
    return results


def _encode(outcome: object, entity_id: str) -> str:
    if not isinstance(outcome, dict):
        raise TypeError(f"a mutation returned {type(outcome).__name__}, not an entity")
    if outcome.get("id") != entity_id:
        raise ValueError(f"a mutation of {entity_id} returned entity {outcome.get('id')!r}")
    return orjson.dumps(outcome).decode()


def _write(
    conn: Conn,
    interner: Interner,
    tid: int,
    states: dict[str, _State],
    stats: Counter[Any],
    recorded: list[TailRow],
    heads: list[tuple[str, bytes]],
) -> None:
    deleted: list[tuple[Any, ...]] = []
    updated: list[tuple[Any, ...]] = []
    created = sorted(
        (s.created_at, eid)
        for eid, s in states.items()
        if s.blob is not None and (s.pk is None or s.recreated)
    )
    pks = _new_pks(conn, len(created))
    diffs: list[tuple[int, IndexRows, IndexRows, bool]] = []  # pk, before, after, fresh
    for state in states.values():
        if state.pk is None or state.original is None:
            continue  # created in this job: only new rows
        before = index_rows(orjson.loads(state.original))
        if state.blob is None or state.recreated:
            deleted.append((state.pk,))
            diffs.append((state.pk, before, EMPTY, False))
        elif state.blob != state.original:
            updated.append((state.blob, state.pk))
            diffs.append((state.pk, before, state.rows or EMPTY, False))
    new_rows: list[tuple[Any, ...]] = []
    for (_, eid), pk in zip(created, pks, strict=True):
        state = states[eid]
        assert state.blob is not None and state.rows is not None
        new_rows.append((pk, tid, enc(eid), state.blob))
        diffs.append((pk, EMPTY, state.rows, True))
    batch = _Batch()
    batch.add(  # first: a re-created entity's new row reuses its (tid, id)
        "DELETE FROM entities WHERE pk = %s",
        "DELETE FROM entities WHERE pk = ANY(%s::bigint[])",
        deleted,
    )
    batch.add(
        "UPDATE entities SET data = %s::json WHERE pk = %s",
        "UPDATE entities e SET data = u.data::json"
        " FROM unnest(%b::text[], %b::int8[]) AS u(data, pk) WHERE e.pk = u.pk",
        updated,
    )
    batch.insert("entities", ("pk", "tid", "id", "data"), new_rows, fresh=True)
    _write_index(conn, batch, interner, tid, diffs, stats)
    tail: list[tuple[Any, ...]] = []
    if recorded:
        nids = interner.names(conn, {row[1] for row in recorded})
        tail = tail_params(tid, nids, recorded)
        if len(tail) < TAIL_COPY_FROM:
            batch.add(INSERT_ONE, INSERT_MANY, tail)
    if heads:
        batch.add(HEADS_ONE, HEADS_MANY, [(tid, enc(eid), head) for eid, head in heads])
    batch.run(conn)
    if len(tail) >= TAIL_COPY_FROM:
        copy_tail(conn, tail)  # a COPY cannot ride in the pipeline


def _new_pks(conn: Conn, n: int) -> list[int]:
    """``n`` pks in increasing order (creation order) from the entities sequence."""
    if n == 0:
        return []
    rows = conn.execute(
        "SELECT nextval('entities_pk_seq') FROM generate_series(1, %s)", (n,)
    ).fetchall()
    return sorted(int(r[0]) for r in rows)


#: table -> (columns, array types); tid always first, pk always last
_INDEX_TABLES: Final = {
    "entity_types": (("tid", "nid", "pk"), ("int4", "int4", "int8")),
    "attr_names": (("tid", "nid", "pk"), ("int4", "int4", "int8")),
    "attr_num": (("tid", "nid", "num", "pk"), ("int4", "int4", "float8", "int8")),
    "attr_txt": (("tid", "nid", "txt", "pk"), ("int4", "int4", "bytea", "int8")),
}
_TYPES: Final = {
    "entities": ("int8", "int4", "bytea", "text"),
    **{table: types for table, (_, types) in _INDEX_TABLES.items()},
}
#: Up to this many rows, one plain statement per row (pipelined by executemany,
#: each an index seek); beyond, one array statement. An array join on few rows
#: lets the planner pick a hash join over a sequential scan of a large table.
_FEW: Final = 32
# box2d -> geometry gives a POINT for a degenerate box: points stay points
_BOX: Final = "ST_SetSRID(ST_MakeBox2D(ST_Point(%s, %s), ST_Point(%s, %s))::geometry, 4326)"


class _Batch:
    """A job's writes, sent in one pipeline (one round trip) in order; COPYs,
    which a pipeline cannot carry, run after it."""

    def __init__(self) -> None:
        self._statements: list[tuple[str, list[tuple[Any, ...]] | None, Any]] = []
        self._copies: list[tuple[str, Sequence[str], list[tuple[Any, ...]]]] = []

    def add(self, one: str, many: str, rows: list[tuple[Any, ...]]) -> None:
        if len(rows) > _FEW:
            self._statements.append((many, None, _columns(rows)))
        elif rows:
            self._statements.append((one, rows, None))

    def insert(
        self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]], fresh: bool
    ) -> None:
        """``fresh`` rows belong to pks created in this job: they cannot
        collide, and are COPYed when there are many."""
        if fresh and len(rows) >= COPY_FROM:
            self._copies.append((table, columns, rows))
            return
        names = ", ".join(columns)
        values = ", ".join("%s::json" if c == "data" else "%s" for c in columns)
        select = ", ".join(f"{c}::json" if c == "data" else c for c in columns)
        # The index tables are sets: a stray row must not fail a write. An
        # entity row that exists already must (another process created it).
        conflict = "" if table == "entities" else " ON CONFLICT DO NOTHING"
        self.add(
            f"INSERT INTO {table} ({names}) VALUES ({values}){conflict}",
            f"INSERT INTO {table} ({names}) SELECT {select} FROM {_unnest(_TYPES[table])}"
            f" AS u({names}){conflict}",
            rows,
        )

    def run(self, conn: Conn) -> None:
        if self._statements:
            with conn.pipeline():
                for query, rows, arrays in self._statements:
                    if rows is not None:
                        conn.cursor().executemany(sql.SQL(query), rows)
                    else:
                        conn.execute(sql.SQL(query), arrays)
        for table, columns, rows in self._copies:
            _copy(conn, table, columns, rows)


def _write_index(
    conn: Conn,
    batch: _Batch,
    interner: Interner,
    tid: int,
    diffs: list[tuple[int, IndexRows, IndexRows, bool]],
    stats: Counter[Any],
) -> None:
    wanted: set[str] = set()
    for _, before, after, _ in diffs:
        for rows in (before, after):
            wanted.update(rows.types, rows.names)
            wanted.update(n for n, _ in rows.nums)
            wanted.update(n for n, _ in rows.txts)
            wanted.update(g[0] for g in rows.geos)
    nid = interner.names(conn, wanted) if wanted else {}
    gone: dict[str, list[tuple[Any, ...]]] = {t: [] for t in _INDEX_TABLES}
    new: dict[str, list[tuple[Any, ...]]] = {t: [] for t in _INDEX_TABLES}
    fresh: dict[str, list[tuple[Any, ...]]] = {t: [] for t in _INDEX_TABLES}
    geo_gone: list[tuple[Any, ...]] = []
    geo_new: list[tuple[Any, ...]] = []
    for pk, before, after, is_fresh in diffs:
        out = fresh if is_fresh else new
        gone["entity_types"] += [(tid, nid[t], pk) for t in before.types - after.types]
        out["entity_types"] += [(tid, nid[t], pk) for t in after.types - before.types]
        gone["attr_names"] += [(tid, nid[n], pk) for n in before.names - after.names]
        out["attr_names"] += [(tid, nid[n], pk) for n in after.names - before.names]
        gone["attr_num"] += [(tid, nid[n], v, pk) for n, v in before.nums - after.nums]
        out["attr_num"] += [(tid, nid[n], v, pk) for n, v in after.nums - before.nums]
        gone["attr_txt"] += [(tid, nid[n], enc(v), pk) for n, v in before.txts - after.txts]
        out["attr_txt"] += [(tid, nid[n], enc(v), pk) for n, v in after.txts - before.txts]
        if before.geos != after.geos:
            if before.geos:
                geo_gone.append((pk,))
            # the box's corners: (minx, miny), (maxx, maxy)
            geo_new += [(tid, nid[name], pk, x0, y0, x1, y1) for name, x0, x1, y0, y1 in after.geos]
        for fact in before.facts - after.facts:
            stats[(tid, *fact)] -= 1
        for fact in after.facts - before.facts:
            stats[(tid, *fact)] += 1
    for table, (columns, types) in _INDEX_TABLES.items():
        keys = " AND ".join(f"{c} = %s" for c in columns)
        joined = " AND ".join(f"t.{c} = g.{c}" for c in columns)
        batch.add(
            f"DELETE FROM {table} WHERE {keys}",
            f"DELETE FROM {table} t USING {_unnest(types)} AS g({', '.join(columns)})"
            f" WHERE {joined}",
            gone[table],
        )
        batch.insert(table, columns, new[table], fresh=False)
        batch.insert(table, columns, fresh[table], fresh=True)
    batch.add(
        "DELETE FROM geo_index WHERE pk = %s",
        "DELETE FROM geo_index WHERE pk = ANY(%s::bigint[])",
        geo_gone,
    )
    batch.add(
        f"INSERT INTO geo_index (tid, nid, pk, box) VALUES (%s, %s, %s, {_BOX})",
        "INSERT INTO geo_index (tid, nid, pk, box) SELECT tid, nid, pk,"
        f" {_BOX % ('x0', 'y0', 'x1', 'y1')}"
        " FROM unnest(%b::int4[], %b::int4[], %b::int8[], %b::float8[], %b::float8[],"
        " %b::float8[], %b::float8[]) AS g(tid, nid, pk, x0, y0, x1, y1)",
        geo_new,
    )


def _unnest(types: Sequence[str]) -> str:
    # %b: arrays travel in binary; the text format escapes every element in Python
    return "unnest(" + ", ".join(f"%b::{t}[]" for t in types) + ")"


def _columns(rows: list[tuple[Any, ...]]) -> list[Any]:
    columns = [list(column) for column in zip(*rows, strict=True)]
    return columns[0] if len(columns) == 1 else columns


def _copy(conn: Conn, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
    # PostgreSQL refuses COPY into a table under row-level security: COPY into
    # a private temporary table, then one INSERT ... SELECT (which the policy
    # checks). Still faster than binding arrays of this size.
    names = ", ".join(columns)
    stage = f"bocage_stage_{table}"
    conn.execute(
        sql.SQL(f"CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE {table} INCLUDING DEFAULTS)")
    )
    with conn.cursor().copy(sql.SQL(f"COPY {stage} ({names}) FROM STDIN")) as copy:
        for row in rows:
            copy.write_row(row)
    conn.execute(sql.SQL(f"INSERT INTO {table} ({names}) SELECT {names} FROM {stage}"))
    # DELETE, not TRUNCATE: a TRUNCATE makes a new file and catalog rows each time
    conn.execute(sql.SQL(f"DELETE FROM {stage}"))


def flush_stats(conn: Conn, delta: Counter[Any]) -> None:
    """Add a group's discovery deltas to the counters (once per transaction).
    Keys are sorted so that two processes lock counter rows in the same order."""
    by_tenant: dict[int, list[tuple[Any, ...]]] = {}
    for key, n in sorted(delta.items()):
        if n:
            by_tenant.setdefault(key[0], []).append((*key, n))
    for tid, changed in by_tenant.items():
        use_tenant(conn, tid)
        rows = [
            (t, kind, enc(type_), enc(name), attr_type, n)
            for t, kind, type_, name, attr_type, n in changed
        ]
        conn.execute(
            "INSERT INTO stats (tid, kind, type, name, attr_type, n)"
            " SELECT * FROM unnest(%s::int4[], %s::text[], %s::bytea[], %s::bytea[],"
            " %s::text[], %s::int8[])"
            " ON CONFLICT (tid, kind, type, name, attr_type)"
            " DO UPDATE SET n = stats.n + excluded.n",
            _columns(rows),
        )
        if any(r[-1] < 0 for r in rows):
            conn.execute("DELETE FROM stats WHERE tid = %s AND n <= 0", (tid,))
