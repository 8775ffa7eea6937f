"""Settings: read once at start-up into a frozen object, then passed explicitly.

Sources, later ones winning: defaults, an optional TOML file (``BOCAGE_CONFIG``
or ``--config``), ``BOCAGE_*`` environment variables, command-line options.
Every field is documented in ``docs/settings.md`` (a test checks it).
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class Settings:
    #: where data lives: sqlite:///path/to.db (default) or postgresql://...
    database_url: str = "sqlite:///./bocage-data/bocage.db"
    #: interface the HTTP server listens on
    host: str = "127.0.0.1"
    #: port the HTTP server listens on
    port: int = 8000
    #: log level (DEBUG, INFO, WARNING, ERROR)
    log_level: str = "INFO"
    #: seconds to wait for a user @context to download
    context_fetch_timeout: float = 5.0
    #: largest user @context accepted, in bytes
    context_max_bytes: int = 1_000_000
    #: largest request body accepted, in bytes
    max_body_bytes: int = 10_000_000
    #: largest page size a client may ask for (``limit``)
    max_limit: int = 1000
    #: most entities in one batch operation
    max_batch: int = 10_000
    #: milliseconds the SQLite writer waits to group commits
    group_commit_ms: float = 2.0
    #: the ingestion inbox's SQLite file ("" = inbox.db beside the SQLite database)
    inbox_path: str = ""
    #: records accepted but not yet processed beyond which ingestion answers 503
    ingest_max_backlog: int = 100_000
    #: days processed inbox records are kept (device events, late-duplicate detection);
    #: 0 = forever
    ingest_retention_days: float = 30.0
    #: shared secret of the ChirpStack HTTP integration ("" = endpoint disabled)
    chirpstack_secret: str = ""
    #: shared secret of The Things Stack webhook ("" = endpoint disabled)
    tts_secret: str = ""
    #: supervision: an active alarm nobody acknowledged escalates after this many minutes
    escalate_after_minutes: float = 30.0
    #: supervision: seconds between timer rounds (silent devices, escalation)
    supervision_tick_seconds: float = 60.0
    #: IRVE static file or URL (stations, charging points) for the periodic import
    irve_static: str = ""
    #: IRVE dynamic feed URL fetched periodically ("" = no periodic import)
    irve_dynamic_url: str = ""
    #: seconds between two IRVE imports
    irve_poll_interval: float = 300.0
    #: seconds allowed to download one IRVE file
    irve_fetch_timeout: float = 60.0
    #: largest IRVE file accepted, in bytes
    irve_max_bytes: int = 50_000_000
    #: web UI: equipment with no new data for this many hours shows as offline
    offline_after_hours: float = 24.0
    #: web UI: seconds a territory's equipment summaries are reused before a refresh
    ui_cache_seconds: float = 15.0
    #: web UI: seconds between two refreshes of a page's live parts (status, counters,
    #: alarm lists; htmx polling while the tab is visible); 0 = no live updates
    ui_live_seconds: float = 15.0
    #: web UI map: tile URL template ({z}/{x}/{y}); "" = no tiles, our own layers only
    map_tiles_url: str = ""
    #: web UI map: attribution shown with the tiles
    map_tiles_attribution: str = ""
    #: web UI: seconds the history dashboards reuse what they read from history
    ui_history_cache_seconds: float = 300.0
    #: energy dashboards: electricity price, EUR per kWh (all taxes included)
    tariff_electricity_eur_kwh: float = 0.2516
    #: energy dashboards: gas price, EUR per kWh (all taxes included)
    tariff_gas_eur_kwh: float = 0.125
    #: energy dashboards: electricity subscription, EUR per meter and year (0: not counted)
    tariff_electricity_subscription_eur_year: float = 0.0
    #: energy dashboards: gas subscription, EUR per meter and year (0: not counted)
    tariff_gas_subscription_eur_year: float = 0.0
    #: energy dashboards: kWh per m3 of gas (the conversion coefficient of a French bill)
    tariff_gas_kwh_per_m3: float = 11.2
    #: record the history of every attribute written (temporal API)
    history_enabled: bool = True
    #: most instances of one attribute in one temporal response (beyond: 206)
    history_max_instances: int = 1000
    #: minutes a history record stays uncompressed before compaction
    history_compact_after_minutes: float = 60.0
    #: seconds between two compaction runs
    history_compact_every_seconds: float = 300.0
    #: hours of history in one compressed chunk; 0: the backend's choice, a day on SQLite
    #: (its rows stay small, out of overflow pages), a week on PostgreSQL (fixed costs per
    #: row spread over ~1,000 readings); chunks keep a summary per day for aggregations
    history_chunk_hours: int = 0
    #: seconds between two passes of the retention job (0 = never)
    history_retention_every_seconds: float = 3600.0
    #: CPU milliseconds one JavaScript codec call may use before it is stopped
    js_codec_time_limit_ms: float = 100.0
    #: heap of one JavaScript codec's sandbox, in MiB
    js_codec_memory_limit_mb: int = 64
    #: the notification outbox's SQLite file ("" = notifications.db beside the SQLite database)
    notification_outbox_path: str = ""
    #: seconds a receiver has to answer one notification (HTTP) or the broker to take it (MQTT)
    notification_timeout: float = 5.0
    #: notifications in flight at once per endpoint (scheme, host and port)
    notification_concurrency: int = 8
    #: seconds before the first retry of a failed notification (doubled at each failure)
    notification_retry_base: float = 1.0
    #: longest wait between two retries, in seconds
    notification_retry_max: float = 300.0
    #: attempts after which a notification is given up (0 = never)
    notification_max_attempts: int = 20
    #: SMTP server that sends alarm e-mails ("" = no e-mail)
    smtp_host: str = ""
    #: SMTP port (587 with STARTTLS, 465 with TLS, 25 without)
    smtp_port: int = 587
    #: SMTP connection security: starttls, tls (implicit) or none (local relay only)
    smtp_security: str = "starttls"
    #: SMTP user name ("" = no login)
    smtp_username: str = ""
    #: SMTP password
    smtp_password: str = ""
    #: the From address of alarm e-mails
    smtp_sender: str = "bocage@localhost"
    #: CA bundle to verify the SMTP server ("" = the system's CAs)
    smtp_ca_file: str = ""
    #: alarm notifications to people: at most one message per recipient per this many
    #: minutes (the first one after a quiet period leaves at once; 0 = no digest)
    alarm_digest_minutes: float = 10.0
    #: the address people reach the web UI at, for links in notifications
    #: ("" = http://host:port)
    public_url: str = ""
    #: ChirpStack MQTT broker, mqtt://host[:1883] or mqtts://host[:8883] ("" = off)
    chirpstack_mqtt_url: str = ""
    #: user name on the ChirpStack broker ("" = anonymous)
    chirpstack_mqtt_username: str = ""
    #: password on the ChirpStack broker
    chirpstack_mqtt_password: str = ""
    #: topic filter(s) to subscribe to, comma-separated
    chirpstack_mqtt_topics: str = "application/+/device/+/event/+"
    #: fixed client id: the broker keeps this session's messages while bocage is down
    chirpstack_mqtt_client_id: str = "bocage-chirpstack"
    #: CA bundle to verify the broker (mqtts; "" = the system's CAs)
    chirpstack_mqtt_ca_file: str = ""
    #: client certificate, PEM (mqtts with client authentication; "" = none)
    chirpstack_mqtt_cert_file: str = ""
    #: the client certificate's private key, PEM ("" = in the certificate file)
    chirpstack_mqtt_key_file: str = ""
    #: The Things Stack MQTT server, mqtt://host[:1883] or mqtts://host[:8883] ("" = off)
    tts_mqtt_url: str = ""
    #: user name on the TTS MQTT server: {application id}@{tenant id}
    tts_mqtt_username: str = ""
    #: password on the TTS MQTT server: an API key of the application
    tts_mqtt_password: str = ""
    #: topic filter(s) to subscribe to, comma-separated
    tts_mqtt_topics: str = ("v3/+/devices/+/up,v3/+/devices/+/join,v3/+/devices/+/down/queued,"
                            "v3/+/devices/+/down/sent,v3/+/devices/+/down/ack,"
                            "v3/+/devices/+/down/nack,v3/+/devices/+/down/failed,"
                            "v3/+/devices/+/location/solved")
    #: fixed client id on the TTS MQTT server
    tts_mqtt_client_id: str = "bocage-tts"
    #: CA bundle to verify the TTS MQTT server ("" = the system's CAs)
    tts_mqtt_ca_file: str = ""
    #: client certificate, PEM ("" = none)
    tts_mqtt_cert_file: str = ""
    #: the client certificate's private key, PEM ("" = in the certificate file)
    tts_mqtt_key_file: str = ""
    #: seconds an MQTT broker keeps bocage's session (and queues its messages) while
    #: bocage is disconnected (MQTT 5 session expiry)
    mqtt_session_expiry: int = 7 * 24 * 3600
    #: minutes a lighting order may wait for the device's acknowledgement once sent
    #: (then it is ``expired``)
    commands_ack_deadline_minutes: float = 60.0
    #: longest wait, in seconds, between two tries to hand an order to the MQTT broker
    commands_retry_max_seconds: float = 300.0
    #: seconds between two looks at the command queue (deadlines, retries)
    commands_tick_seconds: float = 1.0
    #: authentication: "on" (default) or "off" (local development only: loopback, all-seeing)
    auth: str = "on"
    #: scope whose entities anyone may read, anonymous callers included ("" = no open data)
    open_data_scope: str = "/open"
    #: hours a login session lasts
    session_hours: float = 12.0
    #: failed logins in a row that lock an account
    login_max_failures: int = 5
    #: minutes an account stays locked
    lockout_minutes: float = 15.0
    #: login / token attempts per minute and client address
    login_rate_per_minute: int = 10
    #: OpenID Connect issuer URL of the identity provider ("" = no OIDC login)
    oidc_issuer: str = ""
    #: OpenID Connect client id registered at the provider
    oidc_client_id: str = ""
    #: OpenID Connect client secret
    oidc_client_secret: str = ""
    #: this server's callback URL registered at the provider (…/auth/oidc/callback)
    oidc_redirect_url: str = ""
    #: ID token claim naming the local account
    oidc_username_claim: str = "preferred_username"

    @property
    def auth_on(self) -> bool:
        return self.auth.strip().lower() not in ("off", "false", "0", "no")

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def _coerce(raw: object, target: type | str) -> object:
    kind = target if isinstance(target, str) else target.__name__
    if kind == "int":
        return int(str(raw))
    if kind == "float":
        return float(str(raw))
    if kind == "bool":
        return str(raw).strip().lower() in {"1", "true", "yes", "on"}
    return str(raw)


def load_settings(
    env: Mapping[str, str] | None = None,
    config_file: str | Path | None = None,
    **overrides: Any,
) -> Settings:
    """Build the Settings once. ``overrides`` that are None are ignored."""
    env = os.environ if env is None else env
    values: dict[str, object] = {}
    path = config_file or env.get("BOCAGE_CONFIG")
    if path:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
        values.update(data.get("bocage", data))
    for f in fields(Settings):
        key = "BOCAGE_" + f.name.upper()
        if key in env:
            values[f.name] = env[key]
    values.update({k: v for k, v in overrides.items() if v is not None})
    known = {f.name: f.type for f in fields(Settings)}
    unknown = set(values) - set(known)
    if unknown:
        raise ValueError(f"unknown setting(s): {', '.join(sorted(unknown))}")
    return Settings(**{k: _coerce(v, known[k]) for k, v in values.items()})  # type: ignore[arg-type]
