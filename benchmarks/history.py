"""History benchmarks at store level, SQLite and PostgreSQL in one run.

    python benchmarks/history.py [--quick] [--sensors 1000] [--days 30]
                                 [--backends sqlite,postgres] [--only write,size,query]

* write: entity writes with history recording on vs off (bulk create in batches of
  500; single-attribute updates submitted 32 at a time, as concurrent clients would);
* size: S sensors x D days of readings written through the store (a third CO2 every
  10 minutes, a third energy meter indexes every 15 minutes, a third boolean states
  every 10 minutes), database size before and after compaction, bytes per reading;
* territory: an EPCI of 1,000 PV meters over 20 communes, a year of readings compacted,
  aggregated monthly for the EPCI from the territory rollups (/api/aggregates' read);
* query: one attribute over a year of 15-minute readings (compacted): raw retrieval of
  one month and of the year as the API does it (read, rendered, serialised to JSON; the
  month also with the cache of decoded chunks emptied before each read), aggregated P1D
  and P1M over the year (read and aggregated, not rendered), p95 over repeated reads
  (HTTP left out).

Writes benchmarks/results/history.json and compares with the committed baseline
benchmarks/baseline/history.json. PostgreSQL runs on a throwaway database of the server
named by BOCAGE_BENCH_POSTGRES_URL (default the local one), skipped when absent.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

from bocage.domain.entity import Entity  # noqa: E402
from bocage.domain.temporal import HistoryRange  # noqa: E402
from bocage.domain.timefmt import from_ms, to_ms  # noqa: E402
from bocage.history.aggregate import aggregate_series, period_bounds  # noqa: E402
from bocage.history.duration import parse_duration  # noqa: E402
from bocage.ngsild import mutations as mut  # noqa: E402
from bocage.storage.base import Mutation, Store  # noqa: E402
from bocage.storage.history_base import HistoryStore  # noqa: E402

NS = "https://smartdatamodels.org/dataModel.Environment/"
MINUTE = 60_000
DAY = 86_400_000
START = to_ms("2026-01-01T00:00:00Z")
ADMIN_URL = os.environ.get("BOCAGE_BENCH_POSTGRES_URL",
                           "postgresql://postgres@127.0.0.1:5432/postgres")


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100)[94] if len(samples) >= 20 else max(samples)


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "date": time.strftime("%Y-%m-%d")}


# ------------------------------------------------------------------ backends


@contextmanager
def sqlite_store(history: bool = True) -> Iterator[Store]:
    from bocage.storage.sqlite import SQLiteStore

    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(Path(tmp) / "bench.db", history=history)
        try:
            yield store
        finally:
            store.close()


@contextmanager
def postgres_store(history: bool = True) -> Iterator[Store]:
    import psycopg
    from psycopg import sql

    from bocage.storage.postgres import PostgresStore

    name = f"bocage_bench_{secrets.token_hex(4)}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION postgis")
        store = PostgresStore(url, history=history)
        try:
            yield store
        finally:
            store.close()
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))


def postgres_available() -> str | None:
    try:
        import psycopg

        with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=3):
            return None
    except Exception as exc:
        return str(exc).strip()


def history_bytes(store: Store) -> dict[str, float]:
    """On-disk bytes of the history tables (pages, indexes included)."""
    from bocage.storage.sqlite import SQLiteStore

    if isinstance(store, SQLiteStore):
        import sqlite3

        conn = sqlite3.connect(store.path)
        try:
            sizes = dict(conn.execute(
                "SELECT name, sum(pgsize) FROM dbstat WHERE name LIKE 'hist_%'"
                " OR name LIKE 'sqlite_autoindex_hist_%' GROUP BY name").fetchall())
        finally:
            conn.close()
        tail = sizes.get("hist_tail", 0) + sizes.get("hist_tail_series", 0)
        # the table and its indexes, as pg_total_relation_size counts them on PostgreSQL
        chunks = sum(v for k, v in sizes.items() if k.startswith(("hist_chunks",
                                                                   "sqlite_autoindex_hist_chunks")))
        return {"tail": float(tail), "chunks": float(chunks)}
    conn_url = store._conninfo  # type: ignore[attr-defined]
    import psycopg

    with psycopg.connect(conn_url, autocommit=True) as conn:
        conn.execute("VACUUM hist_tail")
        conn.execute("VACUUM hist_chunks")
        row = conn.execute("SELECT pg_total_relation_size('hist_tail'),"
                           " pg_total_relation_size('hist_chunks')").fetchone()
    assert row is not None
    return {"tail": float(row[0]), "chunks": float(row[1])}


# --------------------------------------------------------------------- loads


def bench_entity(n: int) -> Entity:
    rnd = random.Random(n)
    t = from_ms(START)
    return {
        "id": f"urn:ngsi-ld:AirQualityObserved:bench-{n}",
        "type": [NS + "AirQualityObserved"],
        NS + "co2": [{"type": "Property", "value": rnd.randint(400, 1200), "unitCode": "59",
                      "observedAt": t}],
        NS + "temperature": [{"type": "Property", "value": round(rnd.uniform(15, 25), 1),
                              "unitCode": "CEL", "observedAt": t}],
        NS + "status": [{"type": "Property", "value": "ok"}],
        "https://uri.etsi.org/ngsi-ld/location": [{"type": "GeoProperty", "value": {
            "type": "Point", "coordinates": [round(rnd.uniform(4.8, 6.1), 5),
                                             round(rnd.uniform(45.6, 46.5), 5)]}}],
    }


def update(n: int, step: int) -> Mutation:
    t = from_ms(START + step * 10 * MINUTE)
    patch: Entity = {"id": f"urn:ngsi-ld:AirQualityObserved:bench-{n}",
                     NS + "co2": [{"type": "Property", "value": 400 + (n + step) % 800,
                                   "unitCode": "59", "observedAt": t}]}
    return Mutation(patch["id"], mut.merge(patch, t))


def _write_round(store: Store, entities: int) -> tuple[float, float]:
    """(bulk creates/s, updates/s) on a fresh store."""
    now = from_ms(START)
    started = time.perf_counter()
    for first in range(0, entities, 500):
        batch = [bench_entity(n) for n in range(first, min(entities, first + 500))]
        store.apply("", [Mutation(e["id"], mut.create(e, now)) for e in batch])
    creates = entities / (time.perf_counter() - started)
    rnd = random.Random(1)
    started = time.perf_counter()
    pending: list[Future[Any]] = []
    for step in range(entities):
        pending.append(store.submit("", [update(rnd.randrange(entities), step + 1)]))
        if len(pending) >= 32:
            pending.pop(0).result()
    for f in pending:
        f.result()
    return creates, entities / (time.perf_counter() - started)


def measure_writes(open_store: Callable[[bool], Any], entities: int) -> dict[str, float]:
    """Best of three alternating rounds per setting: the machine is shared, and the
    best round is the one least disturbed."""
    best: dict[bool, list[float]] = {False: [0.0, 0.0], True: [0.0, 0.0]}
    for _ in range(3):
        for history in (False, True):
            with open_store(history) as store:
                creates, updates = _write_round(store, entities)
            best[history] = [max(best[history][0], creates), max(best[history][1], updates)]
    out: dict[str, float] = {}
    for history, (creates, updates) in best.items():
        label = "on" if history else "off"
        out[f"bulk_create_per_s_history_{label}"] = creates
        out[f"update_per_s_history_{label}"] = updates
    for metric in ("bulk_create_per_s", "update_per_s"):
        out[f"{metric}_ratio"] = out[f"{metric}_history_on"] / out[f"{metric}_history_off"]
    return out


def readings(sensors: int, days: int) -> Iterator[list[Mutation]]:
    """One batch per 5-minute tick: every sensor due at that tick reports."""
    rnd = random.Random(7)
    co2 = [rnd.randint(400, 900) for _ in range(sensors)]
    index = [round(rnd.uniform(0, 50_000), 1) for _ in range(sensors)]
    state = [rnd.random() < 0.5 for _ in range(sensors)]
    for tick in range(days * 288):
        t_ms = START + tick * 5 * MINUTE
        batch = []
        for s in range(sensors):
            kind = s % 3
            if kind == 1 and tick % 3 == 0:  # energy meter, every 15 minutes
                index[s] = round(index[s] + rnd.choice((0.0, 0.1, 0.2, 0.3, 1.2)), 1)
                name, value, unit = "energyIndex", index[s], "KWH"
            elif kind != 1 and tick % 2 == 0:  # every 10 minutes
                if kind == 0:
                    co2[s] = max(350, co2[s] + rnd.randint(-15, 15))
                    name, value, unit = "co2", co2[s], "59"
                else:
                    if rnd.random() < 0.02:
                        state[s] = not state[s]
                    name, value, unit = "occupied", state[s], ""
            else:
                continue
            # the observation arrives a few seconds after it was made
            observed = t_ms + rnd.randint(0, 5) * 1000 if kind == 0 else t_ms
            inst: dict[str, Any] = {"type": "Property", "value": value,
                                    "observedAt": from_ms(observed)}
            if unit:
                inst["unitCode"] = unit
            eid = f"urn:ngsi-ld:Sensor:{s}"
            patch: Entity = {"id": eid, NS + name: [inst]}
            batch.append(Mutation(eid, mut.merge(patch, from_ms(t_ms + 7000))))
        if batch:
            yield batch


def measure_size(open_store: Callable[[bool], Any], sensors: int, days: int) -> dict[str, float]:
    with open_store(True) as store:
        hist: HistoryStore = store
        now = from_ms(START)
        store.apply("", [Mutation(f"urn:ngsi-ld:Sensor:{s}", mut.create(
            {"id": f"urn:ngsi-ld:Sensor:{s}", "type": [NS + "Sensor"]}, now))
            for s in range(sensors)])
        written = 0
        started = time.perf_counter()
        pending: list[Future[Any]] = []
        for batch in readings(sensors, days):
            pending.append(store.submit("", batch))
            written += len(batch)
            if len(pending) >= 8:
                pending.pop(0).result()
        for f in pending:
            f.result()
        write_s = time.perf_counter() - started
        before = history_bytes(store)
        started = time.perf_counter()
        while hist.compact(START + (days + 1) * DAY, 20_000):
            pass
        compact_s = time.perf_counter() - started
        after = history_bytes(store)
        size = hist.history_size()
        assert size.tail_records == 0 and size.chunk_records == written, size
    return {
        "readings": written,
        "readings_written_per_s": written / write_s,
        "tail_bytes_per_reading": before["tail"] / written,
        "chunk_blob_bytes_per_reading": size.chunk_bytes / written,
        "chunks_table_bytes_per_reading": after["chunks"] / written,
        "compaction_readings_per_s": written / compact_s,
    }


def measure_queries(open_store: Callable[[bool], Any], repeats: int) -> dict[str, float]:
    eid, attr = "urn:ngsi-ld:Sensor:year", NS + "energyIndex"
    with open_store(True) as store:
        hist: HistoryStore = store
        rnd = random.Random(3)
        value = 1000.0
        written = from_ms(START)
        rows = []
        for step in range(365 * 96):
            value = round(value + rnd.choice((0.0, 0.1, 0.2, 0.5)), 1)
            rows.append((attr, {"type": "Property", "value": value, "unitCode": "KWH",
                                "observedAt": from_ms(START + step * 15 * MINUTE),
                                "createdAt": written, "modifiedAt": written}))
        for first in range(0, len(rows), 5000):
            hist.add_history("", eid, rows[first:first + 5000])
        while hist.compact(START + 1, 20_000):
            pass

        from bocage.api.temporal_frames import render_frames
        from bocage.ngsild.context_loader import ContextResolver
        from bocage.ngsild.render import View
        from bocage.storage.history_frames import CHUNKS

        terms = ContextResolver(lambda *_: None, lambda *_: None, 5.0,
                              1 << 20).core_term_map
        head: Entity = {"id": eid, "type": [NS + "Sensor"]}
        del rows

        def timed(window: HistoryRange, expect: int, cold: bool = False) -> float:
            """What the API does for a raw read: the frames, rendered (normalized) and
            serialised to JSON bytes (HTTP left out). ``cold``: the cache of decoded
            chunks emptied before each read (a first read)."""
            samples = []
            hist.history_frames("", eid, window)  # warm-up, not counted
            for _ in range(repeats):
                if cold:
                    CHUNKS.clear()
                started = time.perf_counter()
                frames = hist.history_frames("", eid, window)
                body = orjson.dumps(render_frames(head, frames, terms, View(),
                                                  "observedAt", False))
                samples.append((time.perf_counter() - started) * 1000)
                assert len(frames[0]) == expect and body, len(frames[0])
            return p95(samples)

        month = HistoryRange(attrs=frozenset({attr}), start=START + 100 * DAY,
                             end=START + 130 * DAY)
        year = HistoryRange(attrs=frozenset({attr}))

        def aggregated(period: str, expect: int) -> float:
            """What the API does for aggregatedValues: the series' columns (chunks inside
            one period read as their stored summaries), then aggregate_series (HTTP and
            rendering left out)."""
            duration = parse_duration(period)
            end = START + 365 * DAY
            window = HistoryRange(attrs=frozenset({attr}), start=START, end=end,
                                  periods=period_bounds(START, end, duration))
            samples = []
            for _ in range(repeats):
                started = time.perf_counter()
                [series] = hist.history_columns("", eid, window)
                got = aggregate_series(series.times, series.values, series.buckets,
                                       ("avg", "max", "sum"), START, end, duration)
                samples.append((time.perf_counter() - started) * 1000)
                assert len(got["avg"]) == expect, len(got["avg"])
            return p95(samples)

        return {
            "raw_month_p95_ms": timed(month, 30 * 96),
            "raw_month_cold_p95_ms": timed(month, 30 * 96, cold=True),
            "raw_year_p95_ms": timed(year, 365 * 96),
            "aggregated_year_P1D_p95_ms": aggregated("P1D", 365),
            "aggregated_year_P1M_p95_ms": aggregated("P1M", 12),
        }


def measure_territory(open_store: Callable[[bool], Any], sensors: int,
                      repeats: int) -> dict[str, float]:
    """An EPCI of ``sensors`` PV meters in 20 communes, a year of readings (one a day:
    the rollups hold one row per commune and day whatever the rate), compacted; then the
    EPCI's monthly aggregate (sum, avg, max) over the year, as /api/aggregates reads it."""
    from bocage.history.rollup import aggregate_rollups

    etype, attr = NS + "PhotovoltaicMeasurement", NS + "activePower"
    epci = "/FR/01/240100883"
    with open_store(True) as store:
        hist: HistoryStore = store
        now = from_ms(START)
        store.apply("", [Mutation(f"urn:ngsi-ld:PV:{s}", mut.create(
            {"id": f"urn:ngsi-ld:PV:{s}", "type": [etype],
             "scope": [f"{epci}/01{s % 20:03d}"]}, now)) for s in range(sensors)])
        rnd = random.Random(5)
        for s in range(sensors):
            rows = [(attr, {"type": "Property", "value": round(rnd.uniform(0, 30), 1),
                            "observedAt": from_ms(START + step * DAY + 12 * 3_600_000),
                            "createdAt": now, "modifiedAt": now}) for step in range(365)]
            hist.add_history("", f"urn:ngsi-ld:PV:{s}", rows)
        started = time.perf_counter()
        while hist.compact(START + 400 * DAY, 50_000):
            pass
        compact_s = time.perf_counter() - started
        end = START + 365 * DAY
        month = parse_duration("P1M")
        samples = []
        for _ in range(repeats):
            started = time.perf_counter()
            rows_ = hist.rollups("", etype, attr, (epci,), START, end)
            got = aggregate_rollups(rows_, ("sum", "avg", "max"), START, end, month,
                                    "epci", "/")
            samples.append((time.perf_counter() - started) * 1000)
            assert len(got[epci]["sum"]) == 12, got
        return {"territory_epci_month_year_p95_ms": p95(samples),
                "territory_compaction_readings_per_s": sensors * 365 / compact_s}


