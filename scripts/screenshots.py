#!/usr/bin/env python3
"""Screenshots of every web UI page, at desktop and phone sizes, into docs/screenshots/.

    make screenshots      # or: .venv/bin/python scripts/screenshots.py

Starts `bocage demo` (the simulated territory) on a free loopback port with a
throwaway data folder, waits for data, then visits each page in Debian's
Chromium (headless, Playwright) and writes ``<page>-desktop.png`` and
``<page>-phone.png``. A reader of the repository sees the UI without running it.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import httpx

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
CHROMIUM = os.environ.get("BOCAGE_TEST_CHROMIUM", "/usr/bin/chromium")
SIZES = {"desktop": (1280, 800), "phone": (390, 844)}
#: pages longer than this (px) are shot down to it: enough to show them, not megabytes
MAX_HEIGHT = 2400


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def admin_headers(data: str) -> dict[str, str]:
    """The platform administrator's key the demo wrote in demo-keys.env (pages show what
    their visitor may see)."""
    for line in (Path(data) / "demo-keys.env").read_text().splitlines():
        name, _, key = line.removeprefix("export ").partition("=")
        if name == "BOCAGE_ADMIN_KEY":
            return {"Authorization": f"Bearer {key}"}
    raise SystemExit("the demo wrote no admin key")


def pages(base: str, headers: dict[str, str]) -> dict[str, str]:
    """Page name -> path, picking real equipment, commune and EPCI from the demo's data."""
    rows = httpx.get(f"{base}/ui/carte/equipements.json", timeout=60,
                     headers=headers).json()["markers"]
    if not rows:
        raise SystemExit("the demo has no equipment to show")
    alarm = next((r for r in rows if r[4] == "alarm"), rows[0])
    found = {
        "overview": "/ui/",
        "map": "/ui/carte",
        "equipment": f"/ui/equipements/{quote(alarm[0], safe='')}",
        "quality": "/ui/qualite",
        "sobriety": "/ui/sobriete",
        "alarms": "/ui/alarmes",
        "interventions": "/ui/interventions",
        "dashboards": "/ui/tableaux",
        "lighting": "/ui/eclairage-urgence",
        "access": "/ui/acces",
        "login": "/ui/connexion",
    }
    from bocage.web.dashboards import DASHBOARDS
    from bocage.web.energy_dashboards import HISTORY_BOARDS

    for board in (*DASHBOARDS, *HISTORY_BOARDS):
        found[f"q{board.question:02d}-{board.slug}"] = f"/ui/tableaux/{board.slug}"
    if alarm[6]:
        found["epci"] = f"/ui/epci/{alarm[6]}"
    if alarm[7]:
        found["commune"] = f"/ui/communes/{alarm[7]}"
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wait", type=float, default=20.0,
                        help="seconds to let the demo produce data before shooting")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        env = {**os.environ, "BOCAGE_DATABASE_URL": f"sqlite:///{tmp}/bocage.db",
               "BOCAGE_LOG_LEVEL": "WARNING"}
        # a day of history, so that the dashboards over history have figures
        proc = subprocess.Popen([sys.executable, "-m", "bocage.cli", "demo", "--host",
                                 "127.0.0.1", "--port", str(port), "--history", "1d"],
                                env=env, cwd=tmp)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 600  # the backfill runs before it answers
            while time.monotonic() < deadline:
                try:
                    if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.2)
            time.sleep(args.wait)
            headers = admin_headers(tmp)
            targets = pages(base, headers)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                            args=["--no-sandbox", "--disable-dev-shm-usage"])
                for size, (width, height) in SIZES.items():
                    page = browser.new_page(viewport={"width": width, "height": height},
                                            extra_http_headers=headers)
                    for name, path in targets.items():
                        page.goto(base + path)
                        page.wait_for_load_state("networkidle")
                        if name == "map":
                            page.wait_for_selector("#map[data-ready=true]", timeout=60_000)
                        if name == "equipment" and page.locator("#chart").count():
                            page.wait_for_selector("#chart[data-points]", timeout=20_000)
                        shot = OUT / f"{name}-{size}.png"
                        # the whole page, cut at MAX_HEIGHT (long queues and tables)
                        tall = int(page.evaluate("document.documentElement.scrollHeight"))
                        clip = {"x": 0, "y": 0, "width": width,
                                "height": min(tall, MAX_HEIGHT)}
                        page.screenshot(path=str(shot), full_page=(name != "map"),
                                        clip=None if name == "map" else clip,
                                        timeout=180_000)
                        print(f"wrote {shot.relative_to(ROOT)}")
                    page.close()
                browser.close()
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
