"""Server time of the history dashboards (questions 11, 12, 13, 15) on a running bocage.

    bocage demo --history 1d &      # the demo territory with some history, then:
    python benchmarks/dashboards.py --base http://127.0.0.1:8000 [--key KEY] [--samples 30]

Waits until the demo's inbox has drained (``bocage_ingest_backlog`` below 500), then for
each dashboard: the first view (which reads the year's history of every meter the
visitor sees), then ``--samples`` sequential views for the territory and for one EPCI
(p95 and median of the time to the full response, on loopback), and the same for the
existing Q8 dashboard as a reference. Prints JSON; nothing is written.
Target from the UI issue: any page's server time p95 ≤ 100 ms with the demo territory.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time

import httpx
from run import p95

SLUGS = ("gymnases", "photovoltaique", "reseaux-chaleur", "consommations")
#: an existing dashboard over the equipment summaries only, measured alike for reference
REFERENCE = "reseaux"


def timed(client: httpx.Client, url: str) -> float:
    start = time.perf_counter()
    client.get(url).raise_for_status()
    return (time.perf_counter() - start) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True)
    parser.add_argument("--key", default="", help="an API key (when authentication is on)")
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--epci", default="240100883")
    args = parser.parse_args()
    headers = {"Authorization": f"Bearer {args.key}"} if args.key else {}
    out: dict[str, float] = {}
    with httpx.Client(base_url=args.base, timeout=300, headers=headers) as client:
        while True:
            found = re.search(r"^bocage_ingest_backlog\S* (\S+)$",
                              client.get("/metrics").text, re.M)
            if found is None or float(found.group(1)) < 500:
                break
            time.sleep(2)
        for slug in (*SLUGS, REFERENCE):
            out[f"first_view_ms_{slug}"] = round(timed(client, f"/ui/tableaux/{slug}"))
            for name, query in (("territory", ""), ("epci", f"?epci={args.epci}")):
                samples = [timed(client, f"/ui/tableaux/{slug}{query}")
                           for _ in range(args.samples)]
                out[f"p95_ms_{slug}_{name}"] = round(p95(samples), 1)
                out[f"median_ms_{slug}_{name}"] = round(statistics.median(samples), 1)
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