TARGETS = {
    "chunk_blob_bytes_per_reading": (3.0, "lower"),
    "chunks_table_bytes_per_reading": (3.0, "lower"),
    "raw_month_p95_ms": (10.0, "lower"),
    "aggregated_year_P1D_p95_ms": (20.0, "lower"),
    "territory_epci_month_year_p95_ms": (200.0, "lower"),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller loads (smoke run)")
    parser.add_argument("--sensors", type=int, default=None)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--only", default="write,size,query,territory")
    args = parser.parse_args()
    from bocage.api.fastpath import tune_gc

    tune_gc()  # the garbage collector as a serving process sets it (bocage.api.fastpath)
    sensors = args.sensors or (60 if args.quick else 300)
    entities = 3000 if args.quick else 20_000
    repeats = 10 if args.quick else 40
    parts = set(args.only.split(","))
    backends: dict[str, Callable[[bool], Any]] = {}
    for name in args.backends.split(","):
        if name == "sqlite":
            backends["sqlite"] = sqlite_store
        elif name in ("postgres", "postgresql"):
            reason = postgres_available()
            if reason is None:
                backends["postgresql"] = postgres_store
            else:
                print(f"postgresql skipped: {reason}", file=sys.stderr)
    results: dict[str, dict[str, float]] = {}
    for name, opener in backends.items():
        print(f"{name}...", file=sys.stderr)
        out: dict[str, float] = {}
        if "write" in parts:
            out.update(measure_writes(opener, entities))
        if "size" in parts:
            out.update(measure_size(opener, sensors, args.days))
        if "query" in parts:
            out.update(measure_queries(opener, repeats))
        if "territory" in parts:
            out.update(measure_territory(opener, 200 if args.quick else 1000, repeats))
        results[name] = out
    metrics = sorted({m for r in results.values() for m in r})
    print(f"{'metric':38}" + "".join(f"{b:>14}" for b in results))
    for metric in metrics:
        print(f"{metric:38}" + "".join(f"{r.get(metric, float('nan')):>14.2f}"
                                       for r in results.values()))
    doc = {"sensors": sensors, "days": args.days, "entities": entities, "quick": args.quick,
           "machine": machine(), **results}
    out_path = HERE / "results" / "history.json"
    out_path.parent.mkdir(exist_ok=True)
    out_path.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"written {out_path}")
    baseline = HERE / "baseline" / "history.json"
    if baseline.exists():
        base = json.loads(baseline.read_text())
        for backend, values in results.items():
            for metric, value in values.items():
                old = base.get(backend, {}).get(metric)
                if old:
                    print(f"  {backend} {metric}: {value:.2f} (baseline {old:.2f})")
    missed = [(b, m) for b, r in results.items() for m, (target, way) in TARGETS.items()
              if m in r and (r[m] > target if way == "lower" else r[m] < target)]
    for backend, metric in missed:
        print(f"target missed: {backend} {metric}", file=sys.stderr)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
