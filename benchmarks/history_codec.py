"""History codec benchmark: bytes per reading and encode/decode speed on realistic series.

    python benchmarks/history_codec.py [--quick]

One year of synthetic but realistic readings per series (seeded, so every run encodes the
same data), timestamps as LoRaWAN devices send them (a nominal period plus clock jitter
with millisecond precision), compressed in chunks of one day, one week, 30 days and the
whole year. The same readings are also stored in a plain SQLite table (series, t, value)
to measure what a row costs without the codec. Writes benchmarks/results/history-codec.json
and compares it with the committed baseline benchmarks/baseline/history-codec.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from bocage.history.codec import Point, decode_chunk, decode_columns, encode_chunk

HERE = Path(__file__).parent
START = 1_767_225_600_000  # 2026-01-01T00:00:00Z
MINUTE = 60_000
YEAR_MS = 365 * 86_400_000
CHUNKS = {"day": 86_400_000, "week": 7 * 86_400_000, "month": 30 * 86_400_000, "year": YEAR_MS}


def clock(period_ms: int, jitter_ms: int, rnd: random.Random) -> list[int]:
    """Nominal instants plus device clock jitter (ms precision), strictly increasing."""
    n = YEAR_MS // period_ms
    return [START + i * period_ms + (rnd.randint(-jitter_ms, jitter_ms) if jitter_ms else 0)
            for i in range(n)]


def classroom_temperature(rnd: random.Random, jitter: int = 2000) -> list[Point]:
    """0.1 °C resolution every 10 min: daily heating cycle, weekends cooler, sensor noise."""
    extra = orjson.dumps({"unitCode": "CEL"})
    points = []
    for t in clock(10 * MINUTE, jitter, rnd):
        hour = (t // 3_600_000) % 24
        weekday = (t // 86_400_000 + 3) % 7 < 5
        base = 19.0 + (2.0 if weekday and 8 <= hour < 17 else 0.0)
        seasonal = 3 * math.sin(2 * math.pi * (t - START) / YEAR_MS)
        points.append(Point(t, round(base + seasonal + rnd.gauss(0, 0.15), 1), extra))
    return points


def co2_ppm(rnd: random.Random) -> list[Point]:
    """Integer ppm every 10 min: 420 outside school hours, rising with occupancy."""
    extra = orjson.dumps({"unitCode": "59"})
    points, level = [], 420.0
    for t in clock(10 * MINUTE, 2000, rnd):
        hour = (t // 3_600_000) % 24
        occupied = (t // 86_400_000 + 3) % 7 < 5 and 8 <= hour < 17
        level += (60 if occupied else -0.3 * (level - 420)) + rnd.gauss(0, 15)
        level = min(max(level, 400.0), 2500.0)
        points.append(Point(t, int(level), extra))
    return points


def water_meter_index(rnd: random.Random) -> list[Point]:
    """A monotonic index in litres every 15 min: consumption by day, a slow night leak."""
    extra = orjson.dumps({"unitCode": "LTR"})
    points, index = [], 1_234_567
    for t in clock(15 * MINUTE, 2000, rnd):
        hour = (t // 3_600_000) % 24
        index += rnd.choice([0, 0, 0, 1, 2, 5, 12, 30]) if 6 <= hour < 23 else rnd.choice([0, 1])
        points.append(Point(t, index, extra))
    return points


def streetlight_state(rnd: random.Random) -> list[Point]:
    """'on' from dusk to 23:00 and 05:30 to dawn, 'off' otherwise, reported every 10 min."""
    points = []
    for t in clock(10 * MINUTE, 2000, rnd):
        minutes = (t // MINUTE) % 1440
        day = (t - START) / YEAR_MS
        dusk = 17 * 60 + 180 * math.sin(math.pi * day)
        dawn = 8 * 60 - 150 * math.sin(math.pi * day)
        on = dusk <= minutes < 23 * 60 or 330 <= minutes < dawn
        points.append(Point(t, "on" if on else "off"))
    return points


def parking_occupied(rnd: random.Random) -> list[Point]:
    """A boolean occupancy state every 10 min, changing a few times a day."""
    points, occupied = [], False
    for t in clock(10 * MINUTE, 2000, rnd):
        if rnd.random() < 0.05:
            occupied = not occupied
        points.append(Point(t, occupied))
    return points


def fill_level(rnd: random.Random) -> list[Point]:
    """A waste container's fill level (%) every hour, emptied when it passes ~90 %."""
    extra = orjson.dumps({"unitCode": "P1"})
    points, level = [], 0.0
    for t in clock(60 * MINUTE, 2000, rnd):
        level += max(rnd.gauss(0.6, 0.4), 0.0)
        if level > 90 and rnd.random() < 0.3:
            level = rnd.uniform(0, 3)
        points.append(Point(t, round(level / 100, 2)))
    del extra
    return points


def geojson_position(rnd: random.Random) -> list[Point]:
    """A GeoJSON point reported every 10 min that moves about once a month."""
    points = []
    lon, lat = 5.22581, 46.20574
    for t in clock(10 * MINUTE, 2000, rnd):
        if rnd.random() < 1 / 4320:
            lon, lat = round(lon + rnd.uniform(-0.001, 0.001), 5), round(lat + 0.0005, 5)
        points.append(Point(t, {"type": "Point", "coordinates": [lon, lat]}))
    return points


