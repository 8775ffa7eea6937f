"""``bocage users``, ``bocage keys`` and ``bocage audit``: access control from the shell.

Whoever runs these commands can read the database configuration, so they act
as the platform itself (recorded in the audit log as ``cli``).
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from bocage.domain.access import ROOT, check_grant

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", help="TOML settings file (else BOCAGE_CONFIG).")
]
ACTOR = "cli"

users_app = typer.Typer(help="Accounts.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys for machines.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit log (append-only, hash-chained).", no_args_is_help=True)


@contextmanager
def _security(config: Path | None) -> Iterator[Any]:
    from bocage.api.services import utc_now
    from bocage.security.access_sql import open_access_store
    from bocage.security.service import Security
    from bocage.settings import load_settings
    from bocage.storage.factory import open_store

    try:
        settings = load_settings(config_file=config)
        store = open_store(settings.database_url, settings.group_commit_ms)
    except (ValueError, OSError) as exc:
        typer.echo(f"bocage: cannot open the database: {exc}", err=True)
        raise typer.Exit(2) from None
    try:
        access = open_access_store(store)
        try:
            yield Security(access, utc_now, session_hours=settings.session_hours,
                           max_failures=settings.login_max_failures,
                           lockout_minutes=settings.lockout_minutes)
        finally:
            access.close()
    finally:
        store.close()


def _fail(fn: Callable[[], Any]) -> Any:
    from bocage.domain.errors import BocageError

    try:
        return fn()
    except BocageError as exc:
        typer.echo(f"bocage: {exc.detail}", err=True)
        raise typer.Exit(1) from None
    except ValueError as exc:
        typer.echo(f"bocage: {exc}", err=True)
        raise typer.Exit(1) from None


def _password(given: str | None) -> str:
    if given is not None:
        return given
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password (12 characters at least): ")
    if getpass.getpass("again: ") != first:
        typer.echo("bocage: the passwords differ", err=True)
        raise typer.Exit(1)
    return first


@users_app.command("create-admin")
def create_admin(
    username: Annotated[str, typer.Argument(help="Account name (a-z 0-9 . _ - @).")],
    password: Annotated[str | None, typer.Option(
        help="The password (else asked, or read from standard input).")] = None,
    config: ConfigOpt = None,
) -> None:
    """Create a platform administrator account (role admin on /): the first account."""
    from bocage.domain.access import Grant

    secret = _password(password)
    with _security(config) as sec:
        _fail(lambda: sec.create_account(username, secret, [Grant("admin", ROOT)], by=ACTOR))
    typer.echo(f"account {username} created: admin on {ROOT}")


@users_app.command("create")
def create_user(
    username: Annotated[str, typer.Argument(help="Account name.")],
    role: Annotated[list[str], typer.Option(help="Role (repeat with --scope).")],
    scope: Annotated[list[str], typer.Option(help="Scope of each --role.")],
    password: Annotated[str | None, typer.Option(help="The password (else asked).")] = None,
    config: ConfigOpt = None,
) -> None:
    """Create an account with roles on scopes (--role agent --scope /FR/01/240100883/01004)."""
    grants = _fail(lambda: _grants(role, scope))
    secret = _password(password)
    with _security(config) as sec:
        _fail(lambda: sec.create_account(username, secret, grants, by=ACTOR))
    typer.echo(f"account {username} created")


@users_app.command("list")
def list_users(config: ConfigOpt = None) -> None:
    """List accounts: name, grants, lock."""
    with _security(config) as sec:
        for a in sec.store.list_accounts():
            grants = " ".join(f"{g.role}@{g.scope}" for g in a.grants)
            typer.echo("\t".join([a.username, grants, a.locked_until]))


def _grants(roles: list[str], scopes: list[str]) -> list[Any]:
    if len(roles) != len(scopes):
        raise ValueError("give one --scope per --role")
    return [check_grant(r, s) for r, s in zip(roles, scopes, strict=True)]


@keys_app.command("create")
def create_key(
    role: Annotated[list[str], typer.Option(help="Role (repeat with --scope).")],
    scope: Annotated[list[str], typer.Option(help="Scope of each --role, e.g. /FR/01/...")],
    name: Annotated[str, typer.Option(help="What the key is for.")] = "",
    expires: Annotated[str, typer.Option(help="Expiry, ISO 8601 (default: never).")] = "",
    config: ConfigOpt = None,
) -> None:
    """Create an API key; it is printed once and never stored."""
    grants = _fail(lambda: _grants(role, scope))
    with _security(config) as sec:
        key, token = _fail(lambda: sec.create_key(grants, name=name, by=ACTOR,
                                                  expires_at=expires))
    typer.echo(f"API key {key.key_id} created; it is shown only now:", err=True)
    typer.echo(token)


@keys_app.command("list")
def list_keys(config: ConfigOpt = None) -> None:
    """List API keys: id, name, grants, expiry, revocation (never the key itself)."""
    with _security(config) as sec:
        for k in sec.store.list_keys():
            grants = " ".join(f"{g.role}@{g.scope}" for g in k.grants)
            typer.echo("\t".join([k.key_id, k.name, grants, k.expires_at or "-",
                                  f"revoked {k.revoked_at}" if k.revoked_at else "active"]))


@keys_app.command("revoke")
def revoke_key(
    key_id: Annotated[str, typer.Argument(help="The key id (see `bocage keys list`).")],
    config: ConfigOpt = None,
) -> None:
    """Revoke an API key at once."""
    with _security(config) as sec:
        _fail(lambda: sec.revoke_key(key_id, by=ACTOR))
    typer.echo(f"API key {key_id} revoked")


@audit_app.command("verify")
def audit_verify(config: ConfigOpt = None) -> None:
    """Check the hash chain of the whole audit log; exit 1 at the first broken link."""
    from bocage.domain.audit import verify

    with _security(config) as sec:
        verdict = verify(sec.store.audit_records())
    if not verdict.ok:
        typer.echo(f"audit log TAMPERED: record {verdict.bad_seq}: {verdict.reason} "
                   f"({verdict.records} record(s) verified before it)", err=True)
        raise typer.Exit(1)
    typer.echo(f"audit log OK: {verdict.records} record(s), head {verdict.head}")


@audit_app.command("export")
def audit_export(config: ConfigOpt = None) -> None:
    """Write the audit log as JSON lines on standard output (recorded as an export)."""
    with _security(config) as sec:
        records = sec.store.audit_records()
        for r in records:
            sys.stdout.write(orjson.dumps(r.to_json()).decode() + "\n")
        sec.audit(ACTOR, "audit.export", "", {"records": len(records)})
