#!/usr/bin/env python3
"""Vendor the web UI's front-end libraries from the npm registry, at pinned versions.

    python scripts/vendor_web.py          # refresh bocage/web/static/vendor/
    python scripts/vendor_web.py --check  # exit 1 when the vendored files differ

Each package is fetched with `npm pack NAME@VERSION` into a temporary folder and
only the files the UI serves (plus the licence) are copied. The result is
committed: bocage serves them itself and never calls a CDN at run time.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENDOR = ROOT / "bocage" / "web" / "static" / "vendor"

#: package -> (version, {file in the package: name under vendor/<folder>/})
PINS: dict[str, tuple[str, str, dict[str, str]]] = {
    "leaflet": ("1.9.4", "leaflet", {
        "dist/leaflet.js": "leaflet.js",
        "dist/leaflet.css": "leaflet.css",
        "dist/images/marker-icon.png": "images/marker-icon.png",
        "dist/images/marker-icon-2x.png": "images/marker-icon-2x.png",
        "dist/images/marker-shadow.png": "images/marker-shadow.png",
        "dist/images/layers.png": "images/layers.png",
        "dist/images/layers-2x.png": "images/layers-2x.png",
        "LICENSE": "LICENSE",
    }),
    "leaflet.markercluster": ("1.5.3", "markercluster", {
        "dist/leaflet.markercluster.js": "leaflet.markercluster.js",
        "dist/MarkerCluster.css": "MarkerCluster.css",
        "dist/MarkerCluster.Default.css": "MarkerCluster.Default.css",
        "MIT-LICENCE.txt": "LICENSE",
    }),
    "htmx.org": ("2.0.11", "htmx", {
        "dist/htmx.min.js": "htmx.min.js",
        "LICENSE": "LICENSE",
    }),
    # the interactive API documentation at /docs (bocage/api/apidocs.py)
    "swagger-ui-dist": ("5.35.0", "swagger-ui", {
        "swagger-ui-bundle.js": "swagger-ui-bundle.js",
        "swagger-ui.css": "swagger-ui.css",
        "LICENSE": "LICENSE",
        "NOTICE": "NOTICE",
    }),
    "uplot": ("1.6.32", "uplot", {
        "dist/uPlot.iife.min.js": "uPlot.iife.min.js",
        "dist/uPlot.min.css": "uPlot.min.css",
        "LICENSE": "LICENSE",
    }),
}


def fetch(name: str, version: str, tmp: Path) -> tarfile.TarFile:
    out = subprocess.run(["npm", "pack", "--silent", f"{name}@{version}"], cwd=tmp,
                         check=True, capture_output=True, text=True).stdout.strip().splitlines()
    return tarfile.open(tmp / out[-1])


def wanted() -> dict[Path, bytes]:
    files: dict[Path, bytes] = {}
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, (version, folder, picks) in PINS.items():
            lines.append(f"{name}@{version} -> vendor/{folder}/")
            with fetch(name, version, Path(tmp)) as tar:
                for src, dst in picks.items():
                    member = tar.extractfile(f"package/{src}")
                    if member is None:
                        raise SystemExit(f"{name}@{version} has no {src}")
                    files[VENDOR / folder / dst] = member.read()
    files[VENDOR / "VERSIONS.txt"] = (
        "Vendored from the npm registry by scripts/vendor_web.py - do not edit by hand.\n"
        + "\n".join(lines) + "\n").encode()
    return files


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    files = wanted()
    stale = [p for p, data in files.items() if not p.exists() or p.read_bytes() != data]
    if args.check:
        for p in stale:
            print(f"out of date: {p.relative_to(ROOT)}")
        return 1 if stale else 0
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(files[path])
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
