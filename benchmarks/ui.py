"""Web UI benchmarks: the map with 10,000 markers in headless Chromium, and page server times.

    python benchmarks/ui.py [--markers 10000] [--samples 30]

Starts a real `bocage serve` on a throwaway SQLite database, loads ``--markers``
equipment entities spread over communes (one in twenty in alarm), then:

- opens ``/ui/carte`` in Debian's Chromium (headless, Playwright) and measures the
  time from navigation to the map being interactive (markers clustered and drawn,
  filters live: the page sets ``data-ready``), median and worst of 3 loads;
- requests every page ``--samples`` times and reports the server time p95 (the
  time to the full response, one request at a time, on loopback).

Writes benchmarks/results/ui.json; targets from the UI issue: map interactive
≤ 2 s with 10,000 markers, any page's server time p95 ≤ 100 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from run import bocage_server, machine, p95

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bocage.web.dashboards import DASHBOARDS
from bocage.web.energy_dashboards import HISTORY_BOARDS

HERE = Path(__file__).parent
CHROMIUM = os.environ.get("BOCAGE_TEST_CHROMIUM", "/usr/bin/chromium")
COMMUNES = [f"01{n:03d}" for n in range(1, 120)]
KINDS = ["Streetlight", "WasteContainer", "ParkingSpot", "WaterConsumptionObserved",
         "AirQualityObserved", "EVChargingStation"]


def entity(n: int) -> dict[str, Any]:
    commune = COMMUNES[n % len(COMMUNES)]
    kind = KINDS[(n // len(COMMUNES)) % len(KINDS)]
    lon = 4.75 + (n % len(COMMUNES)) / len(COMMUNES) * 1.4 + (n % 97) / 9700
    lat = 45.6 + ((n * 7) % len(COMMUNES)) / len(COMMUNES) * 0.8 + (n % 89) / 8900
    return {
        "id": f"urn:ngsi-ld:{kind}:{commune}-{n}", "type": kind,
        "scope": f"/FR/01/2401{n % 7:05d}/{commune}",
        "location": {"type": "GeoProperty",
                     "value": {"type": "Point", "coordinates": [round(lon, 5), round(lat, 5)]}},
        "name": {"type": "Property", "value": f"{kind} {n}"},
        "status": {"type": "Property", "value": "faulty" if n % 20 == 0 else "ok"},
        "dateObserved": {"type": "Property", "value": "2099-01-01T00:00:00Z",
                         "observedAt": "2099-01-01T00:00:00Z"},
    }


def map_interactive_s(base: str, headers: dict[str, str]) -> list[float]:
    from playwright.sync_api import sync_playwright

    out = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-dev-shm-usage"])
        for _ in range(3):
            page = browser.new_page(viewport={"width": 1280, "height": 800},
                                    extra_http_headers=headers)
            start = time.perf_counter()
            page.goto(f"{base}/ui/carte")
            page.wait_for_selector("#map[data-ready=true]", timeout=60_000)
            out.append(time.perf_counter() - start)
            page.close()
        browser.close()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--markers", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "BOCAGE_DATABASE_URL": f"sqlite:///{tmp}/ui.db",
               "BOCAGE_LOG_LEVEL": "WARNING"}
        # pages show what their visitor may see: the platform administrator sees everything
        with bocage_server(env) as (base, _, key):
            headers = {"Authorization": f"Bearer {key}"}
            with httpx.Client(timeout=120, headers=headers) as client:
                for first in range(0, args.markers, 1000):
                    body = [entity(n) for n in range(first, min(first + 1000, args.markers))]
                    r = client.post(f"{base}/ngsi-ld/v1/entityOperations/upsert", json=body)
                    r.raise_for_status()
                pages = {
                    "overview": "/ui/", "map": "/ui/carte",
                    "map_data": "/ui/carte/equipements.json",
                    "epci": "/ui/epci/240100001", "commune": f"/ui/communes/{COMMUNES[3]}",
                    "equipment": f"/ui/equipements/urn:ngsi-ld:Streetlight:{COMMUNES[5]}-5",
                    "quality": "/ui/qualite",
                    "alarms": "/ui/alarmes", "interventions": "/ui/interventions",
                    "sobriety": "/ui/sobriete", "access": "/ui/acces",
                    "login": "/ui/connexion", "lighting": "/ui/eclairage-urgence",
                    "dashboards": "/ui/tableaux",
                    **{f"q{b.question:02d}": f"/ui/tableaux/{b.slug}"
                       for b in (*DASHBOARDS, *HISTORY_BOARDS)},
                }
                server: dict[str, float] = {}
                for name, path in pages.items():
                    client.get(base + path).raise_for_status()  # warm-up
                    samples = []
                    for _ in range(args.samples):
                        start = time.perf_counter()
                        client.get(base + path).raise_for_status()
                        samples.append((time.perf_counter() - start) * 1000)
                    server[name] = p95(samples)
            loads = map_interactive_s(base, headers)
    results = {"markers": args.markers, "map_interactive_median_s": statistics.median(loads),
               "map_interactive_worst_s": max(loads),
               **{f"server_p95_ms_{k}": v for k, v in server.items()}}
    out = HERE / "results" / "ui.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"benchmark": "ui", "machine": machine(),
                               "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                               "results": results}, indent=2) + "\n")
    for key, value in results.items():
        target = (" (target ≤ 2 s)" if key.startswith("map_interactive") else
                  " (target ≤ 100 ms)" if key.startswith("server") else "")
        print(f"{key:34} {value:10.2f}{target}")
    print(f"written {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
