"""Where uplinks go: the in-process inbox (same pipeline as the HTTP endpoint) or HTTP."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from bocage.connectors.chirpstack.envelope import parse_event
from bocage.domain.errors import ServiceUnavailable
from bocage.ingest.service import Ingestion


@dataclass
class Counts:
    sent: int = 0
    acknowledged: int = 0
    duplicates: int = 0
    rejected: int = 0


class Sink(Protocol):
    counts: Counts

    def send(self, bodies: Sequence[dict[str, Any]]) -> None:
        """Deliver ChirpStack ``up`` events; blocks while the receiver pushes back."""
        ...

    def close(self) -> None: ...


class InProcessSink:
    """Parse each event with the ChirpStack connector and commit it to the inbox, as
    ``POST /ingest/chirpstack?event=up`` does, minus HTTP."""

    def __init__(self, ingestion: Ingestion) -> None:
        self._ingestion = ingestion
        self.counts = Counts()

    def send(self, bodies: Sequence[dict[str, Any]]) -> None:
        if not bodies:
            return
        records = [parse_event("up", b) for b in bodies]
        self.counts.sent += len(records)
        while True:
            try:
                accepted = self._ingestion.accept(records).result()
                break
            except ServiceUnavailable as exc:  # backlog full: wait for the pipeline
                time.sleep(min(exc.retry_after, 1.0))
        self.counts.acknowledged += accepted.stored
        self.counts.duplicates += accepted.duplicates

    def close(self) -> None:
        pass


class HttpSink:
    """POST each event to a running bocage's ChirpStack endpoint."""

    def __init__(self, base_url: str, secret: str, timeout: float = 10.0) -> None:
        self._client = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout,
                                    headers={"Authorization": f"Bearer {secret}"})
        self.counts = Counts()

    def send(self, bodies: Sequence[dict[str, Any]]) -> None:
        for body in bodies:
            self.counts.sent += 1
            while True:
                try:
                    r = self._client.post("/ingest/chirpstack", params={"event": "up"},
                                          json=body)
                except httpx.TransportError:  # not listening yet, or restarting
                    time.sleep(0.5)
                    continue
                if r.status_code != 503:
                    break
                time.sleep(float(r.headers.get("Retry-After", "1")))
            if r.status_code == 202:
                self.counts.acknowledged += 1
                self.counts.duplicates += int(r.json().get("duplicates", 0))
            else:
                self.counts.rejected += 1

    def close(self) -> None:
        self._client.close()
