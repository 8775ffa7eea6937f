"""The application factory: ``create_app(settings, store)``, no module globals."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import cast

from fastapi import FastAPI

from bocage import __version__
from bocage.api import (
    batch,
    codecs,
    contexts,
    deadletters,
    devices,
    discovery,
    entities,
    errors,
    ingest,
    ops,
    retention,
    subscriptions,
    supervision,
    temporal,
)
from bocage.api.calls import run
from bocage.api.fastpath import BocageApp, FastRoutes
from bocage.api.services import Services
from bocage.connectors.mqtt.service import MqttConnectors
from bocage.ingest.service import Ingestion
from bocage.ngsild.context import ContextResolver
from bocage.settings import Settings
from bocage.storage.base import Store
from bocage.storage.history_base import HistoryStore
from bocage.storage.history_jobs import Compactor
from bocage.storage.observed import ObservedStore
from bocage.subscriptions.notifier import Notifier
from bocage.subscriptions.repository import open_repository
from bocage.supervision.service import Supervisor
from bocage.web import pages

NGSI_LD_PREFIX = "/ngsi-ld/v1"


def create_app(settings: Settings, store: Store, services: Services | None = None) -> FastAPI:
    """Build the ASGI app around an open store. The caller owns the store's lifetime.

    Every write goes through an :class:`ObservedStore`, so subscriptions see the
    changes of the NGSI-LD routes, batch operations and ingestion alike.
    """
    if services is None:
        resolver = ContextResolver(
            store_get=store.get_context,
            store_put=store.put_context,
            timeout=settings.context_fetch_timeout,
            max_bytes=settings.context_max_bytes,
        )
        services = Services(settings=settings, store=store, contexts=resolver)
    backend = services.store
    notifier = Notifier(settings, backend, open_repository(backend), services.contexts.resolve,
                        services.now)
    services = dataclasses.replace(services, store=ObservedStore(backend, notifier))
    store = services.store
    fast = FastRoutes()
    ingestion = Ingestion(settings, store, services.contexts.core_term_map, services.now)
    compactor = Compactor(
        cast(HistoryStore, backend),
        after_ms=int(settings.history_compact_after_minutes * 60_000),
        every=settings.history_compact_every_seconds if settings.history_enabled else 0,
        retention_every=settings.history_retention_every_seconds,
    )
    supervisor = Supervisor(services.store, services.contexts.core_term_map, services.now,
                            escalate_after_minutes=settings.escalate_after_minutes,
                            tick_seconds=settings.supervision_tick_seconds)
    metrics = ops.Metrics()
    metrics.ingest_backlog.set_function(ingestion.backlog)
    mqtt = MqttConnectors(ingestion, metrics)  # validates the MQTT settings now

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # subscriptions first: notifications of the writes ingestion replays are not lost
        await run(notifier.start)
        await run(ingestion.start_if_used)  # records a previous run left are drained now
        compactor.start()
        supervisor.start()
        await mqtt.start()
        try:
            yield
        finally:
            await mqtt.stop()
            await run(supervisor.close)
            await run(compactor.stop)
            await run(ingestion.close)
            await run(notifier.close)
            await run(notifier.repository.close)

    app = BocageApp(
        fast,
        lifespan=lifespan,
        # our own Prometheus metrics cover this; FastAPI's OpenTelemetry hooks cost
        # a provider look-up on every request
        telemetry={"tracing": False, "metrics": False, "logs": False},
        title="bocage",
        version=__version__,
        summary="Territorial data hypervisor: NGSI-LD context API",
        description=(
            "ETSI NGSI-LD API (GS CIM 009 v1.8) of bocage. Errors are NGSI-LD problem "
            "details (application/problem+json)."
        ),
    )
    fast.observe = metrics.observe
    app.state.services = services
    app.state.ingestion = ingestion
    app.state.supervisor = supervisor
    app.state.notifier = notifier
    app.state.mqtt = mqtt
    errors.install(app)
    # Routes go straight into the app's route list, hottest first: FastAPI matches
    # included routers route by route through extra layers (measured: ~40 % of a
    # trivial request), a flat list costs one regex match per route.
    for router in (
        entities.build_router(services, NGSI_LD_PREFIX, fast),
        temporal.build_router(services, NGSI_LD_PREFIX),
        retention.build_router(services),
        batch.build_router(services, NGSI_LD_PREFIX),
        discovery.build_router(services, NGSI_LD_PREFIX),
        contexts.build_router(services, NGSI_LD_PREFIX),
        subscriptions.build_router(services, notifier, NGSI_LD_PREFIX),
        ops.build_router(services, metrics),
        ingest.build_router(services, ingestion, fast),
        devices.build_router(services, ingestion),
        codecs.build_router(ingestion),
        deadletters.build_router(ingestion, settings.max_limit),
        supervision.build_router(services, supervisor),
        pages.build_router(services, supervisor),
    ):
        app.router.routes.extend(router.routes)
    app.router.routes.append(pages.mount_static())
    app.add_api_route("/", pages.root_redirect(), include_in_schema=False)
    app.add_middleware(ops.MetricsMiddleware, metrics=metrics)
    return app
