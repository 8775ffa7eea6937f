"""The ``bocage`` command line."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any

import typer

from bocage import __version__
from bocage.settings import Settings, load_settings

app = typer.Typer(help="bocage: territorial data hypervisor (NGSI-LD).", no_args_is_help=True)
log = logging.getLogger("bocage")

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", help="TOML settings file (else BOCAGE_CONFIG).")
]


def _settings(config: Path | None, **overrides: Any) -> Settings:
    try:
        return load_settings(config_file=config, **overrides)
    except (ValueError, OSError) as exc:
        raise typer.BadParameter(str(exc)) from None


def _serve(settings: Settings, seed_demo: bool) -> None:
    import uvicorn

    from bocage.api.app import create_app
    from bocage.logs import configure
    from bocage.storage.factory import open_store

    configure(settings.log_level)
    try:
        store = open_store(settings.database_url, settings.group_commit_ms)
    except (ValueError, OSError) as exc:
        typer.echo(f"bocage: cannot open the database: {exc}", err=True)
        raise typer.Exit(2) from None
    try:
        app_ = create_app(settings, store)
        if seed_demo:
            from bocage.demo import seed

            created = seed(store, app_.state.services.contexts.core_term_map)
            log.info("demo entities loaded", extra={"entities_created": created})
        log.info(
            "bocage listening",
            extra={"url": f"http://{settings.host}:{settings.port}", "docs": "/docs"},
        )
        uvicorn.run(app_, host=settings.host, port=settings.port, log_config=None,
                    access_log=False)
    finally:
        store.close()


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Listen address (BOCAGE_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port (BOCAGE_PORT).")] = None,
    config: ConfigOpt = None,
) -> None:
    """Serve the API on the configured store."""
    _serve(_settings(config, host=host, port=port), seed_demo=False)


@app.command()
def demo(
    host: Annotated[str | None, typer.Option(help="Listen address (BOCAGE_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port (BOCAGE_PORT).")] = None,
    config: ConfigOpt = None,
) -> None:
    """Serve with example equipment entities of a rural territory loaded."""
    _serve(_settings(config, host=host, port=port), seed_demo=True)


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade(config: ConfigOpt = None) -> None:
    """Apply the missing schema migrations to the configured database, then exit."""
    from bocage.storage.factory import mask_password

    settings = _settings(config)
    url = settings.database_url
    try:
        if url.startswith(("postgresql://", "postgres://", "postgresql+")):
            from bocage.storage.postgres import upgrade

            version = upgrade(url)
        else:  # opening a SQLite store migrates it
            from bocage.storage.factory import open_store
            from bocage.storage.sqlite_schema import MIGRATIONS

            open_store(url, settings.group_commit_ms).close()
            version = len(MIGRATIONS)
    except (ValueError, OSError, RuntimeError) as exc:
        typer.echo(f"bocage: cannot upgrade the database: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"{mask_password(url)}: schema version {version}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
