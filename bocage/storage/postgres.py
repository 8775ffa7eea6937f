"""The production storage backend: PostgreSQL 15+ with PostGIS, via psycopg 3.

Shaped like the SQLite store (same index tables, same prefilter, same exact
evaluators), so both answer identically: one writer thread with group commit
(``postgres_writer``), reads from a connection pool (``psycopg_pool``), every
read connection read-only.

Tenancy: a tenant column with row-level security, not a schema per tenant.
A tenant springs into existence with its first write; with a schema each, that
first write would run DDL (a dozen tables and indexes, catalog locks) inside
the request, every migration would have to run once per tenant, and hundreds
of communes would mean thousands of relations to plan and vacuum. A ``tid``
column costs four bytes a row and keeps one set of tables, one migration path
and cross-tenant administration in plain SQL. Isolation does not rest on every
query remembering its ``WHERE tid``: each tenant-bearing table has a policy
``tid = bocage_tenant()`` (FORCE'd, so it binds the owner too), and a
connection acts for one tenant at a time (``SET bocage.tenant``); a connection
that did not say sees nothing. Superusers and BYPASSRLS roles skip policies:
run bocage as an ordinary role owning its database (a warning says so).

Errors: an unreachable or misconfigured database fails :class:`PostgresStore`
at once with :class:`DatabaseUnavailable` (an ``OSError``) or ``SchemaError``
(a ``ValueError``), naming the URL with its password masked. A connection lost
later is retried (reads on another pooled connection, writes by the writer),
then reported as ``ServiceUnavailable`` (HTTP 503 + Retry-After).
"""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager, nullcontext
from typing import Any, Final, TypeVar

import orjson
import psycopg
import psycopg_pool
from psycopg import IsolationLevel

from bocage.domain.entity import Entity, Instance
from bocage.domain.errors import BocageError, NonexistentTenant, ServiceUnavailable
from bocage.domain.query import EntityQuery, QueryPage
from bocage.domain.temporal import HistoryRange, parse_instance_id
from bocage.history.retention import Policy
from bocage.history.rollup import DayTotals
from bocage.storage import postgres_history as ph
from bocage.storage import rollup_sql
from bocage.storage.base import AttributeInfo, Mutation, MutationResult, TypeInfo
from bocage.storage.discovery import attribute_infos, type_infos
from bocage.storage.exact import Check, exact_checks
from bocage.storage.factory import mask_password
from bocage.storage.history_base import HistorySize
from bocage.storage.history_rows import StoredRows, tail_row
from bocage.storage.history_views import HistoryViews
from bocage.storage.postgres_apply import Interner, apply_mutations, flush_stats, use_tenant
from bocage.storage.postgres_query import (
    Driven,
    Plan,
    Streamed,
    after,
    dec,
    enc,
    filter_sql,
    holds,
    paged,
    plan,
    probes_sql,
    rows_by_pk_sql,
)
from bocage.storage.postgres_schema import SchemaError, migrate
from bocage.storage.postgres_writer import Writer, is_connection_error
from bocage.storage.retention_job import Dialect, policy_row, row_policy
from bocage.storage.retention_job import step as retention_step
from bocage.storage.sqlite_query import DEFAULT_CAP, Scope, iris, translate
from bocage.storage.stats import StorageStats

log = logging.getLogger(__name__)

T = TypeVar("T")
Conn = psycopg.Connection[Any]

#: Largest keyset chunk read while filtering candidates in Python.
_MAX_CHUNK: Final = 5000
#: Attempts of a read whose connection broke (each on another connection).
_READ_ATTEMPTS: Final = 3
#: compaction VACUUMs the tail when it has caught up after deleting this many rows
_VACUUM_TAIL_AFTER: Final = 10_000


class DatabaseUnavailable(OSError):
    """The database cannot be reached or refused us (at start-up)."""


def connection_url(url: str) -> str:
    """libpq accepts ``postgresql://`` and ``postgres://``; drop a SQLAlchemy-style
    driver suffix (``postgresql+psycopg://``)."""
    return re.sub(r"^postgres(ql)?\+[A-Za-z0-9_]+://", "postgresql://", url)


