"""The sobriety panel's figures (capability C12): what the platform collects, what it
keeps and what that costs — ``GET /api/sobriety`` and ``/ui/sobriete``.

Readings kept by form (raw tail, compressed chunks, retention summaries) and their
bytes come from the store (``bocage.storage.stats``, per backend); messages per
day, duplicates dropped and dead letters from the inbox; CPU time and memory from
the process itself. Gathering reads whole tables, so one copy is kept for
``ttl`` seconds. The figures are the platform's (no entity, no value in them):
administrators and elected officials read them (``figures.read``).
"""

from __future__ import annotations

import datetime as dt
import os
import resource
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

from bocage.api.calls import run
from bocage.api.negotiation import json_response
from bocage.devices.catalogue import TENANT
from bocage.domain.errors import NonexistentTenant
from bocage.domain.query import EntityQuery
from bocage.domain.terms import Terms
from bocage.ingest.deadletters import OPEN, REPLAYED, DeadLetterQuery
from bocage.ingest.service import Ingestion
from bocage.storage.base import Store
from bocage.storage.stats import StorageStats, stats_of

#: days of messages shown
DAYS = 14
_IMPORTED = time.monotonic()


@dataclass(frozen=True, slots=True)
class Process:
    """This process: CPU time used since it started, memory resident now."""

    cpu_seconds: float
    rss_bytes: int
    uptime_seconds: float

    @property
    def cpu_share(self) -> float | None:
        """Average share of one core used since start (0.02 = 2 %)."""
        return self.cpu_seconds / self.uptime_seconds if self.uptime_seconds > 0 else None


