"""The SQLite schema, as numbered migrations.

``PRAGMA user_version`` holds how many migrations a database has run; opening
a database runs the missing ones, each in its own transaction. Never edit a
migration that has shipped: append a new one. The index tables are *derived*
from ``entities.data`` by ``sqlite_index.index_rows``; a migration that changes
that derivation must rebuild them (the writer maintains them by diffing the
rows of the old and the new entity, so stale rows would linger).

Why these tables (each index row carries its tenant id: no query crosses tenants):

``tenants`` / ``names``
    Every tenant and every IRI (entity type, attribute name) is interned to a
    small integer, used by all the index tables: with 60-byte IRIs repeated in
    every row, the value indexes were 5x larger and 3x slower to fill
    (measured: 108 MB vs 19 MB, 22.8 s vs 7.4 s for 1.2 M rows). Rows are never
    deleted, so a committed id is stable and may be cached.
``entities``
    The internal entity as orjson, keyed by ``pk`` (creation order, the stable
    sort of every query). ``entities_tenant`` walks one tenant in pk order.
``entity_types`` / ``attr_names``
    Exact (tenant, IRI) -> pk sets, clustered (WITHOUT ROWID) so a type or an
    attribute name streams its pks in order and an EXISTS probe is one seek.
``attr_num`` / ``attr_txt``
    The q prefilter: one row per scalar found in a top-level attribute value
    (numbers and booleans as REAL, strings as TEXT), clustered on
    (tenant, name, value, pk) so a range is one index walk. They are sets:
    duplicates collapse, and no secondary index is needed because the writer
    deletes exact rows it recomputes from the previous entity.
``geo_rtree`` / ``geo_index``
    The bounding box of every GeoProperty value, and which entity attribute it
    belongs to. R*Tree stores 32-bit floats rounded outwards, so a box never
    shrinks and the prefilter never under-selects.
``hist_tail`` / ``hist_chunks``
    Attribute history (``sqlite_history``): one uncompressed row per recorded
    instance (``seq`` is write order), then, once compacted, one compressed
    chunk per entity × attribute × datasetId × period (``start``), with the
    time span and point count of its blob. ``hist_heads`` keeps the id, type
    and scope of an entity deleted with history left, for temporal reads.
``hist_summaries`` / ``retention_policies``
    Downsampling tiers (``history_tiers``): one mergeable summary per series ×
    hourly or daily bucket; the policies an operator set (``""`` = any).
``stats``
    Discovery counters maintained by the writer (``T``: entities per type,
    ``TA``: entities per type × attribute × attribute type, ``A``: entities per
    attribute), so ``types()`` and ``attributes()`` do not scan the tenant.
"""

from __future__ import annotations

import sqlite3
from typing import Final