class PostgresStore(HistoryViews):
    """A :class:`bocage.storage.base.Store` in a PostgreSQL database.

    ``queue_size`` bounds the writes waiting for the writer; ``pool_size`` the
    read connections; ``retry_seconds`` how long a lost connection is retried
    before writes fail with 503; ``probe_cap`` as in ``sqlite_query``.
    """

    def __init__(
        self,
        url: str,
        group_commit_ms: float = 2.0,
        *,
        queue_size: int = 1024,
        pool_size: int = 8,
        connect_timeout: float = 5.0,
        retry_seconds: float = 10.0,
        probe_cap: int = DEFAULT_CAP,
        history: bool = True,
        chunk_ms: int = 7 * 86_400_000,
    ) -> None:
        self.url = mask_password(url)
        self._history = history
        self._chunk_ms = chunk_ms
        self._unvacuumed = 0  # tail rows compaction deleted since the tail was vacuumed
        self._conninfo = connection_url(url)
        self._kwargs: dict[str, Any] = {
            "connect_timeout": max(1, round(connect_timeout)),
            "application_name": "bocage",
        }
        self._cap = probe_cap
        self._closed = False
        self._tids: dict[str, int] = {}  # committed ids never change: cacheable
        self._nids: dict[str, int] = {}
        with self._connect_or_explain() as conn:
            migrate(conn)
            if _bypasses_rls(conn):
                log.warning(
                    "bocage connects to %s as a role that bypasses row-level security; "
                    "run it as an ordinary role owning the database",
                    self.url,
                )
        self._interner = interner = Interner()
        self._writer = Writer(
            self._writer_connection,
            flush_stats,
            group_commit_ms,
            queue_size,
            on_rollback=interner.forget,
            retry_seconds=retry_seconds,
        )
        self._pool = psycopg_pool.ConnectionPool(
            self._conninfo,
            min_size=1,
            max_size=max(1, pool_size),
            kwargs={**self._kwargs, "autocommit": True},
            configure=_configure_reader,
            open=False,
            name="bocage-readers",
            # how long a read waits for a connection before 503: short, since
            # the API answers point reads inline on its event loop
            timeout=2.0,
        )
        try:
            self._pool.open(wait=True, timeout=max(connect_timeout, 5.0))
        except BaseException as exc:
            self._pool.close()
            self._writer.close()
            if isinstance(exc, psycopg_pool.PoolTimeout):
                raise DatabaseUnavailable(f"cannot connect to {self.url}: {exc}") from None
            raise

    @property
    def conninfo(self) -> str:
        """The libpq URL (password included): for the subscription repository,
        which keeps its own table in the same database."""
        return self._conninfo

    # ---------------------------------------------------------- connections

    @contextmanager
    def _connect_or_explain(self) -> Iterator[Conn]:
        """A start-up connection, or an error a person can act on."""
        try:
            conn = psycopg.connect(self._conninfo, autocommit=True, **self._kwargs)
        except psycopg.Error as exc:
            reason = str(exc).strip().replace(self._conninfo, self.url)
            raise DatabaseUnavailable(f"cannot connect to {self.url}: {reason}") from None
        try:
            with conn:
                yield conn
        except SchemaError as exc:
            raise SchemaError(f"{self.url}: {exc}") from None
        except psycopg.Error as exc:
            raise DatabaseUnavailable(f"{self.url}: {str(exc).strip()}") from None

    def _writer_connection(self) -> Conn:
        return psycopg.connect(self._conninfo, autocommit=False, **self._kwargs)

    def _read(self, fn: Callable[[Conn], T]) -> T:
        """Run ``fn`` on a pooled connection; a broken connection is dropped and
        ``fn`` run again on another, then ServiceUnavailable."""
        if self._closed:
            raise ServiceUnavailable("the store is closed")
        for attempt in range(_READ_ATTEMPTS):
            try:
                with self._pool.connection() as conn:
                    try:
                        return fn(conn)
                    except BocageError:
                        raise
                    except psycopg.Error as exc:
                        if not is_connection_error(exc, conn):
                            raise
                        lost: psycopg.Error = exc
            except psycopg_pool.PoolTimeout as exc:
                raise ServiceUnavailable(f"database unavailable: {exc}", retry_after=2) from exc
            except psycopg_pool.PoolClosed as exc:
                raise ServiceUnavailable("the store is closed") from exc
            log.warning("read connection lost (%s); retrying", lost)
            self._pool.check()  # drop the other idle connections that died with it
            time.sleep(0.05 * attempt)
        raise ServiceUnavailable(f"database unavailable: {lost}", retry_after=2) from lost

    def _use_tenant(self, conn: Conn, tid: int) -> None:
        """Make the (autocommit) pooled connection act for ``tid``; remembered on
        the connection, so a run of reads for one tenant pays it once."""
        if getattr(conn, "_bocage_tid", None) != tid:
            conn.execute("SELECT set_config('bocage.tenant', %s, false)", (str(tid),))
            conn._bocage_tid = tid  # type: ignore[attr-defined]

    def _tenant_id(self, conn: Conn, tenant: str) -> int | None:
        """The tenant's id; None for the default tenant before its first write.
        Raises NonexistentTenant for any other unknown tenant."""
        tid = self._tids.get(tenant)
        if tid is None:
            row = conn.execute("SELECT tid FROM tenants WHERE name = %s", (tenant,)).fetchone()
            if row is None:
                if tenant == "":
                    return None
                raise NonexistentTenant(f"tenant {tenant!r} does not exist")
            tid = self._tids[tenant] = int(row[0])
        return tid

    def _name_ids(self, conn: Conn, wanted: set[str]) -> dict[str, int]:
        """Interned ids of the IRIs that have been stored (the others are absent)."""
        found = {iri: self._nids[iri] for iri in wanted if iri in self._nids}
        missing = [enc(iri) for iri in wanted if iri not in found]
        if missing:
            for nid, iri in conn.execute(
                "SELECT nid, iri FROM names WHERE iri = ANY(%s::bytea[])", (missing,)
            ):
                found[dec(iri)] = self._nids[dec(iri)] = nid
        return found

    # ------------------------------------------------------------------ writes

    def apply(self, tenant: str, mutations: Sequence[Mutation]) -> list[MutationResult]:
        return self.submit(tenant, mutations).result()

    def submit(self, tenant: str, mutations: Sequence[Mutation]) -> Future[list[MutationResult]]:
        batch = list(mutations)
        if not batch:
            done: Future[list[MutationResult]] = Future()
            done.set_result([])
            return done
        interner, history = self._interner, self._history

        def job(conn: Conn, stats: Counter[Any]) -> list[MutationResult]:
            return apply_mutations(conn, interner, tenant, batch, stats, history)

        return self._writer.enqueue(job, weight=len(batch))

    # ------------------------------------------------------------------- reads

    def get(self, tenant: str, entity_id: str) -> Entity | None:
        def read(conn: Conn) -> Entity | None:
            tid = self._tenant_id(conn, tenant)
            if tid is None:
                return None
            self._use_tenant(conn, tid)
            row = conn.execute(
                "SELECT data::text FROM entities WHERE tid = %s AND id = %s",
                (tid, enc(entity_id)),
            ).fetchone()
            return None if row is None else _loads(row[0])

        return self._read(read)

    def query(self, tenant: str, query: EntityQuery) -> QueryPage:
        checks = exact_checks(query)  # validates idPattern before touching the database
        prefilter = translate(query)
        empty = QueryPage([], 0 if query.count else None)

        def read(conn: Conn) -> QueryPage:
            tid = self._tenant_id(conn, tenant)
            if tid is None:
                return empty
            self._use_tenant(conn, tid)
            # one snapshot: probes, page and count agree
            with conn.transaction():
                scope = Scope(tid, self._name_ids(conn, iris(prefilter)))
                atoms, probe, params = probes_sql(scope, prefilter, self._cap)
                sizes = {}
                if atoms:
                    row = conn.execute(probe, params).fetchone()
                    sizes = dict(zip(atoms, row or (), strict=True))
                chosen = plan(scope, prefilter, sizes, self._cap)
                if chosen is None:
                    return empty
                if query.limit <= 0 and not query.count:
                    return empty
                return _page(conn, chosen, query, checks if not prefilter.exact else None)

        return self._read(read)

    def types(self, tenant: str) -> list[TypeInfo]:
        return type_infos(self._stats(tenant, ("T", "TA")))

    def attributes(self, tenant: str) -> list[AttributeInfo]:
        return attribute_infos(self._stats(tenant, ("A", "TA")))

    def _stats(self, tenant: str, kinds: tuple[str, ...]) -> list[tuple[str, str, str, str, int]]:
        def read(conn: Conn) -> list[tuple[str, str, str, str, int]]:
            tid = self._tenant_id(conn, tenant)
            if tid is None:
                return []
            self._use_tenant(conn, tid)
            return [
                (kind, dec(type_), dec(name), attr_type, int(n))
                for kind, type_, name, attr_type, n in conn.execute(
                    "SELECT kind, type, name, attr_type, n FROM stats"
                    " WHERE tid = %s AND kind = ANY(%s::text[])",
                    (tid, list(kinds)),
                )
            ]

        return self._read(read)

    def tenants(self) -> list[str]:
        def read(conn: Conn) -> list[str]:
            rows = conn.execute('SELECT name FROM tenants ORDER BY name COLLATE "C"')
            return [name for (name,) in rows]

        return self._read(read)

    # ----------------------------------------------------------------- history

    def rollups(
        self, tenant: str, entity_type: str, attr: str, scopes: Sequence[str] | None,
        start_ms: int, end_ms: int,
    ) -> list[tuple[str, int, DayTotals]]:
        def read(conn: Conn) -> list[tuple[str, int, DayTotals]]:
            tid = self._tenant_id(conn, tenant)
            if tid is None:
                return []
            self._use_tenant(conn, tid)
            nid = self._name_ids(conn, {attr}).get(attr)
            if nid is None:
                return []
            return rollup_sql.read(conn, ph.DIALECT, tid, nid, entity_type, scopes,
                                   start_ms, end_ms)

        return self._read(read)

    def rollup_series(self, tenant: str,
                      scopes: Sequence[str] | None) -> list[tuple[str, str]]:
        def read(conn: Conn) -> list[tuple[str, str]]:
            tid = self._tenant_id(conn, tenant)
            if tid is None:
                return []
            self._use_tenant(conn, tid)
            pairs = rollup_sql.series(conn, ph.DIALECT, tid, scopes)
            names = ph.names_of(conn, {})
            return [(etype, names(nid)) for etype, nid in pairs]

        return self._read(read)

    def _history_rows(
        self, tenant: str, entity_id: str, window: HistoryRange
    ) -> StoredRows | None:
        def read(conn: Conn) -> StoredRows | None:
            tid = self._tenant_id(conn, tenant)
            if tid is None:
                return None
            self._use_tenant(conn, tid)
            nids: dict[int, str] = {}
            if window.attrs is not None:
                found = self._name_ids(conn, set(window.attrs))
                nids = {nid: iri for iri, nid in found.items()}
            # one snapshot, so that chunks and tail agree: a raw read is one statement
            with nullcontext() if window.periods is None else conn.transaction():
                rows = ph.read_rows(conn, tid, entity_id, window, nids)
            for nid in {r[0] for part in (rows.chunks, rows.tail, rows.summaries)
                        for r in part}:
                rows.name(nid)  # resolved while the connection is ours
            return rows

        return self._read(read)

    def gone_entity(self, tenant: str, entity_id: str) -> Entity | None:
        def read(conn: Conn) -> Entity | None:
            tid = self._tenant_id(conn, tenant)
            if tid is None:
                return None
            self._use_tenant(conn, tid)
            head = ph.gone_entity(conn, tid, entity_id)
            return None if head is None else _loads(head.decode())

        return self._read(read)

    def add_history(
        self, tenant: str, entity_id: str, instances: Sequence[tuple[str, Instance]]
    ) -> None:
        rows = [tail_row(entity_id, attr, inst) for attr, inst in instances]
        if not rows:
            return
        interner = self._interner

        def job(conn: Conn, _: Counter[Any]) -> None:
            tid = interner.tenant(conn, tenant, create=True)
            assert tid is not None
            use_tenant(conn, tid)
            ph.write_tail(conn, tid, interner.names(conn, {r[1] for r in rows}), rows)

        self._writer.submit(job, weight=len(rows))

    def _attr_job(self, tenant: str, attr: str | None) -> Callable[[Conn], tuple[int, int] | None]:
        """In a writer job: (tid, nid) of an existing tenant and attribute, else None."""
        interner = self._interner

        def find(conn: Conn) -> tuple[int, int] | None:
            tid = interner.tenant(conn, tenant, create=False)
            if tid is None:
                return None
            use_tenant(conn, tid)
            if attr is None:
                return tid, 0
            row = conn.execute("SELECT nid FROM names WHERE iri = %s", (enc(attr),)).fetchone()
            return None if row is None else (tid, int(row[0]))

        return find

    def replace_instance(
        self, tenant: str, entity_id: str, attr: str, instance_id: str, new: Instance | None
    ) -> bool:
        where = parse_instance_id(instance_id)
        if where is None:
            return False
        row = tail_row(entity_id, attr, new) if new is not None else None
        find = self._attr_job(tenant, attr)

        def job(conn: Conn, _: Counter[Any]) -> bool:
            found = find(conn)
            if found is None:
                return False
            return ph.replace_record(conn, found[0], entity_id, found[1], attr, *where, row)

        return self._writer.submit(job)

    def delete_history(self, tenant: str, entity_id: str, attr: str | None = None) -> int:
        find = self._attr_job(tenant, attr)

        def job(conn: Conn, _: Counter[Any]) -> int:
            found = find(conn)
            if found is None:
                return 0
            nid = None if attr is None else found[1]
            return ph.delete_history(conn, found[0], entity_id, nid)

        return self._writer.submit(job)

    def compact(self, older_than_ms: int, max_records: int = 5000) -> int:
        period = self._chunk_ms

        def job(conn: Conn, _: Counter[Any]) -> int:
            moved = 0
            for (tid,) in conn.execute("SELECT tid FROM tenants ORDER BY tid").fetchall():
                use_tenant(conn, tid)
                moved += ph.compact_tail(conn, tid, older_than_ms, max_records - moved, period)
                if moved >= max_records:
                    break
            return moved

        moved: int = self._writer.submit(job, weight=max_records)
        self._unvacuumed += moved
        if moved == 0 and self._unvacuumed >= _VACUUM_TAIL_AFTER:
            self._vacuum_tail()
        return moved

    def _vacuum_tail(self) -> None:
        """VACUUM the tail once compaction has caught up after deleting many rows:
        until then every read's index scan of the tail walks the dead entries
        (35,000 of them cost a month's read 5 ms). Best effort: autovacuum does it later."""
        self._unvacuumed = 0
        try:
            with self._pool.connection() as conn:
                conn.execute("VACUUM (ANALYZE) hist_tail")
        except psycopg.Error as exc:
            log.info("VACUUM hist_tail skipped: %s", exc)

    # ---------------------------------------------------------------- retention

    def retention_policies(self) -> list[Policy]:
        def read(conn: Conn) -> list[Policy]:
            return [row_policy(r) for r in conn.execute(
                "SELECT entity_type, attribute, scope, raw_days, hourly_days, daily_days"
                " FROM retention_policies ORDER BY entity_type, attribute, scope")]

        return self._read(read)

    def put_retention_policy(self, policy: Policy) -> None:
        row = policy_row(policy.validate())

        def job(conn: Conn, _: Counter[Any]) -> None:
            conn.execute(
                "INSERT INTO retention_policies VALUES (%s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (entity_type, attribute, scope) DO UPDATE SET"
                " raw_days = excluded.raw_days, hourly_days = excluded.hourly_days,"
                " daily_days = excluded.daily_days", row)

        self._writer.submit(job)

    def delete_retention_policy(
        self, entity_type: str | None, attribute: str | None, scope: str | None
    ) -> bool:
        key = (entity_type or "", attribute or "", scope or "")

        def job(conn: Conn, _: Counter[Any]) -> bool:
            return conn.execute(
                "DELETE FROM retention_policies WHERE entity_type = %s AND attribute = %s"
                " AND scope = %s", key).rowcount > 0

        return self._writer.submit(job)

    def apply_retention(
        self, now_ms: int, policies: Sequence[Policy], step: int = 500
    ) -> tuple[int, int]:
        dialect = Dialect("%s", enc, dec)
        names: dict[int, str] = {}
        rolled = dropped = 0
        tenants = self._read(lambda conn: [int(t) for (t,) in conn.execute(
            "SELECT tid FROM tenants ORDER BY tid")])
        for tid in tenants:  # row-level security: one tenant at a time
            at: list[tuple[Any, ...] | None] = [None]  # the cursor, between steps

            def job(conn: Conn, _: Counter[Any], tid: int = tid,
                    at: list[tuple[Any, ...] | None] = at) -> tuple[int, int, Any]:
                use_tenant(conn, tid)

                def name(nid: int) -> str:
                    if nid not in names:
                        row = conn.execute(
                            "SELECT iri FROM names WHERE nid = %s", (nid,)).fetchone()
                        names[nid] = dec(row[0]) if row else ""
                    return names[nid]

                return retention_step(conn, dialect, name, lambda _: None, now_ms, policies,
                                      at[0], step)

            while True:
                r, d, at[0] = self._writer.submit(job, weight=step)
                rolled, dropped = rolled + r, dropped + d
                if at[0] is None:
                    break
        return rolled, dropped

    def history_size(self) -> HistorySize:
        def read(conn: Conn) -> HistorySize:
            totals = [0, 0, 0, 0]
            for (tid,) in conn.execute("SELECT tid FROM tenants").fetchall():
                self._use_tenant(conn, int(tid))
                for i, n in enumerate(ph.history_size(conn)):
                    totals[i] += n
            return HistorySize(*totals)

        return self._read(read)

    def storage_stats(self) -> StorageStats:
        """Platform-wide sobriety figures (``bocage.storage.stats``), every tenant."""
        def read(conn: Conn) -> StorageStats:
            sums = [0] * 6
            rows: dict[str, int] = {}
            summarized: dict[str, int] = {}
            for (tid,) in conn.execute("SELECT tid FROM tenants").fetchall():
                self._use_tenant(conn, int(tid))
                *counts, tiers = ph.tenant_counts(conn)
                for i, n in enumerate(counts):
                    sums[i] += n
                for tier, (n, count) in tiers.items():
                    rows[tier] = rows.get(tier, 0) + n
                    summarized[tier] = summarized.get(tier, 0) + count
            tail_disk, chunk_disk, summary_disk, database = ph.disk_bytes(conn)
            entities, tail, tail_payload, chunks, points, chunk_payload = sums
            return StorageStats(
                entities=entities, tail_records=tail, tail_bytes=tail_disk,
                tail_payload_bytes=tail_payload, chunk_records=points, chunks=chunks,
                chunk_bytes=chunk_disk, chunk_payload_bytes=chunk_payload,
                summary_rows=rows, summarized_records=summarized, summary_bytes=summary_disk,
                database_bytes=database)

        return self._read(read)

    # ---------------------------------------------------------------- contexts

    def put_context(self, url: str, body: bytes, kind: str) -> None:
        def job(conn: Conn, _: Counter[Any]) -> None:
            conn.execute(
                "INSERT INTO contexts (url, body, kind) VALUES (%s, %s, %s)"
                " ON CONFLICT (url) DO UPDATE SET body = excluded.body, kind = excluded.kind,"
                " created_at = now()",
                (enc(url), bytes(body), kind),
            )

        self._writer.submit(job)

    def get_context(self, url: str) -> tuple[bytes, str] | None:
        def read(conn: Conn) -> tuple[bytes, str] | None:
            row = conn.execute(
                "SELECT body, kind FROM contexts WHERE url = %s", (enc(url),)
            ).fetchone()
            return None if row is None else (bytes(row[0]), row[1])

        return self._read(read)

    def list_contexts(self) -> list[tuple[str, str]]:
        def read(conn: Conn) -> list[tuple[str, str]]:
            rows = conn.execute("SELECT url, kind FROM contexts ORDER BY url")
            return [(dec(u), k) for u, k in rows]

        return self._read(read)

    def delete_context(self, url: str) -> bool:
        def job(conn: Conn, _: Counter[Any]) -> bool:
            cursor = conn.execute("DELETE FROM contexts WHERE url = %s", (enc(url),))
            return cursor.rowcount > 0

        return self._writer.submit(job)

    # --------------------------------------------------------------- lifecycle

    def ping(self) -> None:
        if not self._writer.alive():
            raise ServiceUnavailable("the database writer is not running")
        self._read(lambda conn: conn.execute("SELECT 1").fetchone())

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._writer.close()
        self._pool.close()

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def upgrade(url: str, connect_timeout: float = 5.0) -> int:
    """Apply the missing migrations (``bocage db upgrade``); the schema version."""
    masked = mask_password(url)
    try:
        conn = psycopg.connect(
            connection_url(url), autocommit=True, connect_timeout=max(1, round(connect_timeout))
        )
    except psycopg.Error as exc:
        raise DatabaseUnavailable(f"cannot connect to {masked}: {str(exc).strip()}") from None
    with conn:
        try:
            return migrate(conn)
        except SchemaError as exc:
            raise SchemaError(f"{masked}: {exc}") from None


