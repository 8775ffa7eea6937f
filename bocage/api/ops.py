"""Operations: liveness, readiness, Prometheus metrics."""

from __future__ import annotations

import time
from typing import Final

from anyio import to_thread
from fastapi import APIRouter
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bocage.api.errors import problem_response
from bocage.api.fastpath import FastRoutes
from bocage.api.services import Services
from bocage.domain.errors import BocageError


class Metrics:
    """Per-app Prometheus registry (no global registry: several apps may share a process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "bocage_http_requests", "HTTP requests", ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "bocage_http_request_seconds", "HTTP request latency", ["method", "route"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
        self.mqtt_messages = Counter(
            "bocage_ingest_mqtt_messages", "MQTT messages by connector and outcome "
            "(stored, duplicate, rejected)", ["connector", "outcome"], registry=self.registry,
        )
        self.ingest_backlog = Gauge(
            "bocage_ingest_backlog", "Records accepted in the inbox and not yet processed",
            registry=self.registry,
        )
        self.mqtt_connected = Gauge(
            "bocage_ingest_mqtt_connected", "1 while the connector is subscribed to its broker",
            ["connector"], registry=self.registry,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    # the MQTT connectors' Observer
    def messages(self, connector: str, outcome: str, n: int) -> None:
        if n:
            self.mqtt_messages.labels(connector, outcome).inc(n)

    def connected(self, connector: str, up: bool) -> None:
        self.mqtt_connected.labels(connector).set(1 if up else 0)


class MetricsMiddleware:
    """Pure ASGI middleware: counts and times requests by route template."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def wrapped(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, wrapped)
        finally:
            route = scope.get("route")
            self.metrics.observe(scope.get("method", ""), getattr(route, "path", "unmatched"),
                                 status, time.perf_counter() - start)


_LIVE: Final = b'{"status":"ok"}'


async def _live(request: Request) -> Response:
    return Response(_LIVE, media_type="application/json")


def build_router(services: Services, metrics: Metrics,
                 fast: FastRoutes | None = None) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="Liveness")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    if fast is not None:  # answered before FastAPI's route walk: the cheapest request
        fast.add("GET", "/healthz", _live)

    @router.get("/readyz", summary="Readiness: the store answers")
    async def readyz(request: Request) -> Response:
        try:
            await to_thread.run_sync(services.store.ping)
        except BocageError as err:
            return problem_response(err)
        return Response(b'{"status":"ready"}', media_type="application/json")

    @router.get("/metrics", summary="Prometheus metrics")
    async def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return router