SERIES: dict[str, Callable[[random.Random], list[Point]]] = {
    "classroom_temperature_0.1C_10min": classroom_temperature,
    "classroom_temperature_exact_clock": lambda rnd: classroom_temperature(rnd, jitter=0),
    "co2_ppm_int_10min": co2_ppm,
    "water_meter_index_15min": water_meter_index,
    "streetlight_state_str_10min": streetlight_state,
    "parking_occupied_bool_10min": parking_occupied,
    "fill_level_hourly": fill_level,
    "geojson_point_rarely_moves_10min": geojson_position,
}
# The "realistic mix": 15-minute meter indexes, 10-minute CO2, boolean states.
MIX = ("water_meter_index_15min", "co2_ppm_int_10min", "parking_occupied_bool_10min")


def chunked(points: list[Point], span_ms: int) -> list[list[Point]]:
    chunks: dict[int, list[Point]] = {}
    for p in points:
        chunks.setdefault((p.t - START) // span_ms, []).append(p)
    return list(chunks.values())


def best_rate(action: Callable[[], object], n: int, repeat: int) -> float:
    """Points per CPU-second of the fastest of ``repeat`` runs: process CPU time, not wall
    time, because the machine is shared and a descheduled run says nothing of the codec."""
    best = math.inf
    for _ in range(repeat):
        began = time.process_time()
        action()
        best = min(best, time.process_time() - began)
    return n / best


def sqlite_bytes_per_row(points: list[Point]) -> float:
    """The same readings as plain rows (series, t, value), WITHOUT ROWID, primary key."""
    with tempfile.TemporaryDirectory() as tmp:
        db = sqlite3.connect(Path(tmp) / "plain.db")
        db.execute("CREATE TABLE h(series INTEGER, t INTEGER, value, PRIMARY KEY(series, t))"
                   " WITHOUT ROWID")
        rows = [(1, p.t, p.value if not isinstance(p.value, dict | list)
                 else orjson.dumps(p.value).decode()) for p in points]
        db.executemany("INSERT OR REPLACE INTO h VALUES (?, ?, ?)", rows)
        db.commit()
        db.execute("VACUUM")
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        size = db.execute("PRAGMA page_size").fetchone()[0]
        db.close()
        return float(pages * size / len(points))


def measure(name: str, points: list[Point], repeat: int) -> dict[str, float]:
    n = len(points)
    result: dict[str, float] = {"points": n}
    for label, span in CHUNKS.items():
        total = sum(len(encode_chunk(c)) for c in chunked(points, span))
        result[f"bytes_per_point_{label}_chunks"] = round(total / n, 3)
    data = encode_chunk(points)
    assert decode_chunk(data) == points or name.startswith("geojson"), name
    result["encode_points_per_s"] = round(best_rate(lambda: encode_chunk(points), n, repeat))
    result["decode_points_per_s"] = round(best_rate(lambda: decode_chunk(data), n, repeat))
    result["decode_columns_points_per_s"] = round(
        best_rate(lambda: decode_columns(data), n, repeat))
    days = [encode_chunk(c) for c in chunked(points, CHUNKS["day"])]
    result["decode_columns_year_in_day_chunks_ms"] = round(
        1000 * n / best_rate(lambda: [decode_columns(c) for c in days], n, repeat), 2)
    result["sqlite_plain_bytes_per_row"] = round(sqlite_bytes_per_row(points), 2)
    return result


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "system": platform.platform(), "load_average_1min": load}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="one timing run instead of five")
    args = parser.parse_args()
    repeat = 1 if args.quick else 5
    results: dict[str, dict[str, float]] = {}
    for name, make in SERIES.items():
        results[name] = measure(name, make(random.Random(name)), repeat)
        print(f"{name}: {results[name]}", file=sys.stderr)
    mix_points = sum(results[m]["points"] for m in MIX)
    mix = {label: round(sum(results[m][f"bytes_per_point_{label}_chunks"] * results[m]["points"]
                            for m in MIX) / mix_points, 3) for label in CHUNKS}
    report = {"benchmark": "history-codec", "quick": args.quick, "machine": machine(),
              "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "mix": {"series": list(MIX), "bytes_per_point": mix}, "results": results}
    out = HERE / "results" / "history-codec.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print_table(report)
    print(f"results written to {out}", file=sys.stderr)
    return 0


def print_table(report: dict[str, Any]) -> None:
    base_path = HERE / "baseline" / "history-codec.json"
    base = json.loads(base_path.read_text())["results"] if base_path.exists() else {}
    print(f"{'series':36} {'B/pt day':>8} {'week':>6} {'year':>6} {'sqlite':>7} "
          f"{'enc pt/s':>10} {'dec pt/s':>10} {'cols pt/s':>10} {'365 d ms':>8} "
          f"{'dec vs base':>11}")
    for name, r in report["results"].items():
        was = base.get(name, {}).get("decode_points_per_s")
        ratio = f"{r['decode_points_per_s'] / was:.2f}" if was else "-"
        print(f"{name:36} {r['bytes_per_point_day_chunks']:8.2f} "
              f"{r['bytes_per_point_week_chunks']:6.2f} {r['bytes_per_point_year_chunks']:6.2f} "
              f"{r['sqlite_plain_bytes_per_row']:7.1f} {r['encode_points_per_s']:10,.0f} "
              f"{r['decode_points_per_s']:10,.0f} {r['decode_columns_points_per_s']:10,.0f} "
              f"{r['decode_columns_year_in_day_chunks_ms']:8.1f} {ratio:>11}")
    mix = report["mix"]["bytes_per_point"]
    print(f"realistic mix ({', '.join(report['mix']['series'])}): "
          + ", ".join(f"{k} chunks {v:.2f} B/pt" for k, v in mix.items()))


if __name__ == "__main__":
    sys.exit(main())
