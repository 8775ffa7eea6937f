"""The default storage backend: one SQLite file, no server.

Shaped like datasette's: one writer thread owns the only read-write
connection (``sqlite_writer``: a bounded queue, group commit, WAL with
``synchronous=FULL`` so a returned ``apply`` is on disk), and every reading
thread gets its own read-only connection (``mode=ro`` + ``query_only``), so
reads never wait for writes and never write.

Queries run in two steps: SQL selects candidates (``sqlite_query`` turns the
EntityQuery into a prefilter that may over-select, never under-select), then
the exact evaluators of ``bocage.ngsild`` (idPattern, q, geo, scope) decide on
the decoded entities, streamed from a cursor until the page is full.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from bocage.domain.entity import Entity, Instance
from bocage.domain.errors import NonexistentTenant, ServiceUnavailable
from bocage.domain.query import EntityQuery, QueryPage
from bocage.domain.temporal import HistoryRange, parse_instance_id
from bocage.history.retention import Policy
from bocage.history.rollup import DayTotals
from bocage.storage import rollup_sql
from bocage.storage.base import AttributeInfo, Mutation, MutationResult, TypeInfo
from bocage.storage.discovery import StatsRow, attribute_infos, type_infos
from bocage.storage.exact import Check, exact_checks
from bocage.storage.history_base import HistorySize
from bocage.storage.history_rows import StoredRows, tail_row
from bocage.storage.history_views import HistoryViews
from bocage.storage.retention_job import Dialect, policy_row, row_policy
from bocage.storage.retention_job import step as retention_step
from bocage.storage.sqlite_apply import Interner, apply_mutations, flush_stats
from bocage.storage.sqlite_checkpoint import Checkpointer
from bocage.storage.sqlite_coalesce import Coalescer
from bocage.storage.sqlite_history import (
    DIALECT,
    compact_tail,
    delete_history,
    gone_entity,
    history_size,
    names_of,
    read_rows,
    replace_record,
    storage_stats,
    write_tail,
)
from bocage.storage.sqlite_query import (
    DEFAULT_CAP,
    Scope,
    atoms_to_probe,
    iris,
    probe_sql,
    select_sql,
    translate,
)
from bocage.storage.sqlite_schema import migrate
from bocage.storage.sqlite_writer import Writer, is_unavailable
from bocage.storage.stats import StorageStats


class SQLiteStore(HistoryViews):
    """A :class:`bocage.storage.base.Store` and
    :class:`bocage.storage.history_base.HistoryStore` in one SQLite file.

    ``queue_size`` bounds the writes waiting for the writer (beyond it,
    ``apply`` raises ServiceUnavailable); ``probe_cap`` is the candidate count
    under which a query drives from its most selective index (see
    ``sqlite_query``); ``history`` records attribute history on every write,
    compacted into chunks of ``chunk_ms`` (see ``sqlite_history``).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        group_commit_ms: float = 2.0,
        *,
        queue_size: int = 1024,
        probe_cap: int = DEFAULT_CAP,
        history: bool = True,
        chunk_ms: int = 86_400_000,
    ) -> None:
        self.path = os.path.abspath(path)
        self._cap = probe_cap
        self._history = history
        self._chunk_ms = chunk_ms
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode != "wal":
                raise RuntimeError(f"{self.path}: cannot use WAL journal mode (got {mode})")
            # WAL + NORMAL may lose the last commits on power loss; FULL fsyncs
            # the WAL at each COMMIT, which group commit makes affordable.
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA busy_timeout = 5000")
            conn.execute("PRAGMA cache_size = -16384")  # 16 MiB: index maintenance
            conn.execute("PRAGMA temp_store = MEMORY")
            # checkpoints run beside the writer (sqlite_checkpoint), not in its COMMITs
            conn.execute("PRAGMA wal_autocheckpoint = 0")
            migrate(conn)
        except BaseException:
            conn.close()
            raise
        self._uri = Path(self.path).as_uri() + "?mode=ro"
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._closed = False
        # Committed ids never change (rows are never deleted), so readers may
        # cache them; plain dicts are safe to share under the GIL.
        self._tids: dict[str, int] = {}
        self._nids: dict[str, int] = {}
        interner = self._interner = Interner()
        self._writer = Writer(
            conn, flush_stats, group_commit_ms, queue_size, on_rollback=interner.forget
        )

        def apply(conn: sqlite3.Connection, tenant: str, batch: list[Mutation],
                  stats: Counter[Any]) -> list[MutationResult]:
            return apply_mutations(conn, interner, tenant, batch, stats, history)

        self._checkpointer = Checkpointer(self.path)
        self._entity_writes = Coalescer(self._writer, apply, interner.forget, queue_size,
                                        committed=self._checkpointer.wrote)

    # ------------------------------------------------------------------ writes

    def apply(self, tenant: str, mutations: Sequence[Mutation]) -> list[MutationResult]:
        return self.submit(tenant, mutations).result()

    def submit(self, tenant: str, mutations: Sequence[Mutation]) -> Future[list[MutationResult]]:
        batch = list(mutations)
        if not batch:
            done: Future[list[MutationResult]] = Future()
            done.set_result([])
            return done
        return self._entity_writes.submit(tenant, batch)

    # ------------------------------------------------------------------- reads

    def get(self, tenant: str, entity_id: str) -> Entity | None:
        with self._reading() as conn:
            tid = self._tenant_id(conn, tenant)
            if tid is None:
                return None
            row = conn.execute(
                "SELECT data FROM entities WHERE tid = ? AND id = ?", (tid, entity_id)
            ).fetchone()
        if row is None:
            return None
        entity: Entity = orjson.loads(row[0])
        return entity

    def query(self, tenant: str, query: EntityQuery) -> QueryPage:
        checks = exact_checks(query)  # validates idPattern before touching the database
        prefilter = translate(query)
        empty = QueryPage([], 0 if query.count else None)
        with self._snapshot() as conn:
            tid = self._tenant_id(conn, tenant)
            if tid is None:
                return empty
            scope = Scope(tid, self._name_ids(conn, iris(prefilter)))
            sizes = {}
            for atom in atoms_to_probe(prefilter, self._cap):
                probe = probe_sql(scope, atom, self._cap)
                sizes[atom] = 0 if probe is None else conn.execute(*probe).fetchone()[0]
            selection = select_sql(scope, prefilter, sizes, self._cap)
            if selection.empty:
                return empty
            if prefilter.exact:
                # the SQL is the whole answer: page and count in SQL, decode the page only
                entities: list[dict[str, object]] = []
                if query.limit > 0:
                    rows = conn.execute(
                        f"{selection.sql} LIMIT ? OFFSET ?",
                        [*selection.params, query.limit, max(0, query.offset)],
                    )
                    entities = [orjson.loads(data) for _, data in rows]
                count = None
                if query.count:
                    counting = select_sql(scope, prefilter, sizes, self._cap, count=True)
                    count = conn.execute(counting.sql, counting.params).fetchone()[0]
                return QueryPage(entities, count)
            if query.limit <= 0 and not query.count:
                return empty
            return _filtered_page(conn, query, selection.sql, selection.params, checks)

    def types(self, tenant: str) -> list[TypeInfo]:
        return type_infos(self._stats(tenant, "T"))

    def attributes(self, tenant: str) -> list[AttributeInfo]:
        return attribute_infos(self._stats(tenant, "A"))

    def _stats(self, tenant: str, kind: str) -> list[StatsRow]:
        """The ``kind`` counters of a tenant and the type x attribute ones."""
        with self._reading() as conn:
            return conn.execute(
                "SELECT kind, type, name, attr_type, n FROM stats"
                " WHERE tid = ? AND kind IN (?, 'TA')",
                (self._tenant_id(conn, tenant), kind),
            ).fetchall()

    def tenants(self) -> list[str]:
        with self._reading() as conn:
            return [name for (name,) in conn.execute("SELECT name FROM tenants ORDER BY name")]

    # ----------------------------------------------------------------- history

    def rollups(
        self, tenant: str, entity_type: str, attr: str, scopes: Sequence[str] | None,
        start_ms: int, end_ms: int,
    ) -> list[tuple[str, int, DayTotals]]:
        with self._reading() as conn:
            tid = self._tenant_id(conn, tenant)
            nid = None if tid is None else self._name_ids(conn, {attr}).get(attr)
            if tid is None or nid is None:
                return []
            return rollup_sql.read(conn, DIALECT, tid, nid, entity_type, scopes, start_ms,
                                   end_ms)

    def rollup_series(self, tenant: str,
                      scopes: Sequence[str] | None) -> list[tuple[str, str]]:
        with self._reading() as conn:
            tid = self._tenant_id(conn, tenant)
            if tid is None:
                return []
            pairs = rollup_sql.series(conn, DIALECT, tid, scopes)
            names = names_of(conn, {})
            return [(etype, names(nid)) for etype, nid in pairs]

    def _history_rows(
        self, tenant: str, entity_id: str, window: HistoryRange
    ) -> StoredRows | None:
        with self._snapshot() as conn:
            tid = self._tenant_id(conn, tenant)
            if tid is None:
                return None
            nids: dict[int, str] = {}
            if window.attrs is not None:
                found = self._name_ids(conn, set(window.attrs))
                nids = {nid: iri for iri, nid in found.items()}
            rows = read_rows(conn, tid, entity_id, window, nids)
            # names are resolved lazily: resolve them inside the snapshot
            for nid in {r[0] for r in rows.chunks} | {r[0] for r in rows.tail}:
                rows.name(nid)
            return rows

    def gone_entity(self, tenant: str, entity_id: str) -> Entity | None:
        with self._reading() as conn:
            tid = self._tenant_id(conn, tenant)
            head = None if tid is None else gone_entity(conn, tid, entity_id)
        return None if head is None else _entity(head)

    def add_history(
        self, tenant: str, entity_id: str, instances: Sequence[tuple[str, Instance]]
    ) -> None:
        rows = [tail_row(entity_id, attr, inst) for attr, inst in instances]
        if not rows:
            return
        interner = self._interner

        def job(conn: sqlite3.Connection, _: Counter[Any]) -> None:
            tid = interner.tenant(conn, tenant, create=True)
            assert tid is not None
            write_tail(conn, interner.names, lambda iri: interner.name(conn, iri), tid, rows)

        self._writer.submit(job, weight=len(rows))

    def replace_instance(
        self, tenant: str, entity_id: str, attr: str, instance_id: str, new: Instance | None
    ) -> bool:
        where = parse_instance_id(instance_id)
        if where is None:
            return False
        row = tail_row(entity_id, attr, new) if new is not None else None
        interner = self._interner

        def job(conn: sqlite3.Connection, _: Counter[Any]) -> bool:
            tid = interner.tenant(conn, tenant, create=False)
            found = conn.execute("SELECT nid FROM names WHERE iri = ?", (attr,)).fetchone()
            if tid is None or found is None:
                return False
            return replace_record(conn, tid, entity_id, found[0], attr, *where, row)

        return self._writer.submit(job)

    def delete_history(self, tenant: str, entity_id: str, attr: str | None = None) -> int:
        interner = self._interner

        def job(conn: sqlite3.Connection, _: Counter[Any]) -> int:
            tid = interner.tenant(conn, tenant, create=False)
            if tid is None:
                return 0
            nid = None
            if attr is not None:
                found = conn.execute("SELECT nid FROM names WHERE iri = ?", (attr,)).fetchone()
                if found is None:
                    return 0
                nid = found[0]
            return delete_history(conn, tid, entity_id, nid)

        return self._writer.submit(job)

    def compact(self, older_than_ms: int, max_records: int = 5000) -> int:
        period = self._chunk_ms

        def job(conn: sqlite3.Connection, _: Counter[Any]) -> int:
            return compact_tail(conn, older_than_ms, max_records, period)

        return self._writer.submit(job, weight=max_records)

    # ---------------------------------------------------------------- retention

    def retention_policies(self) -> list[Policy]:
        with self._reading() as conn:
            return [row_policy(r) for r in conn.execute(
                "SELECT entity_type, attribute, scope, raw_days, hourly_days, daily_days"
                " FROM retention_policies ORDER BY entity_type, attribute, scope")]

    def put_retention_policy(self, policy: Policy) -> None:
        row = policy_row(policy.validate())

        def job(conn: sqlite3.Connection, _: Counter[Any]) -> None:
            conn.execute("INSERT OR REPLACE INTO retention_policies VALUES (?, ?, ?, ?, ?, ?)",
                         row)

        self._writer.submit(job)

    def delete_retention_policy(
        self, entity_type: str | None, attribute: str | None, scope: str | None
    ) -> bool:
        key = (entity_type or "", attribute or "", scope or "")

        def job(conn: sqlite3.Connection, _: Counter[Any]) -> bool:
            return conn.execute(
                "DELETE FROM retention_policies WHERE entity_type = ? AND attribute = ?"
                " AND scope = ?", key).rowcount > 0

        return self._writer.submit(job)

    def apply_retention(
        self, now_ms: int, policies: Sequence[Policy], step: int = 500
    ) -> tuple[int, int]:
        dialect = Dialect("?", lambda text: text, str)
        cursor: tuple[Any, ...] | None = None
        rolled = dropped = 0
        names: dict[int, str] = {}

        def job(conn: sqlite3.Connection, _: Counter[Any]) -> tuple[int, int, Any]:
            def name(nid: int) -> str:
                if nid not in names:
                    names[nid] = conn.execute(
                        "SELECT iri FROM names WHERE nid = ?", (nid,)).fetchone()[0]
                return names[nid]

            return retention_step(conn, dialect, name, lambda tid: None, now_ms, policies,
                                  cursor, step)

        while True:
            r, d, cursor = self._writer.submit(job, weight=step)
            rolled, dropped = rolled + r, dropped + d
            if cursor is None:
                return rolled, dropped

    def history_size(self) -> HistorySize:
        with self._reading() as conn:
            return HistorySize(*history_size(conn))

    def storage_stats(self) -> StorageStats:
        """Platform-wide sobriety figures (``bocage.storage.stats``)."""
        on_disk = sum(os.path.getsize(self.path + suffix) for suffix in ("", "-wal")
                      if os.path.exists(self.path + suffix))
        with self._reading() as conn:
            return storage_stats(conn, on_disk)

    # ---------------------------------------------------------------- contexts

    def put_context(self, url: str, body: bytes, kind: str) -> None:
        stored = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")

        def job(conn: sqlite3.Connection, _: Counter[Any]) -> None:
            conn.execute(
                "INSERT INTO contexts (url, body, kind, created_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (url) DO UPDATE SET body = excluded.body, kind = excluded.kind,"
                " created_at = excluded.created_at",
                (url, bytes(body), kind, stored),
            )

        self._writer.submit(job)

    def get_context(self, url: str) -> tuple[bytes, str] | None:
        with self._reading() as conn:
            row = conn.execute("SELECT body, kind FROM contexts WHERE url = ?", (url,)).fetchone()
        return None if row is None else (bytes(row[0]), row[1])

    def list_contexts(self) -> list[tuple[str, str]]:
        with self._reading() as conn:
            return [(u, k) for u, k in conn.execute("SELECT url, kind FROM contexts ORDER BY url")]

    def delete_context(self, url: str) -> bool:
        def job(conn: sqlite3.Connection, _: Counter[Any]) -> bool:
            return conn.execute("DELETE FROM contexts WHERE url = ?", (url,)).rowcount > 0

        return self._writer.submit(job)

    # --------------------------------------------------------------- lifecycle

    def ping(self) -> None:
        if not self._writer.alive():
            raise ServiceUnavailable("the database writer is not running")
        with self._reading() as conn:
            conn.execute("SELECT 1").fetchone()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        # readers, then the writer; the checkpointer's connection, closed last,
        # checkpoints the WAL and removes it
        with self._readers_lock:
            readers, self._readers = self._readers, []
        for conn in readers:
            conn.close()
        self._writer.close()
        self._checkpointer.close()  # the last connection: checkpoints and removes the WAL

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # ----------------------------------------------------------------- readers

    def _tenant_id(self, conn: sqlite3.Connection, tenant: str) -> int | None:
        """The tenant's id; None for the default tenant before its first write.
        Raises NonexistentTenant for any other unknown tenant."""
        tid = self._tids.get(tenant)
        if tid is None:
            row = conn.execute("SELECT tid FROM tenants WHERE name = ?", (tenant,)).fetchone()
            if row is None:
                if tenant == "":
                    return None
                raise NonexistentTenant(f"tenant {tenant!r} does not exist")
            tid = self._tids[tenant] = row[0]
        return tid

    def _name_ids(self, conn: sqlite3.Connection, wanted: set[str]) -> dict[str, int]:
        """Interned ids of the IRIs that have been stored (the others are absent)."""
        found = {iri: self._nids[iri] for iri in wanted if iri in self._nids}
        missing = [iri for iri in wanted if iri not in found]
        if missing:
            marks = ", ".join("?" * len(missing))
            for nid, iri in conn.execute(
                f"SELECT nid, iri FROM names WHERE iri IN ({marks})", missing
            ):
                found[iri] = self._nids[iri] = nid
        return found

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        if self._closed:
            raise ServiceUnavailable("the store is closed")
        try:
            yield self._reader()
        except sqlite3.Error as exc:
            if is_unavailable(exc):
                raise ServiceUnavailable(f"database unavailable: {exc}") from exc
            raise

    @contextmanager
    def _snapshot(self) -> Iterator[sqlite3.Connection]:
        """One read transaction, so that probes, page and count see the same data."""
        with self._reading() as conn:
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                conn.execute("ROLLBACK")  # nothing to commit: it only ends the snapshot

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            # check_same_thread=False only so close() may close it from another thread
            conn = sqlite3.connect(
                self._uri, uri=True, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA query_only = 1")
            conn.execute("PRAGMA busy_timeout = 5000")
            # the OS page cache, shared by all readers, rather than big private caches
            conn.execute("PRAGMA mmap_size = 0")
            conn.execute("PRAGMA cache_size = -2048")
            with self._readers_lock:
                self._readers.append(conn)
            self._local.conn = conn
        return conn


def _filtered_page(
    conn: sqlite3.Connection,
    query: EntityQuery,
    sql: str,
    params: list[object],
    checks: list[Check],
) -> QueryPage:
    """Stream candidates, keep the exact matches, stop when the page is full
    (or run to the end when counting)."""
    first = max(0, query.offset)
    end = first + max(0, query.limit)
    page: list[dict[str, object]] = []
    matched = 0
    cursor = conn.execute(sql, params)
    try:
        for _pk, data in cursor:
            entity = orjson.loads(data)
            if not all(check(entity) for check in checks):
                continue
            if first <= matched < end:
                page.append(entity)
            matched += 1
            if matched >= end and not query.count:
                break
    finally:
        cursor.close()  # ends the read transaction even when we stop early
    return QueryPage(page, matched if query.count else None)


def _entity(data: bytes) -> Entity:
    entity: Entity = orjson.loads(data)
    return entity
