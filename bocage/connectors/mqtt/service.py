"""The MQTT connectors of one app: built from the settings, run inside ``bocage serve``.

Each connector whose broker URL is set runs one :class:`Subscriber` task on the
server's event loop, from app start-up to shutdown. ChirpStack speaks MQTT 5
(its usual brokers do), The Things Stack's MQTT server only 3.1.1.
"""

from __future__ import annotations

import asyncio
import contextlib

from bocage.connectors.chirpstack import mqtt as chirpstack_mqtt
from bocage.connectors.mqtt.config import broker_config
from bocage.connectors.mqtt.subscriber import Observer, Parse, Subscriber
from bocage.connectors.tts import mqtt as tts_mqtt
from bocage.ingest.service import Ingestion

#: connector -> (parser, speaks MQTT 5)
CONNECTORS: dict[str, tuple[Parse, bool]] = {
    "chirpstack": (chirpstack_mqtt.parse_mqtt, True),
    "tts": (tts_mqtt.parse_mqtt, False),
}


class MqttConnectors:
    def __init__(self, ingestion: Ingestion, observer: Observer | None = None) -> None:
        self._ingestion = ingestion
        self.subscribers: list[Subscriber] = []
        for name, (parse, mqtt5) in CONNECTORS.items():
            config = broker_config(ingestion.settings, name, mqtt5=mqtt5)
            if config is not None:
                self.subscribers.append(Subscriber(config, parse, ingestion.accept,
                                                   ingestion.now, observer))
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        if not self.subscribers:
            return
        # the inbox must be open before the first message is accepted
        await asyncio.to_thread(self._ingestion.start)
        self._tasks = [asyncio.create_task(s.run(), name=f"mqtt-{s.config.connector}")
                       for s in self.subscribers]

    async def stop(self) -> None:
        """Unacknowledged messages stay in the broker's session for the next start."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