def _configure_reader(conn: Conn) -> None:
    # Readers never write (as SQLite's mode=ro); a query's transaction is one
    # snapshot (REPEATABLE READ), so its probes, page and count agree.
    conn.execute("SET default_transaction_read_only = on")
    conn.isolation_level = IsolationLevel.REPEATABLE_READ
    conn.read_only = True


def _bypasses_rls(conn: Conn) -> bool:
    row = conn.execute(
        "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user"
    ).fetchone()
    return bool(row and row[0])


def _loads(text: str) -> Entity:
    entity: Entity = orjson.loads(text)
    return entity


def _page(conn: Conn, chosen: Plan, query: EntityQuery, checks: list[Check] | None) -> QueryPage:
    """The page (and count) of a plan; ``checks`` None means the SQL is exact."""
    first = max(0, query.offset)
    limit = max(0, query.limit)
    if isinstance(chosen, Driven):
        pks = sorted({int(pk) for (pk,) in conn.execute(chosen.pks_sql, chosen.params)})
        if checks is None:
            pks = _checked(conn, chosen, pks)
            wanted = pks[first : first + limit]
            return QueryPage(_rows(conn, wanted), len(pks) if query.count else None)
        # index checks chunk by chunk too: a page may need only the first few
        return _filtered(query, _driven_chunks(conn, chosen, pks, first + limit), checks)
    assert isinstance(chosen, Streamed)
    if checks is None and not chosen.checks:
        page = []
        if limit > 0:
            page = [_loads(data) for _, data in conn.execute(*paged(chosen, limit, first))]
        count = None
        if query.count:
            row = conn.execute(chosen.count_sql, chosen.params).fetchone()
            count = int(row[0]) if row else 0
        return QueryPage(page, count)
    return _filtered(
        query, _streamed_chunks(conn, chosen, first + limit, query.count), checks or []
    )


