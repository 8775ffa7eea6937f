"""Sending one queued notification: HTTP(S) with httpx, MQTT(S) with aiomqtt.

A sender returns ``None`` when the receiver took the message, or an error
text; ``permanent`` errors (an HTTP 4xx other than 408/429: the receiver will
refuse the same message again) are not retried. HTTP success is any 2xx.
MQTT success is the broker's PUBACK/PUBCOMP at QoS 1/2, the message written to
the connection at QoS 0 (``notifierInfo`` ``MQTT-QoS``, default 0 as the spec
says; use 1 for acknowledged delivery). MQTT connections are kept, one per
broker and credentials, and dropped on any error.
"""

from __future__ import annotations

import contextlib
import ssl
import uuid
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import aiomqtt
import httpx

from bocage.subscriptions.outbox import Queued


@dataclass(frozen=True, slots=True)
class Failure:
    error: str
    permanent: bool = False


async def send_http(client: httpx.AsyncClient, item: Queued, timeout: float) -> Failure | None:
    try:
        response = await client.post(item.uri, content=item.payload, headers=item.headers,
                                     timeout=item.timeout or timeout)
    except httpx.HTTPError as exc:
        return Failure(f"{type(exc).__name__}: {exc}".strip(": "))
    if 200 <= response.status_code < 300:
        return None
    permanent = 400 <= response.status_code < 500 and response.status_code not in (408, 429)
    return Failure(f"HTTP {response.status_code}", permanent=permanent)


_BrokerKey = tuple[str, str, int, str | None, str | None, str]


class MqttClients:
    """Connected aiomqtt clients, one per broker + credentials + MQTT version."""

    def __init__(self) -> None:
        self._clients: dict[_BrokerKey, aiomqtt.Client] = {}

    async def send(self, item: Queued, timeout: float) -> Failure | None:
        parts = urlsplit(item.uri)
        info = dict(item.notifier_info)
        secure = parts.scheme.lower() == "mqtts"
        version = info.get("MQTT-Version", "mqtt3.1.1")
        key: _BrokerKey = (
            parts.scheme.lower(), parts.hostname or "", parts.port or (8883 if secure else 1883),
            unquote(parts.username) if parts.username else None,
            unquote(parts.password) if parts.password else None, version,
        )
        topic = unquote(parts.path.lstrip("/"))
        qos = int(info.get("MQTT-QoS", "0"))
        wait = item.timeout or timeout
        try:
            client = await self._client(key, secure, version, wait)
            await client.publish(topic, payload=item.payload, qos=qos, timeout=wait)
        except (aiomqtt.MqttError, OSError, TimeoutError) as exc:
            await self._drop(key)
            return Failure(f"MQTT: {type(exc).__name__}: {exc}".strip(": "))
        return None

    async def _client(self, key: _BrokerKey, secure: bool, version: str,
                      timeout: float) -> aiomqtt.Client:
        client = self._clients.get(key)
        if client is None:
            _, host, port, user, password, _ = key
            client = aiomqtt.Client(
                host, port, username=user, password=password,
                identifier=f"bocage-notify-{uuid.uuid4().hex[:12]}",
                protocol=aiomqtt.ProtocolVersion.V5 if version == "mqtt5.0"
                else aiomqtt.ProtocolVersion.V311,
                timeout=timeout,
                tls_context=ssl.create_default_context() if secure else None,
            )
            await client.__aenter__()
            self._clients[key] = client
        return client

    async def _drop(self, key: _BrokerKey) -> None:
        client = self._clients.pop(key, None)
        if client is not None:
            with contextlib.suppress(Exception):  # already broken: nothing more to do
                await client.__aexit__(None, None, None)

    async def close(self) -> None:
        for key in list(self._clients):
            await self._drop(key)
