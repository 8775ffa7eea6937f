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


def _serve(settings: Settings, simulate: Any = None) -> None:
    """Serve the API; with ``simulate`` (simulator Options), a living territory too."""
    import uvicorn

    from bocage.api.app import create_app
    from bocage.logs import configure
    from bocage.storage.factory import open_store

    if not settings.auth_on and not _loopback(settings.host):
        typer.echo(f"bocage: BOCAGE_AUTH=off serves every caller as an administrator: it "
                   f"listens on loopback only, not on {settings.host}", err=True)
        raise typer.Exit(2)
    # only once it will serve: the root handler writes to this process's stderr for good
    configure(settings.log_level)
    try:
        store = open_store(settings.database_url, settings.group_commit_ms,
                           history=settings.history_enabled,
                           chunk_hours=settings.history_chunk_hours)
    except (ValueError, OSError) as exc:
        typer.echo(f"bocage: cannot open the database: {exc}", err=True)
        raise typer.Exit(2) from None
    run = None
    try:
        app_ = create_app(settings, store)
        if simulate is not None:
            run = _start_simulation(settings, simulate, store, app_.state.ingestion)
            if settings.auth_on:
                from bocage.demo import demo_accounts, demo_keys, write_keys

                keys = demo_keys(app_.state.security)
                accounts = demo_accounts(app_.state.security)
                where = write_keys(keys, settings.database_url, accounts)
                typer.echo(_demo_banner(keys, accounts, where, settings))
        log.info(
            "bocage listening",
            extra={"url": f"http://{settings.host}:{settings.port}", "docs": "/docs"},
        )
        from bocage.api.http_protocol import CoalescingHttpToolsProtocol

        uvicorn.run(app_, host=settings.host, port=settings.port, log_config=None,
                    access_log=False, http=CoalescingHttpToolsProtocol)
    finally:
        if run is not None:
            run.stop()
        store.close()


def _loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _demo_banner(keys: dict[str, str], accounts: dict[str, tuple[str, str]], where: Path,
                 settings: Settings) -> str:
    base = f"http://{settings.host}:{settings.port}"
    lines = ["", f"Web UI: {base}/ui/connexion — demo accounts (new passwords at each start):"]
    lines += [f"  {role:<7} {user:<13} {password}" for role, (user, password) in accounts.items()]
    lines += ["Demo API keys (new at each start; the previous ones are revoked):"]
    lines += [f"  {role:<7} {key}" for role, key in keys.items()]
    lines += [f"Saved in {where}: `source {where}` then",
              '  curl -H "Authorization: Bearer $BOCAGE_ADMIN_KEY" '
              f"{base}/ngsi-ld/v1/entities", ""]
    return "\n".join(lines)


