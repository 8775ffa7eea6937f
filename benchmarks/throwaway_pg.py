"""A throwaway PostgreSQL database for a benchmark run.

Created on the server named by ``BOCAGE_BENCH_POSTGRES_URL`` (default: the local
server, trust auth) with PostGIS, owned by a fresh ordinary role so that
row-level security is paid for as in production; both dropped at the end.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql

ADMIN_URL = os.environ.get(
    "BOCAGE_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def unavailable() -> str | None:
    """Why PostgreSQL benchmarks cannot run here, or None when they can."""
    try:
        with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=3) as admin:
            row = admin.execute(
                "SELECT count(*) FROM pg_available_extensions WHERE name = 'postgis'"
            ).fetchone()
    except psycopg.Error as exc:
        return f"no PostgreSQL at {ADMIN_URL}: {str(exc).strip()}"
    if not row or row[0] != 1:
        return f"PostGIS is not available on {ADMIN_URL}"
    return None


@contextmanager
def postgres_database() -> Iterator[str]:
    """A throwaway database with PostGIS, owned by an ordinary role; its URL."""
    name = f"bocage_bench_{secrets.token_hex(4)}"
    ident = sql.Identifier(name)
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        host, port = admin.info.host, admin.info.port
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN").format(ident))
        admin.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(ident, ident))
    try:
        with psycopg.connect(ADMIN_URL.rsplit("/", 1)[0] + f"/{name}", autocommit=True) as conn:
            conn.execute("CREATE EXTENSION postgis")
        yield f"postgresql://{name}@{host}:{port}/{name}"
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))
            admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(ident))
