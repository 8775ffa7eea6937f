"""The ``bocage`` command line."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any

import typer

from bocage import __version__
from bocage.jscodec.cli import register as register_jscodec
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
    if not settings.auth_on and not _loopback(settings.host):
        typer.echo(f"bocage: BOCAGE_AUTH=off serves every caller as an administrator: it "
                   f"listens on loopback only, not on {settings.host}", err=True)
        raise typer.Exit(2)
    try:
        store = open_store(settings.database_url, settings.group_commit_ms,
                           history=settings.history_enabled,
                           chunk_hours=settings.history_chunk_hours)
    except (ValueError, OSError) as exc:
        typer.echo(f"bocage: cannot open the database: {exc}", err=True)
        raise typer.Exit(2) from None
    try:
        app_ = create_app(settings, store)
        if seed_demo:
            from bocage.demo import demo_keys, seed, write_keys

            created = seed(store, app_.state.services.contexts.core_term_map)
            log.info("demo entities loaded", extra={"entities_created": created})
            if settings.auth_on:
                keys = demo_keys(app_.state.security)
                where = write_keys(keys, settings.database_url)
                typer.echo(_demo_banner(keys, where))
        log.info(
            "bocage listening",
            extra={"url": f"http://{settings.host}:{settings.port}", "docs": "/docs"},
        )
        uvicorn.run(app_, host=settings.host, port=settings.port, log_config=None,
                    access_log=False)
    finally:
        store.close()


def _loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _demo_banner(keys: dict[str, str], where: Path) -> str:
    lines = ["", "Demo API keys (new at each start; the previous ones are revoked):"]
    lines += [f"  {role:<7} {key}" for role, key in keys.items()]
    lines += [f"Saved in {where}: `source {where}` then",
              '  curl -H "Authorization: Bearer $BOCAGE_ADMIN_KEY" '
              "http://127.0.0.1:8000/ngsi-ld/v1/entities", ""]
    return "\n".join(lines)


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


devices_app = typer.Typer(help="Device catalogue (devices and device models).",
                          no_args_is_help=True)
app.add_typer(devices_app, name="devices")


def _catalogue(config: Path | None) -> Any:
    """The catalogue over the configured store (the caller closes ``.store``)."""
    import datetime as dt

    from bocage.codecs.registry import builtin_registry
    from bocage.devices.catalogue import Catalogue
    from bocage.domain.timefmt import format_utc
    from bocage.storage.factory import open_store

    settings = _settings(config)
    try:
        store = open_store(settings.database_url, settings.group_commit_ms,
                           history=settings.history_enabled,
                           chunk_hours=settings.history_chunk_hours)
    except (ValueError, OSError) as exc:
        typer.echo(f"bocage: cannot open the database: {exc}", err=True)
        raise typer.Exit(2) from None
    cat = Catalogue(store, _core_terms(store), builtin_registry(),
                    lambda: format_utc(dt.datetime.now(dt.UTC)))
    cat.ensure_builtin_models()
    return cat, store


def _core_terms(store: Any) -> Any:
    from bocage.ngsild.context import ContextResolver

    settings = load_settings(env={})
    return ContextResolver(store_get=store.get_context, store_put=store.put_context,
                           timeout=settings.context_fetch_timeout,
                           max_bytes=settings.context_max_bytes).core_term_map


def _add_one(cat: Any, data: dict[str, Any]) -> None:
    from bocage.devices.records import device_from_json
    from bocage.domain.errors import BadRequestData

    model = data.get("model")
    spec = cat.model(model) if isinstance(model, str) and model else None
    if spec is None:
        raise BadRequestData(f"unknown device model {model!r}")
    cat.add_device(device_from_json(data, spec.target_type))


@devices_app.command("add")
def devices_add(
    dev_eui: Annotated[str, typer.Argument(help="DevEUI, 16 hex digits.")],
    model: Annotated[str, typer.Argument(help="Device model id (see `bocage devices models`).")],
    name: Annotated[str, typer.Option(help="Display name.")] = "",
    asset: Annotated[str, typer.Option(help="Equipment entity id it feeds.")] = "",
    commune: Annotated[str, typer.Option(help="INSEE code of the commune.")] = "",
    config: ConfigOpt = None,
) -> None:
    """Register one device."""
    from bocage.domain.errors import BocageError

    cat, store = _catalogue(config)
    try:
        data = {"devEui": dev_eui, "model": model, "name": name, "assetId": asset,
                "commune": commune}
        _add_one(cat, {k: v for k, v in data.items() if v})
    except BocageError as exc:
        typer.echo(f"bocage: {exc.detail}", err=True)
        raise typer.Exit(1) from None
    finally:
        store.close()
    typer.echo(f"device {dev_eui.upper()} added")


@devices_app.command("list")
def devices_list(config: ConfigOpt = None) -> None:
    """List devices: DevEUI, model, equipment, battery, last seen."""
    from bocage.devices.records import device_from_entity, device_status

    cat, store = _catalogue(config)
    try:
        terms = _core_terms(store)
        for e in cat.devices():
            dev, status = device_from_entity(e, terms), device_status(e, terms)
            typer.echo("\t".join([dev.dev_eui, dev.model, dev.asset_id,
                                   str(status.get("batteryLevel", "")),
                                   str(status.get("dateLastValueReported", ""))]))
    finally:
        store.close()


@devices_app.command("models")
def devices_models(config: ConfigOpt = None) -> None:
    """List device models: id, codec, target type, vendor and model."""
    cat, store = _catalogue(config)
    try:
        for m in cat.models():
            typer.echo("\t".join([m.id, m.codec, m.target_type, m.vendor, m.model]))
    finally:
        store.close()


@devices_app.command("import")
def devices_import(
    file: Annotated[Path, typer.Argument(help="CSV: devEui,model,name,assetId,longitude,"
                                              "latitude,commune,reportingInterval")],
    config: ConfigOpt = None,
) -> None:
    """Register the devices of a CSV file; bad rows are reported, good ones kept."""
    from rich.progress import track

    from bocage.devices.csv_import import rows_to_devices
    from bocage.domain.errors import BocageError

    try:
        with open(file, newline="", encoding="utf-8") as fh:
            rows = rows_to_devices(fh)
    except (OSError, UnicodeDecodeError, BocageError) as exc:
        typer.echo(f"bocage: cannot read {file}: {exc}", err=True)
        raise typer.Exit(2) from None
    cat, store = _catalogue(config)
    added, failed = 0, 0
    try:
        for line, row in track(rows, description="importing devices", transient=True):
            try:
                if isinstance(row, BocageError):
                    raise row
                _add_one(cat, row)
                added += 1
            except BocageError as exc:
                failed += 1
                typer.echo(f"{file}:{line}: {exc.detail}", err=True)
    finally:
        store.close()
    typer.echo(f"{added} device(s) added, {failed} row(s) refused")
    if failed:
        raise typer.Exit(1)


def _now_utc() -> str:
    import datetime as dt

    from bocage.domain.timefmt import format_utc

    return format_utc(dt.datetime.now(dt.UTC))


@app.command("import-readings")
def import_readings(
    file: Annotated[Path, typer.Argument(help="CSV: devEui,time,key,value "
                                              "(see docs/ingestion.md)")],
    config: ConfigOpt = None,
) -> None:
    """Import meter readings from a CSV file: all of it, or nothing if a line is wrong."""
    from bocage.codecs.registry import builtin_registry
    from bocage.ingest.readings_import import ReadingsRejected
    from bocage.ingest.readings_import import import_readings as run_import

    try:
        data = file.read_bytes()
    except OSError as exc:
        typer.echo(f"bocage: cannot read {file}: {exc.strerror or exc}", err=True)
        raise typer.Exit(2) from None
    cat, store = _catalogue(config)
    try:
        summary = run_import(store, data, str(file), cat, builtin_registry(), _core_terms(store),
                             _now_utc)
    except ReadingsRejected as exc:
        for error in exc.errors:
            typer.echo(f"{file}:{error.line}: {error.message}", err=True)
        typer.echo(f"bocage: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        store.close()
    typer.echo(f"{summary.readings} reading(s) of {summary.devices} device(s) imported "
               f"({summary.lines} line(s))")


@app.command("import-irve")
def import_irve(
    static: Annotated[str, typer.Option("--static", help="IRVE static CSV: file or URL")],
    dynamic: Annotated[str | None, typer.Option(
        "--dynamic", help="IRVE dynamic CSV: file or URL")] = None,
    config: ConfigOpt = None,
) -> None:
    """Import EV charging stations (IRVE static, and dynamic availability) into
    EVChargingStation entities: all of it, or nothing if a row is wrong."""
    from bocage.irve import importer
    from bocage.irve.source import SourceError, read_source
    from bocage.storage.factory import open_store

    settings = _settings(config)
    timeout, max_bytes = settings.irve_fetch_timeout, settings.irve_max_bytes
    try:
        static_data = read_source(static, timeout=timeout, max_bytes=max_bytes)
        dynamic_data = None if dynamic is None else read_source(
            dynamic, timeout=timeout, max_bytes=max_bytes)
    except SourceError as exc:
        typer.echo(f"bocage: cannot read {exc}", err=True)
        raise typer.Exit(2) from None
    try:
        store = open_store(settings.database_url, settings.group_commit_ms)
    except (ValueError, OSError) as exc:
        typer.echo(f"bocage: cannot open the database: {exc}", err=True)
        raise typer.Exit(2) from None
    try:
        summary = importer.run(store, static_data, dynamic_data, _core_terms(store),
                               _now_utc())
    except importer.Rejected as exc:
        files = {"static": static, "dynamic": dynamic or ""}
        for p in exc.problems:
            typer.echo(f"{files[p.source]}:{p.line}: {p.message}", err=True)
        typer.echo(f"bocage: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        store.close()
    typer.echo(f"{summary.stations} station(s), {summary.charging_points} charging point(s), "
               f"{summary.updated} availability update(s)"
               + (f", {summary.skipped} dynamic row(s) about other stations skipped"
                  if summary.skipped else ""))


register_jscodec(app, devices_app)  # devices import-repo, codecs check / list


def _register_access_commands() -> None:
    from bocage.cli_access import audit_app, keys_app, users_app

    app.add_typer(users_app, name="users")
    app.add_typer(keys_app, name="keys")
    app.add_typer(audit_app, name="audit")


_register_access_commands()


def main() -> None:
    app()



retention_app = typer.Typer(help="History retention and downsampling policies.",
                            no_args_is_help=True)
app.add_typer(retention_app, name="retention")


def _history_store(config: Path | None) -> Any:
    from bocage.storage.factory import open_store

    settings = _settings(config)
    try:
        return open_store(settings.database_url, settings.group_commit_ms,
                          history=settings.history_enabled,
                          chunk_hours=settings.history_chunk_hours)
    except (ValueError, OSError) as exc:
        typer.echo(f"bocage: cannot open the database: {exc}", err=True)
        raise typer.Exit(2) from None


def _days(text: str | None) -> int | None:
    if text is None or text.lower() in ("forever", "null", "none"):
        return None
    try:
        return int(text)
    except ValueError:
        raise typer.BadParameter(f"a number of days or 'forever', got {text!r}") from None


@retention_app.command("list")
def retention_list(config: ConfigOpt = None) -> None:
    """List the policies in force: built-in defaults, then the operator's (which win)."""
    from bocage.history.retention import DEFAULT_POLICIES

    store = _history_store(config)
    try:
        rows = [("default", p) for p in DEFAULT_POLICIES]
        rows += [("set", p) for p in store.retention_policies()]
        for origin, p in rows:
            shown = ["forever" if d is None else str(d)
                     for d in (p.raw_days, p.hourly_days, p.daily_days)]
            typer.echo("\t".join([origin, p.entity_type or "*", p.attribute or "*",
                                  p.scope or "*", *shown]))
    finally:
        store.close()


