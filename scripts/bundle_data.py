#!/usr/bin/env python3
"""Copy reference data from ``../shared/data`` into the package, so bocage runs offline.

The product must never need ``../shared`` (nor the network) at run time: everything it
reads is bundled under ``bocage/`` as package data and committed. This script is the
only bridge between the two, and it is *idempotent*: running it twice changes nothing.

Usage::

    python scripts/bundle_data.py            # (re)write the bundled copies
    python scripts/bundle_data.py --check    # exit 1 if a bundled copy is stale/missing

The work is a list of small :class:`Step` s (see :data:`STEPS`). Each step reads its
sources and returns the files it wants under the repository, as ``{relative path:
bytes}``; the driver then writes them (only when different) or compares them. To bundle
more data (commune data, schemas...), add a step function and append it to ``STEPS``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: where the shared reference data lives (outside the repository, read-only)
DEFAULT_SHARED = ROOT.parent / "shared" / "data"

#: exit codes
OK, STALE, NO_SOURCE = 0, 1, 2


class MissingSource(Exception):
    """A step's source data is absent (e.g. ``../shared`` not mounted)."""


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    #: shared data dir -> {path relative to the repository root: content}
    build: Callable[[Path], dict[str, bytes]]


# --------------------------------------------------------------------- NGSI-LD core
CORE_CONTEXT_VERSIONS = ("1.3", "1.4", "1.9")
CORE_CONTEXT_DIR = "bocage/ngsild/contexts"


def _read(path: Path) -> bytes:
    if not path.is_file():
        raise MissingSource(f"{path} not found")
    return path.read_bytes()


