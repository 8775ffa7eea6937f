"""Sending one queued alarm notification: rendered for its channel, then e-mail,
webhook (HTTP POST of JSON) or MQTT (a JSON message, QoS 1).

The outbox keeps the events (JSON); the text is written when the message
leaves, so a digest of several queued notifications is one message.
"""

from __future__ import annotations

import asyncio
import dataclasses

import httpx
import orjson

from bocage.alerting.messages import document, render
from bocage.alerting.smtp import SmtpConfig, send_mail
from bocage.subscriptions.outbox import Queued
from bocage.subscriptions.senders import Failure, MqttClients, send_http


class AlarmSender:
    def __init__(self, smtp: SmtpConfig) -> None:
        self.smtp = smtp

    async def send(self, item: Queued, http: httpx.AsyncClient, mqtt: MqttClients,
                   timeout: float) -> Failure | None:
        doc = orjson.loads(item.payload)
        events = doc["events"]
        lang, scope = str(doc.get("lang", "fr")), str(doc.get("scope", ""))
        name = str(doc.get("name") or doc.get("recipient", ""))
        if doc["channel"] == "email":
            message = render(events, lang, scope, name)
            return await asyncio.to_thread(send_mail, self.smtp, item.uri.removeprefix("mailto:"),
                                           message, item.timeout or timeout)
        body = orjson.dumps(document(events, str(doc.get("recipient")), lang, scope, name))
        out = dataclasses.replace(item, payload=body)
        if doc["channel"] == "mqtt":
            return await mqtt.send(out, timeout)
        return await send_http(http, out, timeout)
