"""Command line of the JavaScript codecs: ``bocage devices import-repo``, ``bocage codecs``."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import typer

codecs_app = typer.Typer(help="JavaScript payload codecs (LoRaWAN device-repository format).",
                         no_args_is_help=True)

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", help="TOML settings file (else BOCAGE_CONFIG).")
]
VendorOpt = Annotated[
    list[str] | None, typer.Option("--vendor", help="Only this vendor (repeatable).")
]
RepoArg = Annotated[Path, typer.Argument(help="Local checkout of a device repository "
                                              "(the folder holding vendor/).")]


def _open(config: Path | None) -> tuple[Any, Any, Any]:
    """(catalogue, codec library, store) over the configured store."""
    from bocage.cli import _core_terms, _settings
    from bocage.codecs.registry import builtin_registry
    from bocage.devices.catalogue import Catalogue
    from bocage.ingest.service import js_limits
    from bocage.jscodec.library import JsCodecLibrary
    from bocage.jscodec.sandbox import Sandbox
    from bocage.storage.factory import open_store

    settings = _settings(config)
    try:
        store = open_store(settings.database_url, settings.group_commit_ms)
    except (ValueError, OSError) as exc:
        typer.echo(f"bocage: cannot open the database: {exc}", err=True)
        raise typer.Exit(2) from None
    import datetime as dt

    from bocage.domain.timefmt import format_utc

    def now() -> str:
        return format_utc(dt.datetime.now(dt.UTC))

    terms = _core_terms(store)
    library = JsCodecLibrary(store, terms, now, Sandbox(js_limits(settings)))
    cat = Catalogue(store, terms, builtin_registry().with_resolver(library.codec), now)
    cat.ensure_builtin_models()
    return cat, library, store


def _read(path: Path, vendors: list[str] | None) -> Any:
    from bocage.jscodec.repo import RepoError, read_repo

    try:
        found = read_repo(path, set(vendors) if vendors else None)
    except RepoError as exc:
        typer.echo(f"bocage: {exc}", err=True)
        raise typer.Exit(2) from None
    if vendors and not found:
        typer.echo(f"bocage: no vendor {', '.join(vendors)} with devices in {path}", err=True)
        raise typer.Exit(2)
    return found


def import_repo(
    path: RepoArg,
    vendor: VendorOpt = None,
    target_type: Annotated[str, typer.Option(
        help="Smart Data Model type of the equipment the imported models feed.")] = "",
    config: ConfigOpt = None,
) -> None:
    """Import the codecs and device models of a local device repository checkout."""
    from rich.progress import track

    from bocage.jscodec.importer import DEFAULT_TARGET_TYPE, import_vendor

    vendors = _read(path, vendor)
    cat, library, store = _open(config)
    reports = []
    try:
        for v in track(vendors, description="importing vendors", transient=True):
            reports.append(import_vendor(v, library, cat, target_type or DEFAULT_TARGET_TYPE))
    finally:
        store.close()
    for r in reports:
        typer.echo(f"{r.vendor}: {len(r.codecs)} codec(s), {len(r.models)} model(s) imported")
        for file, reason in r.problems:
            typer.echo(f"  {file}: {reason}", err=True)
        for codec_id, reason in r.codecs_refused:
            typer.echo(f"  codec {codec_id} refused: {reason}", err=True)
        for model_id, reason in r.models_skipped:
            typer.echo(f"  model {model_id} not created: {reason}")
        for model_id, keys in sorted(r.unmapped.items()):
            typer.echo(f"  model {model_id}: unmapped keys {', '.join(keys)}")
    totals = Counter({"codecs": sum(len(r.codecs) for r in reports),
                      "models": sum(len(r.models) for r in reports),
                      "refused": sum(len(r.codecs_refused) + len(r.problems) for r in reports)})
    typer.echo(f"{totals['codecs']} codec(s) and {totals['models']} model(s) imported, "
               f"{totals['refused']} refused")
    if totals["refused"]:
        raise typer.Exit(1)


@codecs_app.command("check")
def check(path: RepoArg, vendor: VendorOpt = None, config: ConfigOpt = None,
          verbose: Annotated[bool, typer.Option(
              "--verbose", "-v", help="Also list the examples that pass.")] = False) -> None:
    """Run every example of every codec of a device repository checkout."""
    from rich.progress import Progress

    from bocage.cli import _settings
    from bocage.ingest.service import js_limits
    from bocage.jscodec.check import check_codec
    from bocage.jscodec.sandbox import Sandbox

    vendors = _read(path, vendor)
    sandbox = Sandbox(js_limits(_settings(config)))
    passed: Counter[str] = Counter()
    failed: Counter[str] = Counter()
    lines: list[str] = []
    codecs = [c for v in vendors for c in v.codecs.values()]
    total = sum(len(ex) for c in codecs for ex in c.examples.values())
    with Progress(transient=True) as progress:
        task = progress.add_task("running codec examples", total=total)
        for codec in codecs:
            for outcome in check_codec(codec, sandbox):
                progress.advance(task)
                (passed if outcome.ok else failed)[outcome.vendor] += 1
                if not outcome.ok or verbose:
                    mark = "ok  " if outcome.ok else "FAIL"
                    lines.append(f"{mark} {outcome.vendor}/{outcome.codec} {outcome.role} "
                                 f"{outcome.description!r}" +
                                 (f": {outcome.detail}" if outcome.detail else ""))
    for line in lines:
        typer.echo(line)
    problems = [(v.id, f, r) for v in vendors for f, r in v.problems]
    for vid, file, reason in problems:
        typer.echo(f"FAIL {vid}: {file}: {reason}")
    typer.echo("vendor\tpassed\tfailed")
    for v in vendors:
        bad = failed[v.id] + sum(1 for p in problems if p[0] == v.id)
        typer.echo(f"{v.id}\t{passed[v.id]}\t{bad}")
    n_failed = sum(failed.values()) + len(problems)
    typer.echo(f"{sum(passed.values())} example(s) passed, {n_failed} failed")
    if n_failed:
        raise typer.Exit(1)


@codecs_app.command("list")
def list_codecs(config: ConfigOpt = None) -> None:
    """List the JavaScript codecs in the catalogue: id, roles, examples, digest."""
    _cat, library, store = _open(config)
    try:
        for src in library.all():
            s = src.summary()
            typer.echo("\t".join([s["id"], ",".join(s["roles"]), str(s["examples"]),
                                  s["digest"]]))
    finally:
        store.close()


def register(app: typer.Typer, devices_app: typer.Typer) -> None:
    devices_app.command("import-repo")(import_repo)
    app.add_typer(codecs_app, name="codecs")
