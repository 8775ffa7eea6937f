"""The application factory: ``create_app(settings, store)``, no module globals."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import cast

from fastapi import FastAPI

from bocage import __version__
from bocage.alerting.service import AlarmNotifier
from bocage.api import access as access_api
from bocage.api import (
    aggregates,
    apidocs,
    batch,
    codecs,
    commands,
    contexts,
    deadletters,
    devices,
    discovery,
    entities,
    errors,
    ingest,
    ops,
    recipients,
    retention,
    sobriety,
    subscriptions,
    supervision,
    temporal,
)
from bocage.api.calls import run
from bocage.api.fastpath import BocageApp, FastRoutes
from bocage.api.guard import Guard
from bocage.api.services import Services, utc_now
from bocage.commands.queue_sql import CommandQueue
from bocage.commands.service import Commands
from bocage.connectors.mqtt.service import MqttConnectors
from bocage.ingest.service import Ingestion
from bocage.irve.poller import IrvePoller
from bocage.ngsild.context import ContextResolver
from bocage.security.access_sql import open_access_store
from bocage.security.access_store import AccessStore
from bocage.security.oidc import OidcClient, OidcConfig
from bocage.security.scoped_store import PrincipalStore
from bocage.security.service import Security
from bocage.settings import Settings
from bocage.storage.base import Store
from bocage.storage.history_base import HistoryStore
from bocage.storage.history_jobs import Compactor
from bocage.storage.observed import ObservedStore
from bocage.subscriptions.notifier import Notifier
from bocage.subscriptions.repository import open_repository
from bocage.supervision.service import Supervisor
from bocage.web import pages

log = logging.getLogger("bocage")

NGSI_LD_PREFIX = "/ngsi-ld/v1"


def create_app(settings: Settings, store: Store, access: AccessStore | None = None) -> FastAPI:
    """Build the ASGI app around an open store. The caller owns the store's lifetime;
    the access store (accounts, keys, audit) is opened on the same database unless
    given, and then closed with the app.

    Every write goes through an :class:`ObservedStore`, so subscriptions see the
    changes of the NGSI-LD routes, batch operations and ingestion alike; routes see
    it through the caller's scopes (:class:`PrincipalStore`), while ingestion, the
    supervisor's evaluation and the notifier work on it directly.
    """
    owns_access = access is None
    access = open_access_store(store) if access is None else access
    resolver = ContextResolver(
        store_get=store.get_context,
        store_put=store.put_context,
        timeout=settings.context_fetch_timeout,
        max_bytes=settings.context_max_bytes,
    )
    backend = store
    notifier = Notifier(settings, backend, open_repository(backend), resolver.resolve,
                        utc_now)
    observed = ObservedStore(backend, notifier)
    store = observed
    security = Security(access, utc_now, session_hours=settings.session_hours,
                        max_failures=settings.login_max_failures,
                        lockout_minutes=settings.lockout_minutes)
    notifier.grants_of = security.current_grants  # notifications: what subscribers may read
    oidc = None
    if settings.oidc_issuer:
        oidc = OidcClient(OidcConfig(settings.oidc_issuer, settings.oidc_client_id,
                                     settings.oidc_client_secret, settings.oidc_redirect_url,
                                     settings.oidc_username_claim))
    services = Services(settings=settings, store=PrincipalStore(store, settings.open_data_scope),
                        contexts=resolver, security=security, oidc=oidc)
    guard = Guard(security, auth=settings.auth_on, max_body=settings.max_body_bytes,
                  login_per_minute=settings.login_rate_per_minute,
                  tiles_url=settings.map_tiles_url)
    if not settings.auth_on:
        log.warning("authentication is OFF (BOCAGE_AUTH=off): every caller is an all-seeing "
                    "administrator; for local development only")
    fast = FastRoutes()
    ingestion = Ingestion(settings, store, services.contexts.core_term_map, services.now)
    compactor = Compactor(
        cast(HistoryStore, backend),
        after_ms=int(settings.history_compact_after_minutes * 60_000),
        every=settings.history_compact_every_seconds if settings.history_enabled else 0,
        retention_every=settings.history_retention_every_seconds,
    )
    # the supervisor works on the raw store in the background; routes get views of it
    # through the caller's scopes (Supervisor.over)
    supervisor = Supervisor(store, services.contexts.core_term_map, services.now,
                            escalate_after_minutes=settings.escalate_after_minutes,
                            tick_seconds=settings.supervision_tick_seconds)
    # rules see every committed change too (their alarms, written through the same
    # observed store, reach subscriptions like any other entity)
    observed.listeners = (*observed.listeners, supervisor)
    ingestion.on_outcomes = supervisor.messages_processed  # codec error rates
    alerting = AlarmNotifier(store, services.contexts.core_term_map, notifier, services.now,
                             digest_minutes=settings.alarm_digest_minutes,
                             public_url=settings.public_url
                             or f"http://{settings.host}:{settings.port}")
    observed.listeners = (*observed.listeners, alerting)  # alarms -> people
    metrics = ops.Metrics()
    metrics.ingest_backlog.set_function(ingestion.backlog)
    mqtt = MqttConnectors(ingestion, metrics)  # validates the MQTT settings now
    irve = IrvePoller(settings, store, services.contexts.core_term_map, services.now)
    figures = sobriety.Figures(backend, services.contexts.core_term_map, ingestion,
                               services.now)
    # lighting commands: a durable queue beside the commands, sent over MQTT, followed
    # through the acknowledgements and uplinks ingestion commits
    lighting = Commands(settings, store, services.contexts.core_term_map, ingestion.catalogue,
                        ingestion.js_codecs, CommandQueue(getattr(access, "dialect")),  # noqa: B009
                        services.now)
    ingestion.pipeline.listeners = (*ingestion.pipeline.listeners, lighting.observe)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # subscriptions first: notifications of the writes ingestion replays are not lost
        await run(notifier.start)
        alerting.start()
        await run(ingestion.start_if_used)  # records a previous run left are drained now
        compactor.start()
        supervisor.start()
        await mqtt.start()
        dispatcher = asyncio.create_task(lighting.run(), name="commands")
        irve.start()  # only when irve_dynamic_url is set
        try:
            yield
        finally:
            dispatcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await dispatcher
            await run(irve.stop)
            await mqtt.stop()
            await run(supervisor.close)
            await run(alerting.close)
            await run(compactor.stop)
            await run(ingestion.close)
            await run(notifier.close)
            await run(notifier.repository.close)
            if owns_access:
                access.close()

    app = BocageApp(
        fast,
        guard,
        lifespan=lifespan,
        # our own Prometheus metrics cover this; FastAPI's OpenTelemetry hooks cost
        # a provider look-up on every request
        telemetry={"tracing": False, "metrics": False, "logs": False},
        title="bocage",
        docs_url=None,  # ours, without inline script (apidocs)
        redoc_url=None,
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
    app.state.alerting = alerting
    app.state.mqtt = mqtt
    app.state.security = security
    app.state.irve = irve
    app.state.sobriety = figures
    app.state.commands = lighting
    errors.install(app)
    # Routes go straight into the app's route list, hottest first: FastAPI matches
    # included routers route by route through extra layers (measured: ~40 % of a
    # trivial request), a flat list costs one regex match per route.
    for router in (
        entities.build_router(services, NGSI_LD_PREFIX, fast),
        temporal.build_router(services, NGSI_LD_PREFIX),
        retention.build_router(services),
        aggregates.build_router(services),
        batch.build_router(services, NGSI_LD_PREFIX),
        discovery.build_router(services, NGSI_LD_PREFIX),
        contexts.build_router(services, NGSI_LD_PREFIX),
        subscriptions.build_router(services, notifier, NGSI_LD_PREFIX),
        ops.build_router(services, metrics, fast),
        ingest.build_router(services, ingestion, fast),
        devices.build_router(services, ingestion),
        codecs.build_router(ingestion),
        deadletters.build_router(ingestion, settings.max_limit, services.store,
                                 security, services.contexts.core_term_map),
        supervision.build_router(services, supervisor),
        recipients.build_router(services, alerting),
        access_api.build_router(services),
        commands.build_router(services, lighting),
        sobriety.build_router(figures),
        pages.build_router(services, supervisor),
        apidocs.build_router(),
    ):
        app.router.routes.extend(router.routes)
    app.router.routes.append(pages.mount_static())
    app.add_api_route("/", pages.root_redirect(), include_in_schema=False)
    app.add_middleware(ops.MetricsMiddleware, metrics=metrics)
    return app
