"""``bocage recipients``: alarm recipients from the command line (the platform's own
access: every scope), one or several from a JSON or YAML file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

import typer

recipients_app = typer.Typer(help="Alarm recipients (e-mail, webhook, MQTT per scope).",
                             no_args_is_help=True)
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="TOML settings file.")]
TenantOpt = Annotated[str, typer.Option(help="NGSI-LD tenant (\"\": the default one).")]


def _open(config: Path | None) -> tuple[Any, Any]:
    from bocage.cli import _core_terms, _settings
    from bocage.storage.factory import open_store

    settings = _settings(config)
    try:
        store = open_store(settings.database_url, settings.group_commit_ms,
                           history=settings.history_enabled,
                           chunk_hours=settings.history_chunk_hours)
    except (ValueError, OSError) as exc:
        typer.echo(f"bocage: cannot open the database: {exc}", err=True)
        raise typer.Exit(2) from None
    return store, _core_terms(store)


def load_file(path: Path) -> list[Any]:
    """One recipient or a list, as JSON or YAML."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text("utf-8"))  # JSON is YAML
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"cannot read {path}: {exc}") from None
    return data if isinstance(data, list) else [data]


@recipients_app.command("list")
def recipients_list(tenant: TenantOpt = "", config: ConfigOpt = None) -> None:
    """id, channel, address, scope, minimum severity."""
    from bocage.alerting.service import recipients

    store, terms = _open(config)
    try:
        for r in recipients(store, terms, tenant):
            typer.echo("\t".join([r.id, r.channel, r.address, r.scope, r.min_severity]))
    finally:
        store.close()


@recipients_app.command("set")
def recipients_set(
    file: Annotated[Path, typer.Argument(help="JSON or YAML: one recipient or a list.")],
    tenant: TenantOpt = "", config: ConfigOpt = None,
) -> None:
    """Create or replace recipients; all are checked first, none is written if one is bad."""
    from bocage.alerting.recipients import compile_recipient
    from bocage.alerting.service import put_recipient
    from bocage.domain.errors import BocageError

    try:
        items = load_file(file)
        for item in items:
            compile_recipient(item)
    except (ValueError, BocageError) as exc:
        typer.echo(f"bocage: {getattr(exc, 'detail', exc)}", err=True)
        raise typer.Exit(1) from None
    store, terms = _open(config)
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    try:
        for item in items:
            put_recipient(store, terms, tenant, item, now)
    finally:
        store.close()
    typer.echo(f"{len(items)} recipient(s) set")


@recipients_app.command("delete")
def recipients_delete(ident: str, tenant: TenantOpt = "", config: ConfigOpt = None) -> None:
    """Delete a recipient (messages already queued for it still leave)."""
    from bocage.alerting.service import delete_recipient
    from bocage.domain.errors import BocageError

    store, _ = _open(config)
    try:
        delete_recipient(store, tenant, ident, None)
    except BocageError as exc:
        typer.echo(f"bocage: {exc.detail}", err=True)
        raise typer.Exit(1) from None
    finally:
        store.close()
    typer.echo(f"recipient {ident} deleted")