def _clean_context(raw: bytes, origin: Path) -> bytes:
    """The JSON-LD document of a core context file, unchanged except a leading URL line.

    The v1.3/v1.4 copies come from Orion-LD's ``ldcontexts/``, whose files start with
    the context URL on its own line before the JSON: that line is dropped so the
    bundled file is valid JSON-LD. Everything else is kept byte for byte.
    """
    text = raw.decode("utf-8")
    first, sep, rest = text.partition("\n")
    if sep and first.strip().startswith(("http://", "https://")):
        text = rest
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise SystemExit(f"{origin}: not JSON after cleaning: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("@context"), dict):
        raise SystemExit(f"{origin}: not a JSON-LD context document")
    return text.encode("utf-8")


def ngsi_ld_core_contexts(shared: Path) -> dict[str, bytes]:
    src_dir = shared / "ngsi-ld"
    out: dict[str, bytes] = {}
    for version in CORE_CONTEXT_VERSIONS:
        name = f"ngsi-ld-core-context-v{version}.jsonld"
        out[f"{CORE_CONTEXT_DIR}/{name}"] = _clean_context(_read(src_dir / name), src_dir / name)
    upstream = _read(src_dir / "SOURCE.txt").decode("utf-8").strip()
    out[f"{CORE_CONTEXT_DIR}/SOURCE.txt"] = (
        "Bundled by scripts/bundle_data.py from ../shared/data/ngsi-ld/ - do not edit by hand.\n"
        "\n"
        "ETSI NGSI-LD core @context, (c) ETSI, published by ETSI ISG CIM (GS CIM 009),\n"
        "https://uri.etsi.org/ngsi-ld/ - redistributed unmodified except that the leading\n"
        "URL line of the v1.3 and v1.4 files (an Orion-LD storage convention, not JSON) was\n"
        "removed. bocage never fetches a core context: it resolves the terms of every core\n"
        "context URL (unversioned, v1.3 to v1.9) with the v1.9 copy; the v1.3 and v1.4\n"
        "copies are only served back verbatim under their own URLs.\n"
        "\n"
        "Upstream provenance:\n" + upstream + "\n"
    ).encode("utf-8")
    return out


# --------------------------------------------------------------------- communes
COMMUNES_DIR = "bocage/simulator/data"
#: zones shipped: metropolitan France and the overseas departments (the overseas
#: collectivities, zone "com", have no department of their own and are left out)
COMMUNE_ZONES = ("metro", "drom")


def _tsv_field(value: object) -> str:
    text = str(value)
    if any(c in text for c in "\t\n\r"):
        raise SystemExit(f"commune data: a field holds a tab or newline: {text!r}")
    return text


def communes(shared: Path) -> dict[str, bytes]:
    """Current communes (INSEE, name, department, population, EPCI) and EPCI, compact.

    ``communes.tsv.gz``: ``insee name departement population epci`` (the EPCI SIREN,
    empty for the few communes in none); ``epci.tsv``: ``siren name kind``. The gzip
    stream is written with a fixed mtime so the bytes are reproducible.
    """
    src = shared / "communes"
    all_communes = json.loads(_read(src / "communes.json"))
    all_epci = json.loads(_read(src / "epci.json"))
    member_of: dict[str, str] = {}
    epci_lines = ["siren\tname\tkind"]
    for e in sorted(all_epci, key=lambda e: e["code"]):
        epci_lines.append("\t".join(_tsv_field(v) for v in (e["code"], e["nom"], e["type"])))
        for m in e["membres"]:
            member_of[m["code"]] = e["code"]
    lines = ["insee\tname\tdepartement\tpopulation\tepci"]
    for c in sorted(all_communes, key=lambda c: c["code"]):
        if c.get("type") != "commune-actuelle" or c.get("zone") not in COMMUNE_ZONES:
            continue
        lines.append("\t".join(_tsv_field(v) for v in (
            c["code"], c["nom"], c["departement"], int(c.get("population") or 0),
            member_of.get(c["code"], ""))))
    table = ("\n".join(lines) + "\n").encode("utf-8")
    license_text = _read(src / "LICENSE").decode("utf-8").strip()
    upstream = _read(src / "SOURCE.txt").decode("utf-8").strip()
    return {
        f"{COMMUNES_DIR}/communes.tsv.gz": gzip.compress(table, compresslevel=9, mtime=0),
        f"{COMMUNES_DIR}/epci.tsv": ("\n".join(epci_lines) + "\n").encode("utf-8"),
        f"{COMMUNES_DIR}/SOURCE.txt": (
            "Bundled by scripts/bundle_data.py from ../shared/data/communes/ - do not edit "
            "by hand.\n\n"
            "Current communes of metropolitan France and the overseas departments (INSEE\n"
            "code, name, department, population, EPCI SIREN) and the EPCI (SIREN, name,\n"
            "kind), reduced to those columns. No geometry: the simulator places communes\n"
            "itself (simulated positions).\n\n"
            "Upstream provenance:\n" + upstream + "\n\n"
            "Upstream licence:\n" + license_text + "\n"
        ).encode("utf-8"),
    }


# --------------------------------------------------------------------- IRVE schemas
IRVE_DIR = "bocage/irve/schemas"
IRVE_SCHEMAS = (("schema-irve-statique", "schema-statique.json"),
                ("schema-irve-dynamique", "schema-dynamique.json"))


def irve_schemas(shared: Path) -> dict[str, bytes]:
    """The Etalab IRVE table schemas (static, dynamic), byte for byte, with attribution."""
    src_dir = shared / "schemas-fr"
    out: dict[str, bytes] = {}
    versions = []
    for folder, name in IRVE_SCHEMAS:
        raw = _read(src_dir / folder / name)
        try:
            doc = json.loads(raw)
        except ValueError as exc:
            raise SystemExit(f"{src_dir / folder / name}: not JSON: {exc}") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("fields"), list):
            raise SystemExit(f"{src_dir / folder / name}: not a table schema")
        versions.append(f"{doc.get('name')} {doc.get('version')} ({doc.get('path')})")
        out[f"{IRVE_DIR}/{name}"] = raw
    upstream = _read(src_dir / "SOURCE.txt").decode("utf-8").strip()
    out[f"{IRVE_DIR}/SOURCE.txt"] = (
        "Bundled by scripts/bundle_data.py from ../shared/data/schemas-fr/ - do not edit by "
        "hand.\n"
        "\n"
        "Table schemas of the French IRVE open-data files (EV charging infrastructure), by\n"
        "Etalab / transport.data.gouv.fr, https://github.com/etalab/schema-irve, under the\n"
        "Licence Ouverte / Open Licence 2.0 (Etalab). Redistributed unmodified; bocage reads\n"
        "them to check imported files (bocage/irve/tableschema.py).\n"
        "\n" + "".join(f"- {v}\n" for v in versions) +
        "\nUpstream provenance:\n" + upstream + "\n"
    ).encode("utf-8")
    return out


#: the bundling steps, run in order; extend this list for new data
STEPS: list[Step] = [
    Step("ngsi-ld core contexts", ngsi_ld_core_contexts),
    Step("communes", communes),
    Step("IRVE table schemas", irve_schemas),
]


# --------------------------------------------------------------------- driver
def run(shared: Path, root: Path, check: bool, out: Callable[[str], None] = print) -> int:
    status = OK
    for step in STEPS:
        try:
            files = step.build(shared)
        except MissingSource as exc:
            out(f"[{step.name}] source missing: {exc}")
            return NO_SOURCE
        for rel, content in sorted(files.items()):
            target = root / rel
            current = target.read_bytes() if target.is_file() else None
            if current == content:
                continue
            if check:
                out(f"[{step.name}] {'stale' if current is not None else 'missing'}: {rel}")
                status = STALE
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(content)
                out(f"[{step.name}] wrote {rel}")
    if status == OK:
        out("bundled data up to date" if check else "bundling done")
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if bundled copies differ from the sources"
    )
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="shared data dir")
    parser.add_argument("--root", type=Path, default=ROOT, help="repository root to write into")
    args = parser.parse_args(argv)
    return run(args.shared, args.root, args.check)


if __name__ == "__main__":
    sys.exit(main())
