"""A throwaway PostgreSQL database for a test run.

The server comes from ``BOCAGE_TEST_POSTGRES_URL`` (default: the local
server with trust auth, ``postgresql://postgres@127.0.0.1:5432/postgres``),
through a role allowed to create databases and roles. Each run creates
``bocage_test_<random>`` with PostGIS, owned by a fresh ordinary role of the
same name, and the stores connect as that role: a superuser would skip
row-level security, so the tests would not see it. Both are dropped at the end.

Without a server the PostgreSQL tests skip, saying why; in CI (``CI`` set)
they fail instead, so that CI can never pass without running them.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass

import psycopg
import pytest
from psycopg import sql

ADMIN_URL = os.environ.get(
    "BOCAGE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


@dataclass(frozen=True)
class Throwaway:
    name: str
    url: str  # connects as the database's own (non-superuser) role
    admin_url: str  # the same database as the admin role


def unavailable(reason: str) -> None:
    """Skip, or fail in CI: PostgreSQL tests must run there."""
    message = (
        f"PostgreSQL tests need a server with PostGIS at {ADMIN_URL} "
        f"(set BOCAGE_TEST_POSTGRES_URL): {reason}"
    )
    if os.environ.get("CI"):
        pytest.fail(message + " [CI is set: not skipping]", pytrace=False)
    pytest.skip(message)


def create() -> Throwaway:
    name = f"bocage_test_{secrets.token_hex(4)}"
    try:
        admin = psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.Error as exc:
        unavailable(str(exc).strip())
        raise AssertionError("unreachable") from None
    host, port = admin.info.host, admin.info.port
    with admin:
        ident = sql.Identifier(name)
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN").format(ident))
        admin.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(ident, ident))
    base = f"postgresql://{{user}}@{host}:{port}/{name}"
    admin_in_db = ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        with psycopg.connect(admin_in_db, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION postgis")
    except psycopg.Error as exc:
        drop(Throwaway(name, "", ADMIN_URL))
        unavailable(f"cannot enable PostGIS: {str(exc).strip()}")
    return Throwaway(name, base.format(user=name), admin_in_db)


def drop(db: Throwaway) -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        ident = sql.Identifier(db.name)
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))
        admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(ident))


def empty(db: Throwaway) -> None:
    """Remove every row (between tests): much faster than a new database."""
    with psycopg.connect(db.url, autocommit=True) as conn:
        exists = conn.execute("SELECT to_regclass('entities') IS NOT NULL").fetchone()
        if exists and exists[0]:
            from bocage.storage.postgres_schema import DATA_TABLES

            conn.execute(
                sql.SQL("TRUNCATE {} RESTART IDENTITY").format(
                    sql.SQL(", ").join(sql.Identifier(t) for t in DATA_TABLES)
                )
            )
        subs = conn.execute("SELECT to_regclass('bocage_subscriptions') IS NOT NULL").fetchone()
        if subs and subs[0]:  # the subscription repository's own table
            conn.execute("TRUNCATE bocage_subscriptions RESTART IDENTITY")
        access = [name for (name,) in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
            " AND tablename LIKE 'access\\_%'").fetchall()]
        if access:  # accounts, keys, sessions, commands, audit (bocage.security)
            conn.execute(sql.SQL("TRUNCATE {}").format(
                sql.SQL(", ").join(sql.Identifier(t) for t in access)))