MIGRATIONS: Final[tuple[str, ...]] = (
    # 1: initial schema
    """
    CREATE TABLE tenants (
        tid INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE
    );

    CREATE TABLE names (
        nid INTEGER PRIMARY KEY,
        iri TEXT NOT NULL UNIQUE
    );

    CREATE TABLE entities (
        pk INTEGER PRIMARY KEY,
        tid INTEGER NOT NULL,
        id TEXT NOT NULL,
        data BLOB NOT NULL,
        created_at TEXT,
        modified_at TEXT,
        UNIQUE (tid, id)
    );
    CREATE INDEX entities_tenant ON entities (tid, pk);

    CREATE TABLE entity_types (
        tid INTEGER NOT NULL,
        nid INTEGER NOT NULL,
        pk INTEGER NOT NULL,
        PRIMARY KEY (tid, nid, pk)
    ) WITHOUT ROWID;

    CREATE TABLE attr_names (
        tid INTEGER NOT NULL,
        nid INTEGER NOT NULL,
        pk INTEGER NOT NULL,
        PRIMARY KEY (tid, nid, pk)
    ) WITHOUT ROWID;

    CREATE TABLE attr_num (
        tid INTEGER NOT NULL,
        nid INTEGER NOT NULL,
        num REAL NOT NULL,
        pk INTEGER NOT NULL,
        PRIMARY KEY (tid, nid, num, pk)
    ) WITHOUT ROWID;

    CREATE TABLE attr_txt (
        tid INTEGER NOT NULL,
        nid INTEGER NOT NULL,
        txt TEXT NOT NULL,
        pk INTEGER NOT NULL,
        PRIMARY KEY (tid, nid, txt, pk)
    ) WITHOUT ROWID;

    CREATE VIRTUAL TABLE geo_rtree USING rtree (id, minx, maxx, miny, maxy);
    CREATE TABLE geo_index (
        id INTEGER PRIMARY KEY,
        tid INTEGER NOT NULL,
        nid INTEGER NOT NULL,
        pk INTEGER NOT NULL
    );
    CREATE INDEX geo_index_pk ON geo_index (pk);

    CREATE TABLE stats (
        tid INTEGER NOT NULL,
        kind TEXT NOT NULL,
        type TEXT NOT NULL,
        name TEXT NOT NULL,
        attr_type TEXT NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (tid, kind, type, name, attr_type)
    ) WITHOUT ROWID;

    CREATE TABLE contexts (
        url TEXT PRIMARY KEY,
        body BLOB NOT NULL,
        kind TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    """,
    # 2: attribute history (see sqlite_history)
    """
    CREATE TABLE hist_tail (
        seq INTEGER PRIMARY KEY,
        tid INTEGER NOT NULL,
        eid TEXT NOT NULL,
        nid INTEGER NOT NULL,
        ds TEXT NOT NULL,
        t INTEGER NOT NULL,
        observed INTEGER,
        created INTEGER NOT NULL,
        modified INTEGER NOT NULL,
        body BLOB NOT NULL
    );
    CREATE INDEX hist_tail_series ON hist_tail (tid, eid, nid, ds, t);

    CREATE TABLE hist_chunks (
        tid INTEGER NOT NULL,
        eid TEXT NOT NULL,
        nid INTEGER NOT NULL,
        ds TEXT NOT NULL,
        start INTEGER NOT NULL,
        t_min INTEGER NOT NULL,
        t_max INTEGER NOT NULL,
        n INTEGER NOT NULL,
        data BLOB NOT NULL,
        PRIMARY KEY (tid, eid, nid, ds, start)
    ) WITHOUT ROWID;

    CREATE TABLE hist_heads (
        tid INTEGER NOT NULL,
        eid TEXT NOT NULL,
        head BLOB NOT NULL,
        PRIMARY KEY (tid, eid)
    ) WITHOUT ROWID;
    """,
    # 3: downsampling tiers and retention policies (see history_tiers)
    """
    CREATE TABLE hist_summaries (
        tid INTEGER NOT NULL,
        eid TEXT NOT NULL,
        nid INTEGER NOT NULL,
        ds TEXT NOT NULL,
        tier TEXT NOT NULL,
        start INTEGER NOT NULL,
        stop INTEGER NOT NULL,
        data BLOB NOT NULL,
        PRIMARY KEY (tid, eid, nid, ds, tier, start)
    ) WITHOUT ROWID;
    CREATE INDEX hist_summaries_age ON hist_summaries (tier, stop);
    CREATE INDEX hist_chunks_age ON hist_chunks (t_max);

    CREATE TABLE retention_policies (
        entity_type TEXT NOT NULL,
        attribute TEXT NOT NULL,
        scope TEXT NOT NULL,
        raw_days INTEGER,
        hourly_days INTEGER,
        daily_days INTEGER,
        PRIMARY KEY (entity_type, attribute, scope)
    );
    """,
    # 4: a summary kept beside each compacted chunk (history_chunks.chunk_summary): whole-
    # period aggregations read it instead of decoding the chunk; NULL = read the points
    """
    ALTER TABLE hist_chunks ADD COLUMN summary BLOB;
    """,
    # 5: territory rollups: readings per entity type x attribute x scope x UTC day,
    # counted by compaction (rollup_sql; bocage.history.rollup)
    """
    CREATE TABLE hist_rollups (
        tid INTEGER NOT NULL,
        nid INTEGER NOT NULL,
        etype TEXT NOT NULL,
        scope TEXT NOT NULL,
        day INTEGER NOT NULL,
        count INTEGER NOT NULL,
        n INTEGER NOT NULL,
        total REAL NOT NULL,
        sumsq REAL NOT NULL,
        low REAL,
        high REAL,
        PRIMARY KEY (tid, nid, etype, scope, day)
    ) WITHOUT ROWID;
    """,
)


def migrate(conn: sqlite3.Connection) -> int:
    """Run the missing migrations on an autocommit connection; return the version."""
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    if version > len(MIGRATIONS):
        raise RuntimeError(
            f"database schema version {version} is newer than this bocage "
            f"(knows {len(MIGRATIONS)}): upgrade bocage"
        )
    for number in range(version + 1, len(MIGRATIONS) + 1):
        # executescript runs the whole migration and its version bump as one
        # transaction; a failure leaves it open, so roll it back explicitly.
        try:
            conn.executescript(
                f"BEGIN IMMEDIATE;\n{MIGRATIONS[number - 1]}\n"
                f"PRAGMA user_version = {number};\nCOMMIT;"
            )
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    return len(MIGRATIONS)
