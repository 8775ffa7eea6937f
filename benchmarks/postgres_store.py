"""Store-level benchmark, SQLite and PostgreSQL side by side, in this process.

    python benchmarks/postgres_store.py [--entities 100000] [--quick]

Drives the Store seam directly (no HTTP), so the two backends are compared on
storage alone: bulk creation through ``apply`` in batches of 1,000, partial
updates (one mutation per ``apply``, 16 threads, as concurrent PATCHes would
be), queries by type + q and near a point at ``--entities`` entities (p95 of
one query at a time), and retrieval by id. The entities are those of
``benchmarks/run.py`` (waste containers), in their stored, expanded form.

PostgreSQL runs on a throwaway database created on the server named by
``BOCAGE_BENCH_POSTGRES_URL`` (default: the local server, trust auth) and
dropped at the end; bocage connects to it as an ordinary role, as in
production, so row-level security is paid for. Prints a table and writes
``benchmarks/results/store-backends.json``.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from throwaway_pg import ADMIN_URL, postgres_database

from bocage.domain.entity import Entity
from bocage.domain.errors import AlreadyExists, ResourceNotFound
from bocage.domain.query import And, AttrPath, Comparison, EntityQuery, GeoQuery
from bocage.storage.base import Mutation, Store
from bocage.storage.postgres import PostgresStore
from bocage.storage.sqlite import SQLiteStore

HERE = Path(__file__).parent
SDM = "https://smartdatamodels.org/dataModel.WasteManagement/"
WASTE = SDM + "WasteContainer"
FILLING, TEMPERATURE, STATUS = SDM + "fillingLevel", SDM + "temperature", SDM + "status"
LOCATION = "https://uri.etsi.org/ngsi-ld/location"
NOW = "2026-11-25T10:00:00.000Z"
TARGETS = {  # the issue's: p95 <= 50 ms for both queries at 100,000 entities
    "bulk_create_entities_per_s": None,
    "partial_update_per_s": None,
    "query_type_q_p95_ms": 50.0,
    "query_type_q_selective_p95_ms": 50.0,
    "query_geo_near_p95_ms": 50.0,
    "retrieve_p95_ms": None,
}


def entity(n: int) -> Entity:
    rnd = random.Random(n)
    return {
        "id": f"urn:ngsi-ld:WasteContainer:bench-{n}",
        "type": [WASTE],
        "createdAt": NOW,
        "modifiedAt": NOW,
        FILLING: [
            {
                "type": "Property",
                "value": rnd.randint(0, 100),
                "unitCode": "P1",
                "observedAt": "2026-11-25T10:00:00.000Z",
            }
        ],
        SDM + "binFullnessThreshold": [{"type": "Property", "value": rnd.randint(0, 100)}],
        TEMPERATURE: [
            {"type": "Property", "value": round(rnd.uniform(-5, 35), 1), "unitCode": "CEL"}
        ],
        STATUS: [{"type": "Property", "value": rnd.choice(["ok", "full", "damaged"])}],
        LOCATION: [
            {
                "type": "GeoProperty",
                "value": {
                    "type": "Point",
                    "coordinates": [
                        round(rnd.uniform(4.8, 6.1), 5),
                        round(rnd.uniform(45.6, 46.5), 5),
                    ],
                },
            }
        ],
    }


def create(e: Entity) -> Mutation:
    def fn(current: Entity | None) -> Entity:
        if current is not None:
            raise AlreadyExists(e["id"])
        return e

    return Mutation(e["id"], fn)


def set_filling(eid: str, value: int) -> Mutation:
    def fn(current: Entity | None) -> Entity:
        if current is None:
            raise ResourceNotFound(eid)
        updated = copy.copy(current)
        updated[FILLING] = [{**current[FILLING][0], "value": value, "modifiedAt": NOW}]
        updated["modifiedAt"] = NOW
        return updated

    return Mutation(eid, fn)


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100)[94] if len(samples) >= 20 else max(samples)


def latencies_ms(store: Store, queries: list[EntityQuery]) -> list[float]:
    out = []
    for query in queries:
        started = time.perf_counter()
        store.query("", query)
        out.append((time.perf_counter() - started) * 1000)
    return out


def in_threads(n_threads: int, work: list[Callable[[], object]]) -> float:
    """Run ``work`` on n threads; operations per second."""
    chunks = [work[i::n_threads] for i in range(n_threads)]
    started = time.perf_counter()
    threads = [threading.Thread(target=lambda c=c: [w() for w in c]) for c in chunks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(work) / (time.perf_counter() - started)


def bench(store: Store, n_entities: int, quick: bool, vacuum: str = "") -> dict[str, float]:
    results: dict[str, float] = {}
    started = time.perf_counter()
    for first in range(0, n_entities, 1000):
        batch = [create(entity(i)) for i in range(first, min(first + 1000, n_entities))]
        store.apply("", batch)
    results["bulk_create_entities_per_s"] = n_entities / (time.perf_counter() - started)

    rnd = random.Random(7)
    n_updates = 500 if quick else 3000
    updates = [
        set_filling(f"urn:ngsi-ld:WasteContainer:bench-{rnd.randrange(n_entities)}", i % 101)
        for i in range(n_updates)
    ]
    results["partial_update_per_s"] = in_threads(
        16, [lambda m=m: store.apply("", [m]) for m in updates]
    )

    if vacuum:
        # What autovacuum does after a bulk load (visibility map for index-only
        # scans, planner statistics), done now so that the figures do not
        # depend on when it happens to run.
        with psycopg.connect(vacuum, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
    samples = 100 if quick else 300
    types = ((WASTE,),)
    latencies_ms(store, [EntityQuery(types=types, q=Comparison(AttrPath(FILLING), ">", 50))] * 5)
    broad = [
        EntityQuery(types=types, q=Comparison(AttrPath(FILLING), ">", rnd.randint(20, 80)))
        for _ in range(samples)
    ]
    results["query_type_q_p95_ms"] = p95(latencies_ms(store, broad))
    selective = [
        EntityQuery(
            types=types,
            q=And(
                (
                    Comparison(AttrPath(TEMPERATURE), ">", 34.5),
                    Comparison(AttrPath(STATUS), "==", rnd.choice(["ok", "full"])),
                )
            ),
        )
        for _ in range(samples)
    ]
    results["query_type_q_selective_p95_ms"] = p95(latencies_ms(store, selective))
    near = [
        EntityQuery(
            types=types,
            geo=GeoQuery(
                "near",
                {
                    "type": "Point",
                    "coordinates": [
                        round(rnd.uniform(4.9, 6.0), 4),
                        round(rnd.uniform(45.7, 46.4), 4),
                    ],
                },
                LOCATION,
                max_distance=2000.0,
            ),
        )
        for _ in range(samples)
    ]
    results["query_geo_near_p95_ms"] = p95(latencies_ms(store, near))
    retrieve = []
    for _ in range(samples * 3):
        eid = f"urn:ngsi-ld:WasteContainer:bench-{rnd.randrange(n_entities)}"
        begun = time.perf_counter()
        store.get("", eid)
        retrieve.append((time.perf_counter() - begun) * 1000)
    results["retrieve_p95_ms"] = p95(retrieve)
    return results


def machine() -> dict[str, Any]:
    with psycopg.connect(ADMIN_URL) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "postgresql": row[0] if row else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entities", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="fewer samples (a smoke run)")
    args = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = SQLiteStore(Path(tmp) / "bench.db")
        try:
            print(f"sqlite: {args.entities} entities...", file=sys.stderr)
            results["sqlite"] = bench(sqlite, args.entities, args.quick)
        finally:
            sqlite.close()
    with postgres_database() as url:
        postgres = PostgresStore(url)
        try:
            print(f"postgresql: {args.entities} entities...", file=sys.stderr)
            results["postgresql"] = bench(postgres, args.entities, args.quick, url)
        finally:
            postgres.close()
    print(f"\n{'metric':32} {'sqlite':>10} {'postgresql':>11} {'target':>8}")
    for metric, target in TARGETS.items():
        shown = "" if target is None else f"<= {target:g}"
        print(
            f"{metric:32} {results['sqlite'][metric]:>10.1f}"
            f" {results['postgresql'][metric]:>11.1f} {shown:>8}"
        )
    out = HERE / "results" / "store-backends.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(
        json.dumps(
            {"entities": args.entities, "quick": args.quick, "machine": machine(), **results},
            indent=2,
        )
        + "\n"
    )
    print(f"\nwritten {out}")
    failed = [
        (backend, metric)
        for backend, values in results.items()
        for metric, target in TARGETS.items()
        if target is not None and values[metric] > target
    ]
    for backend, metric in failed:
        print(f"over target: {backend} {metric}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