def _start_simulation(settings: Settings, options: Any, store: Any, ingestion: Any) -> Any:
    """Without history, in the background (the API answers at once, the territory
    fills in); with ``--history``, the backfill runs first, with a progress bar."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from bocage.simulator import simulation
    from bocage.simulator.sinks import HttpSink

    try:
        options.sim.communes()  # a bad --departement / --epci fails now, clearly
    except ValueError as exc:
        typer.echo(f"bocage: {exc}", err=True)
        raise typer.Exit(2) from None
    sink = None
    if options.via == "http":
        sink = HttpSink(f"http://{settings.host}:{settings.port}", settings.chirpstack_secret)
    if options.sim.history <= 0:
        return simulation.start(options.sim, store, ingestion, sink)
    with Progress(TextColumn("backfilling history"), BarColumn(),
                  TextColumn("{task.percentage:>3.0f}%"), TimeRemainingColumn(),
                  transient=True) as bar:
        task = bar.add_task("history", total=options.sim.history)
        live = simulation.prepare(options.sim, store, ingestion, sink,
                                  lambda done, total: bar.update(task, completed=done))
    live.start()
    return live


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Listen address (BOCAGE_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port (BOCAGE_PORT).")] = None,
    config: ConfigOpt = None,
) -> None:
    """Serve the API on the configured store."""
    _serve(_settings(config, host=host, port=port))


@app.command()
def demo(
    host: Annotated[str | None, typer.Option(help="Listen address (BOCAGE_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port (BOCAGE_PORT).")] = None,
    config: ConfigOpt = None,
    departement: Annotated[str | None, typer.Option(
        help="Simulate every commune of this department (e.g. 01); default: three EPCI "
             "of the Ain.")] = None,
    epci: Annotated[list[str] | None, typer.Option(
        help="Simulate the communes of this EPCI (SIREN); repeatable.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the territory and its story.")] = 1,
    speed: Annotated[float, typer.Option(
        help="Simulated seconds per real second. Above 1, the run starts --catch-up in the "
             "past, replays it that much faster (with its incidents), then follows real "
             "time: no reading is dated in the future.")] = 1.0,
    catch_up: Annotated[str, typer.Option(
        help="With --speed above 1: how far back the accelerated run starts.")] = "1d",
    history: Annotated[str, typer.Option(
        help="Backfill this much past before going live (e.g. 1d, 30d).")] = "0s",
    via: Annotated[str, typer.Option(
        help="inprocess (the inbox, default) or http (POST /ingest/chirpstack on this "
             "server, with the configured or a generated ChirpStack secret).")] = "inprocess",
) -> None:
    """Serve with a simulated rural territory reporting through the ingestion pipeline."""
    import secrets
    from dataclasses import dataclass

    from bocage.simulator.simulation import Options, parse_duration

    if via not in ("inprocess", "http"):
        raise typer.BadParameter("--via must be inprocess or http")
    if speed <= 0:
        raise typer.BadParameter("--speed must be positive")
    try:
        sim = Options(departement=departement, epci=tuple(epci or ()), seed=seed, speed=speed,
                      history=parse_duration(history), catch_up=parse_duration(catch_up))
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    settings = _settings(config, host=host, port=port)
    if via == "http" and not settings.chirpstack_secret:
        settings = settings.replace(chirpstack_secret=secrets.token_hex(24))

    @dataclass(frozen=True)
    class _Sim:
        sim: Options
        via: str

    _serve(settings, _Sim(sim, via))


@app.command()
def simulate(
    target: Annotated[str, typer.Option(
        help="Where uplinks go: http://host:port (a running bocage's /ingest/chirpstack) or "
             "mqtt://host:port (a broker bocage's ChirpStack MQTT connector reads).")],
    devices: Annotated[int, typer.Option(help="How many simulated devices.")] = 1000,
    interval: Annotated[float | None, typer.Option(
        help="Seconds between two uplinks of a device (default: each model's nominal "
             "interval, 10 min to 1 h).")] = None,
    duration: Annotated[str, typer.Option(help="How long to run (e.g. 90s, 10m, 2h).")] = "60s",
    secret: Annotated[str | None, typer.Option(
        help="ChirpStack secret of the target (else BOCAGE_CHIRPSTACK_SECRET).")] = None,
    register: Annotated[bool, typer.Option(
        help="First register the devices and their equipment in the target.")] = True,
    api: Annotated[str | None, typer.Option(
        help="The bocage API to register devices in, when the target is MQTT "
             "(default: the HTTP target).")] = None,
    api_key: Annotated[str, typer.Option(
        envvar="BOCAGE_API_KEY",
        help="API key to register the devices with, on a target whose authentication is on "
             "(role admin or agent on the territory's scope).")] = "",
    concurrency: Annotated[int, typer.Option(help="Requests in flight at most.")] = 64,
    seed: Annotated[int, typer.Option(help="Seed of the simulated territory.")] = 1,
    json_out: Annotated[Path | None, typer.Option(
        "--json", help="Also write the final report to this JSON file.")] = None,
) -> None:
    """Load generator: drive a running bocage with simulated devices, report counts,
    latencies and the generator's own CPU use."""
    import asyncio
    import json
    import os

    import httpx
    from rich.progress import BarColumn, Progress, TextColumn

    from bocage.simulator import loadgen
    from bocage.simulator.simulation import parse_duration

    over_mqtt = target.startswith(("mqtt://", "mqtts://"))
    if not over_mqtt and not target.startswith(("http://", "https://")):
        raise typer.BadParameter("--target must be http(s)://host:port or mqtt(s)://host:port")
    api_url = api or (None if over_mqtt else target)
    if register and api_url is None:
        raise typer.BadParameter("with an MQTT target, give --api http://host:port to "
                                 "register the devices (or --no-register)")
    if devices <= 0 or (interval is not None and interval <= 0) or concurrency <= 0:
        raise typer.BadParameter("--devices, --interval and --concurrency must be positive")
    try:
        seconds = parse_duration(duration)
        territories, chosen = loadgen.pick_devices(devices, seed)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    token = secret or os.environ.get("BOCAGE_CHIRPSTACK_SECRET", "")
    if not token and not over_mqtt:
        raise typer.BadParameter("give the target's ChirpStack secret (--secret or "
                                 "BOCAGE_CHIRPSTACK_SECRET)")
    if register:
        try:
            with Progress(TextColumn(f"registering {devices} devices"), BarColumn(),
                          TextColumn("{task.completed}/{task.total} entities"),
                          transient=True) as bar:
                task = bar.add_task("register", total=None)
                loadgen.register(api_url or target, territories, chosen,
                                 lambda done, total: bar.update(task, completed=done,
                                                                total=total),
                                 api_key=api_key)
        except (RuntimeError, OSError, httpx.HTTPError) as exc:
            typer.echo(f"bocage: {exc}", err=True)
            raise typer.Exit(2) from None

    def show(r: loadgen.Report) -> None:
        typer.echo(json.dumps(r.to_json()))

    sink: Any
    if over_mqtt:
        from bocage.simulator.mqtt_target import MqttTarget

        try:
            sink = MqttTarget(target)
        except (OSError, ValueError) as exc:
            typer.echo(f"bocage: cannot reach {target}: {exc}", err=True)
            raise typer.Exit(2) from None
    else:
        sink = loadgen.HttpTarget(target, token, concurrency)
    report = asyncio.run(loadgen.run(chosen, sink, seconds, interval, seed, concurrency,
                                     report=show))
    final = report.to_json()
    typer.echo(json.dumps(final))
    if json_out is not None:
        json_out.write_text(json.dumps(final, indent=2) + "\n")
    if report.stats.errors or report.stats.rejected or report.stats.unanswered:
        raise typer.Exit(1)


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
                               _now_utc(), settings.open_data_scope)
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


def _register_recipient_commands() -> None:
    from bocage.cli_recipients import recipients_app

    app.add_typer(recipients_app, name="recipients")


_register_recipient_commands()


def main() -> None:
    app()



@app.command()
def stats(
    config: ConfigOpt = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """Sobriety figures: readings collected and kept, bytes per reading, compression,
    messages per day, dead letters (the same as GET /api/stats)."""
    import json
    from types import SimpleNamespace

    from bocage.api.sobriety import gather, report_lines
    from bocage.ingest.inbox_sqlite import SQLiteInbox, inbox_path

    settings = _settings(config)
    store = _history_store(config)
    inbox = None
    try:
        path = inbox_path(settings.database_url, settings.inbox_path)
        if path.exists():
            inbox = SQLiteInbox(path, max_backlog=settings.ingest_max_backlog, now=_now_utc)
        ingestion = SimpleNamespace(started=inbox is not None, inbox=inbox)
        figures = gather(store, _core_terms(store), ingestion, _now_utc())  # type: ignore[arg-type]
    finally:
        if inbox is not None:
            inbox.close()
        store.close()
    if json_out:
        typer.echo(json.dumps(figures.to_json(), indent=2))
    else:
        typer.echo("\n".join(report_lines(figures)))


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