def read_process(proc: Path = Path("/proc/self")) -> Process:
    """CPU time (user + system, threads included) and resident memory of this process;
    the uptime from the kernel's start time of the process when it is known."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime
    rss = usage.ru_maxrss * 1024  # the peak, when /proc is not there
    uptime = time.monotonic() - _IMPORTED
    try:
        rss = int((proc / "statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        # field 22 of stat: start time in clock ticks after boot (after the ")" of comm)
        fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")
        uptime = float(Path("/proc/uptime").read_text().split()[0]) - started
    except (OSError, ValueError, IndexError):
        pass
    return Process(cpu, rss, uptime)


def per_thousand(value: float | None, devices: int) -> float | None:
    """``value`` for every 1,000 devices (None without devices)."""
    if value is None or devices <= 0:
        return None
    return value * 1000 / devices


def ratio(part: int, whole: int) -> float | None:
    return part / whole if whole > 0 else None


@dataclass(frozen=True, slots=True)
class Day:
    day: str
    messages: int
    duplicates: int


@dataclass(frozen=True, slots=True)
class Sobriety:
    at: str
    storage: StorageStats | None
    devices: int
    days: tuple[Day, ...]
    open_letters: int
    replayed_letters: int
    inbox_bytes: int
    process: Process

    @property
    def messages(self) -> int:
        return sum(d.messages for d in self.days)

    @property
    def duplicates(self) -> int:
        return sum(d.duplicates for d in self.days)

    @property
    def tail_bytes_per_reading(self) -> float | None:
        s = self.storage
        return None if s is None or not s.tail_records else s.tail_bytes / s.tail_records

    @property
    def chunk_bytes_per_reading(self) -> float | None:
        s = self.storage
        return None if s is None or not s.chunk_records else s.chunk_bytes / s.chunk_records

    @property
    def compression_ratio(self) -> float | None:
        """Bytes a raw (tail) reading takes over bytes a compacted one takes."""
        raw, packed = self.tail_bytes_per_reading, self.chunk_bytes_per_reading
        return raw / packed if raw is not None and packed else None

    @property
    def rss_per_thousand(self) -> float | None:
        return per_thousand(self.process.rss_bytes, self.devices)

    @property
    def cpu_per_thousand(self) -> float | None:
        return per_thousand(self.process.cpu_share, self.devices)

    def to_json(self) -> dict[str, Any]:
        s = self.storage
        return {
            "at": self.at,
            "devices": self.devices,
            "readings": None if s is None else {
                "collected": s.collected, "keptRows": s.kept_rows, "raw": s.tail_records,
                "compacted": s.chunk_records, "chunks": s.chunks,
                "summaryRows": s.summary_rows, "summarized": s.summarized_records,
            },
            "bytes": None if s is None else {
                "database": s.database_bytes, "inbox": self.inbox_bytes,
                "tail": s.tail_bytes, "tailPayload": s.tail_payload_bytes,
                "chunks": s.chunk_bytes, "chunkPayload": s.chunk_payload_bytes,
                "summaries": s.summary_bytes,
                "perRawReading": self.tail_bytes_per_reading,
                "perCompactedReading": self.chunk_bytes_per_reading,
                "compressionRatio": self.compression_ratio,
            },
            "messagesPerDay": [asdict(d) for d in self.days],
            "messages": self.messages, "duplicatesDropped": self.duplicates,
            "deadLetters": {"open": self.open_letters, "replayed": self.replayed_letters},
            "process": {"cpuSeconds": self.process.cpu_seconds,
                        "rssBytes": self.process.rss_bytes,
                        "uptimeSeconds": self.process.uptime_seconds,
                        "cpuShare": self.process.cpu_share,
                        "rssBytesPer1000Devices": self.rss_per_thousand,
                        "cpuSharePer1000Devices": self.cpu_per_thousand},
        }


def count_devices(store: Store, terms: Terms) -> int:
    query = EntityQuery(types=((terms.expand("Device"),),), limit=0, count=True)
    try:
        return store.query(TENANT, query).count or 0
    except NonexistentTenant:
        return 0


def gather(store: Store, terms: Terms, ingestion: Ingestion, now: str) -> Sobriety:
    """Every figure, now (``store``: the backend store, platform-wide)."""
    today = dt.date.fromisoformat(now[:10])
    since = (today - dt.timedelta(days=DAYS - 1)).isoformat()
    counted: dict[str, tuple[int, int]] = {}
    open_letters = replayed = inbox_bytes = 0
    if ingestion.started:
        inbox = ingestion.inbox
        counted = {d: (m, x) for d, m, x in inbox.daily_counts(since)}
        open_letters = inbox.count_dead_letters(DeadLetterQuery(status=OPEN))
        replayed = inbox.count_dead_letters(DeadLetterQuery(status=REPLAYED))
        inbox_bytes = inbox.size_on_disk()
    days = tuple(Day(d, *counted.get(d, (0, 0))) for d in (
        (today - dt.timedelta(days=n)).isoformat() for n in range(DAYS - 1, -1, -1)))
    return Sobriety(now, stats_of(store), count_devices(store, terms), days, open_letters,
                    replayed, inbox_bytes, read_process())


class Figures:
    """The figures, gathered at most once per ``ttl`` seconds (a panel left open, or
    many officials looking, cost one gathering)."""

    def __init__(self, store: Store, terms: Terms, ingestion: Ingestion,
                 now: Callable[[], str], ttl: float = 30.0) -> None:
        self._args = (store, terms, ingestion)
        self._now = now
        self._ttl = ttl
        self._lock = threading.Lock()
        self._kept: tuple[float, Sobriety] | None = None

    def get(self) -> Sobriety:
        with self._lock:
            kept = self._kept
            if kept is not None and time.monotonic() - kept[0] < self._ttl:
                return kept[1]
            made = gather(*self._args, self._now())
            self._kept = (time.monotonic(), made)
            return made


def build_router(figures: Figures) -> APIRouter:
    router = APIRouter(prefix="/api", tags=["Operations"])

    @router.get("/sobriety", summary="The platform's sobriety figures (admin, elu)")
    async def sobriety() -> Response:
        return json_response((await run(figures.get)).to_json())

    @router.get("/stats", summary="The same figures (readings stored, bytes per reading, "
                                  "compression, messages per day, collected vs kept)")
    async def stats() -> Response:
        return json_response((await run(figures.get)).to_json())

    return router


def report_lines(figures: Sobriety) -> list[str]:
    """The figures for a terminal (``bocage stats``)."""
    s = figures.storage

    def num(v: float | int | None, digits: int = 1) -> str:
        if v is None:
            return "-"
        return f"{v:,.{digits}f}" if isinstance(v, float) else f"{v:,d}"

    lines = [f"at {figures.at}, {num(figures.devices)} devices"]
    if s is not None:
        lines += [
            f"readings collected   {num(s.collected)}",
            f"  kept raw (tail)    {num(s.tail_records)}",
            f"  kept compacted     {num(s.chunk_records)} in {num(s.chunks)} chunks",
            f"  kept as summaries  {num(sum(s.summarized_records.values()))} in "
            f"{num(sum(s.summary_rows.values()))} rows",
            f"bytes per reading    raw {num(figures.tail_bytes_per_reading)}, "
            f"compacted {num(figures.chunk_bytes_per_reading, 2)} "
            f"(compression x{num(figures.compression_ratio)})",
            f"database             {num(s.database_bytes)} bytes, inbox "
            f"{num(figures.inbox_bytes)} bytes",
        ]
    lines.append(f"messages ({len(figures.days)} days)  {num(figures.messages)}, "
                 f"duplicates dropped {num(figures.duplicates)}, dead letters open "
                 f"{num(figures.open_letters)}")
    lines += [f"  {d.day}  {num(d.messages):>10} messages" for d in figures.days if d.messages]
    return lines