@retention_app.command("set")
def retention_set(
    raw: Annotated[str, typer.Option(help="Days kept raw, or 'forever'.")],
    hourly: Annotated[str, typer.Option(help="Days of hourly summaries (0: none).")] = "730",
    daily: Annotated[str, typer.Option(help="Days of daily summaries.")] = "forever",
    entity_type: Annotated[str | None, typer.Option("--type", help="Entity type.")] = None,
    attribute: Annotated[str | None, typer.Option(help="Attribute (expanded IRI).")] = None,
    scope: Annotated[str | None, typer.Option(help="Scope prefix, e.g. /FR/01.")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Confirm a shorter window.")] = False,
    config: ConfigOpt = None,
) -> None:
    """Set the policy of a type / attribute / scope (refuses to shorten without --yes)."""
    from bocage.domain.errors import BocageError
    from bocage.history.retention import Policy
    from bocage.storage.retention_admin import set_policy

    store = _history_store(config)
    try:
        policy = Policy(entity_type, attribute, scope, _days(raw), _days(hourly), _days(daily))
        set_policy(store, policy, yes)
    except BocageError as exc:
        typer.echo(f"bocage: {exc.detail}", err=True)
        raise typer.Exit(1) from None
    finally:
        store.close()
    typer.echo("retention policy set")


@retention_app.command("delete")
def retention_delete(
    entity_type: Annotated[str | None, typer.Option("--type", help="Entity type.")] = None,
    attribute: Annotated[str | None, typer.Option(help="Attribute (expanded IRI).")] = None,
    scope: Annotated[str | None, typer.Option(help="Scope prefix.")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Confirm a shorter window.")] = False,
    config: ConfigOpt = None,
) -> None:
    """Remove an operator policy (the next most specific one applies)."""
    from bocage.domain.errors import BocageError
    from bocage.storage.retention_admin import delete_policy

    store = _history_store(config)
    try:
        delete_policy(store, entity_type, attribute, scope, yes)
    except BocageError as exc:
        typer.echo(f"bocage: {exc.detail}", err=True)
        raise typer.Exit(1) from None
    finally:
        store.close()
    typer.echo("retention policy deleted")


if __name__ == "__main__":
    main()
