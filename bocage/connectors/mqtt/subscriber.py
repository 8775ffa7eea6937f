"""One MQTT subscription feeding the inbox: QoS 1, persistent session, PUBACK after commit.

::

    broker --PUBLISH--> read loop --parse--> batch --accept()--> inbox (group commit)
       ^                                                              |
       +--------------- PUBACK, in order, once the batch committed <--+

Acknowledgement is manual (paho-mqtt's ``manual_ack``, reached through
aiomqtt's underlying client): a message is acknowledged only once its record is
committed, so a crash before that leaves it unacknowledged in the broker's
session, which delivers it again at the next connection (the fixed client id
and a session that outlives the connection make it the same session); the
inbox's dedup key makes the second delivery a duplicate. PUBACKs go out in the
order the messages arrived, as MQTT requires.

A message that cannot be parsed is logged, counted (``rejected``) and
acknowledged in its turn: the broker would otherwise send it again forever.
When the inbox refuses a batch (backlog full, disk error) nothing of it is
acknowledged: the connection is dropped and opened again after a pause, and
the broker redelivers.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Protocol

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from bocage.connectors.mqtt.config import BrokerConfig
from bocage.connectors.mqtt.paho_io import acknowledger, buffer_reads
from bocage.domain.errors import BocageError
from bocage.ingest.inbox import Accepted
from bocage.ingest.record import Uplink

log = logging.getLogger("bocage.ingest.mqtt")

#: (topic, payload, now) -> record; raises BadRequestData (or any BocageError)
Parse = Callable[[str, bytes, str], Uplink]
Accept = Callable[[Sequence[Uplink]], "Future[Accepted]"]

STORED, DUPLICATE, REJECTED = "stored", "duplicate", "rejected"
_MAX_BATCH = 1000  # records per inbox accept
_BACKOFF_FIRST, _BACKOFF_MAX = 1.0, 60.0


class Observer(Protocol):
    """Where a subscriber reports what it does (Prometheus metrics in the app)."""

    def messages(self, connector: str, outcome: str, n: int) -> None: ...

    def connected(self, connector: str, up: bool) -> None: ...


class NullObserver:
    def messages(self, connector: str, outcome: str, n: int) -> None:
        pass

    def connected(self, connector: str, up: bool) -> None:
        pass


@dataclass
class _Batch:
    records: list[Uplink] = field(default_factory=list)
    #: (mid, qos) of every message in the batch, rejected ones included, in arrival order
    acks: list[tuple[int, int]] = field(default_factory=list)


class Subscriber:
    def __init__(self, config: BrokerConfig, parse: Parse, accept: Accept,
                 now: Callable[[], str], observer: Observer | None = None,
                 *, backoff_first: float = _BACKOFF_FIRST,
                 backoff_max: float = _BACKOFF_MAX) -> None:
        self.config = config
        self._parse = parse
        self._accept = accept
        self._now = now
        self._observer = observer if observer is not None else NullObserver()
        self._backoff_first = backoff_first
        self._backoff_max = backoff_max
        #: set while subscribed (tests and readiness wait on it)
        self.subscribed = asyncio.Event()

    async def run(self) -> None:
        """Connect, consume, reconnect with backoff; returns only when cancelled."""
        cfg = self.config
        delay = self._backoff_first
        while True:
            reason = "the connection ended"
            try:
                await self._session()
            except aiomqtt.MqttError as exc:
                reason = str(exc) or type(exc).__name__
            except BocageError as exc:  # the inbox refused a batch: redelivery will retry
                reason = f"the inbox refused a batch ({exc.detail})"
            except Exception as exc:  # TLS files, a library error...: log it, keep trying
                log.exception("MQTT %s: connector failed", cfg.connector)
                reason = f"{type(exc).__name__}: {exc}"
            finally:
                if self.subscribed.is_set():
                    self.subscribed.clear()
                    self._observer.connected(cfg.connector, False)
                    delay = self._backoff_first  # it worked: start the backoff again
            log.warning("MQTT %s: disconnected from %s: %s; reconnecting in %.0f s",
                        cfg.connector, cfg.url, reason, delay,
                        extra={"connector": cfg.connector, "broker": cfg.url})
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._backoff_max)

    async def _session(self) -> None:
        cfg = self.config
        client = _client(cfg)
        # The library acknowledges on receipt by default; we acknowledge after commit.
        client._client.manual_ack_set(True)
        buffer_reads(client._client)
        async with client:
            await client.subscribe([(topic, 1) for topic in cfg.topics])
            self.subscribed.set()
            self._observer.connected(cfg.connector, True)
            log.info("MQTT %s: connected to %s as %s, subscribed to %s", cfg.connector,
                     cfg.url, cfg.client_id, ", ".join(cfg.topics),
                     extra={"connector": cfg.connector, "broker": cfg.url})
            pending: asyncio.Queue[tuple[asyncio.Future[Accepted] | None, _Batch]] = (
                asyncio.Queue())
            reader = asyncio.create_task(self._read(client, pending))
            acker = asyncio.create_task(self._acknowledge(client, pending))
            try:
                # whichever stops first (disconnection, a refused commit) ends the session
                done, _ = await asyncio.wait({reader, acker},
                                             return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (reader, acker):
                    task.cancel()
                await asyncio.gather(reader, acker, return_exceptions=True)
            for task in done:
                task.result()

    async def _read(self, client: aiomqtt.Client,
                    pending: asyncio.Queue[tuple[asyncio.Future[Accepted] | None, _Batch]],
                    ) -> None:
        messages = client.messages
        # what is already queued is taken directly: aiomqtt's iterator starts a task
        # per message, to wait for a message or a disconnection
        queued: asyncio.Queue[aiomqtt.Message] | None = getattr(client, "_queue", None)
        while True:
            message = await anext(messages)
            batch = _Batch()
            now = self._now()
            while True:
                self._take(message, batch, now)
                # flush when nothing more is waiting: one commit per burst of messages
                if len(batch.acks) >= _MAX_BATCH or queued is None or queued.empty():
                    break
                message = queued.get_nowait()
            accepted = (asyncio.wrap_future(self._accept(batch.records))
                        if batch.records else None)
            pending.put_nowait((accepted, batch))

    def _take(self, message: aiomqtt.Message, batch: _Batch, now: str) -> None:
        topic = message.topic.value
        payload = message.payload
        raw = payload if isinstance(payload, bytes) else str(payload).encode()
        try:
            batch.records.append(self._parse(topic, raw, now))
        except BocageError as exc:
            self._reject(topic, raw, exc.detail)
        except Exception as exc:  # a parser bug must not stop the connector
            log.exception("MQTT %s: parser failed", self.config.connector)
            self._reject(topic, raw, f"{type(exc).__name__}: {exc}")
        batch.acks.append((message.mid, message.qos))

    async def _acknowledge(
            self, client: aiomqtt.Client,
            pending: asyncio.Queue[tuple[asyncio.Future[Accepted] | None, _Batch]]) -> None:
        connector = self.config.connector
        ack_all = acknowledger(client._client)
        while True:
            accepted, batch = await pending.get()
            if accepted is not None:
                result = await accepted  # raises: nothing of this batch is acknowledged
                self._observer.messages(connector, STORED, result.stored)
                self._observer.messages(connector, DUPLICATE, result.duplicates)
            ack_all(batch.acks)

    def _reject(self, topic: str, payload: bytes, detail: str) -> None:
        self._observer.messages(self.config.connector, REJECTED, 1)
        log.warning("MQTT %s: message rejected on %s: %s (payload %r)", self.config.connector,
                    topic, detail, payload[:200],
                    extra={"connector": self.config.connector, "topic": topic})


def _client(cfg: BrokerConfig) -> aiomqtt.Client:
    tls: ssl.SSLContext | None = None
    if cfg.tls:
        tls = ssl.create_default_context(cafile=cfg.ca_file or None)
        if cfg.cert_file:
            tls.load_cert_chain(cfg.cert_file, cfg.key_file or None)
    common = {
        "port": cfg.port,
        "username": cfg.username or None,
        "password": cfg.password or None,
        "identifier": cfg.client_id,
        "tls_context": tls,
        "timeout": 10.0,
        "keepalive": 30,
    }
    if cfg.mqtt5:
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = cfg.session_expiry
        return aiomqtt.Client(cfg.host, protocol=aiomqtt.ProtocolVersion.V5,
                              clean_start=False, properties=props, **common)  # type: ignore[arg-type]
    return aiomqtt.Client(cfg.host, protocol=aiomqtt.ProtocolVersion.V311,
                          clean_session=False, **common)  # type: ignore[arg-type]