def _checked(conn: Conn, chosen: Driven | Streamed, pks: list[int]) -> list[int]:
    """``pks`` (in order) that pass the plan's index checks."""
    if not chosen.checks or not pks:
        return pks
    found_atoms, sql, params = filter_sql(chosen.scope, chosen.checks, pks)
    row = conn.execute(sql, params).fetchone() or ()
    found = {atom: set(holding) for atom, holding in zip(found_atoms, row, strict=True)}
    return [pk for pk in pks if all(holds(c, found, pk) for c in chosen.checks)]


def _rows(conn: Conn, pks: list[int]) -> list[dict[str, object]]:
    if not pks:
        return []
    by_pk = {int(pk): data for pk, data in conn.execute(*rows_by_pk_sql(pks))}
    return [_loads(by_pk[pk]) for pk in pks if pk in by_pk]


def _chunk_sizes(wanted: int, counting: bool) -> Iterator[int]:
    """Chunk sizes for a filtered walk: a page's worth first, then growing."""
    size = _MAX_CHUNK if counting else min(_MAX_CHUNK, max(50, 2 * wanted))
    while True:
        yield size
        size = min(_MAX_CHUNK, size * 4)


def _driven_chunks(
    conn: Conn, chosen: Driven, pks: list[int], wanted: int
) -> Iterator[list[dict[str, object]]]:
    start = 0
    for size in _chunk_sizes(wanted, False):
        if start >= len(pks):
            return
        yield _rows(conn, _checked(conn, chosen, pks[start : start + size]))
        start += size


def _streamed_chunks(
    conn: Conn, chosen: Streamed, wanted: int, counting: bool
) -> Iterator[list[dict[str, object]]]:
    """Walk the plan's index in keyset chunks: pks, then checks, then rows
    (three statements the planner cannot get wrong)."""
    last = 0
    for size in _chunk_sizes(wanted, counting):
        pks = [int(pk) for (pk,) in conn.execute(*after(chosen, last, size))]
        if pks:
            last = pks[-1]
            yield _rows(conn, _checked(conn, chosen, pks))
        if len(pks) < size:
            return


def _filtered(
    query: EntityQuery, chunks: Iterator[list[dict[str, object]]], checks: list[Check]
) -> QueryPage:
    """Keep the exact matches, stop when the page is full (or run to the end
    when counting)."""
    first = max(0, query.offset)
    end = first + max(0, query.limit)
    page: list[dict[str, object]] = []
    matched = 0
    for chunk in chunks:
        for entity in chunk:
            if not all(check(entity) for check in checks):
                continue
            if first <= matched < end:
                page.append(entity)
            matched += 1
            if matched >= end and not query.count:
                return QueryPage(page, None)
    return QueryPage(page, matched if query.count else None)
