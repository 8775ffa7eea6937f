"""Lighting commands delivered: fan-out, encoding, the durable queue, MQTT, lifecycle.

``Commands.prepare`` turns an authorised command into deliveries (one per
device behind its target, each encoded by its model's downlink encoder and
addressed to its network server); ``CommandQueue.enqueue`` keeps them with
the command. The dispatcher task (``run``, on the server's event loop)
publishes due deliveries through the broker the MQTT connectors use, retries
with backoff while it cannot, and sweeps deadlines and durations. Events the
ingestion pipeline has committed (``observe``: acknowledgements, then
uplinks showing the ordered state) move deliveries along.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import aiomqtt

from bocage.codecs.model import ModelSpec
from bocage.codecs.registry import CodecError, EncodeError
from bocage.commands.downlink import (
    ACKNOWLEDGED,
    CONFIRMED,
    CORRELATION,
    EXPIRED,
    FAILED,
    ORDER,
    PENDING,
    RESUME,
    SENT,
    Route,
    backoff,
    command_status,
    expected_state,
    mqtt_message,
    obeyed,
    order_data,
)
from bocage.commands.lighting import CommandRecord
from bocage.commands.queue_sql import CommandQueue, Delivery
from bocage.connectors.mqtt.config import broker_config
from bocage.connectors.mqtt.subscriber import _client
from bocage.devices.catalogue import TENANT, Catalogue
from bocage.devices.records import DEVICE_PREFIX, NETWORK_SERVERS, DeviceRecord
from bocage.domain.entity import Entity, instance_value
from bocage.domain.errors import BadRequestData
from bocage.domain.query import EntityQuery
from bocage.domain.terms import Terms
from bocage.domain.timefmt import format_utc, parse_datetime
from bocage.ingest.record import Uplink
from bocage.jscodec.library import JsCodecLibrary
from bocage.jscodec.sandbox import DOWNLINK_DECODER, DOWNLINK_ENCODER, JsError
from bocage.ngsild.q import parse_q
from bocage.settings import Settings
from bocage.storage.base import Store

log = logging.getLogger("bocage.commands")

Encode = Callable[[dict[str, Any]], tuple[int, bytes]]
Decode = Callable[[bytes, int], dict[str, Any]]
#: device events that tell what became of a downlink
#: seconds between two looks at the equipment of every order in flight (sweep)
CONFIRM_EVERY = 10.0
ACK_EVENTS = frozenset({"ack", "txack", "downlink_ack", "downlink_nack", "downlink_sent",
                        "downlink_failed"})


class Unroutable(Exception):
    """The device cannot be sent orders (no encoder, no network server...)."""


def _at(iso: str, **delta: float) -> str:
    return format_utc(parse_datetime(iso) + dt.timedelta(**delta))


class Commands:
    def __init__(self, settings: Settings, store: Store, terms: Terms, catalogue: Catalogue,
                 js_codecs: JsCodecLibrary, queue: CommandQueue,
                 now: Callable[[], str]) -> None:
        self.settings = settings
        self.queue = queue
        self._store = store
        self._terms = terms
        self._catalogue = catalogue
        self._codecs = catalogue._codecs
        self._js = js_codecs
        self._now = now
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._clients: dict[str, tuple[contextlib.AsyncExitStack, aiomqtt.Client]] = {}
        self._lock = threading.Lock()  # state changes from the worker and the dispatcher
        self._confirmed_at = -CONFIRM_EVERY

    # ------------------------------------------------------------ encoding

    def downlink_codec(self, model: ModelSpec) -> tuple[Encode, Decode | None]:
        """The model's downlink encoder (and decoder): built-in, or a JavaScript codec."""
        codec = self._codecs.get(model.codec)
        if codec is not None and codec.encode_downlink is not None:
            return codec.encode_downlink, codec.decode_downlink
        src = self._js.source(model.codec)
        if src is None or DOWNLINK_ENCODER not in src.roles:
            raise Unroutable(f"model {model.id} (codec {model.codec}) has no downlink encoder")
        js = self._js

        def encode(data: dict[str, Any]) -> tuple[int, bytes]:
            try:
                result = js.run(src, "encode_downlink", data, 0, {})
            except JsError as exc:
                raise EncodeError(" ".join(str(exc).split())) from None
            if result.errors or result.bytes is None or not result.f_port:
                raise EncodeError("; ".join(result.errors) or "the encoder gave no fPort")
            return result.f_port, bytes(result.bytes)

        def decode(payload: bytes, f_port: int) -> dict[str, Any]:
            result = js.run(src, "decode_downlink", payload, f_port)
            if result.errors or not isinstance(result.data, dict):
                raise CodecError("; ".join(result.errors) or "no data")
            return result.data

        return encode, (decode if DOWNLINK_DECODER in src.roles else None)

    def route(self, dev: DeviceRecord) -> Route:
        network = dev.network_server
        if not network:
            configured = [n for n in NETWORK_SERVERS
                          if getattr(self.settings, f"{n}_mqtt_url")]
            if len(configured) != 1:
                raise Unroutable(f"device {dev.dev_eui} names no networkServer and "
                                 f"{len(configured)} MQTT connectors are set up")
            network = configured[0]
        if not getattr(self.settings, f"{network}_mqtt_url"):
            raise Unroutable(f"device {dev.dev_eui} is on {network}, whose MQTT connector "
                             f"is not set up ({network}_mqtt_url)")
        if not dev.application_id:
            raise Unroutable(f"device {dev.dev_eui} has no applicationId")
        device = dev.network_device_id or (
            dev.dev_eui.lower() if network == "chirpstack" else f"eui-{dev.dev_eui.lower()}")
        return Route(network, dev.application_id, device, dev.dev_eui)

    def delivery(self, record: CommandRecord, dev: DeviceRecord, kind: str = ORDER,
                 ) -> Delivery:
        ident = str(uuid.uuid4())
        now = self._now()
        data = order_data(record.command, kind)
        base: dict[str, Any] = {"id": ident, "command_id": record.id, "kind": kind,
                                "dev_eui": dev.dev_eui, "asset": dev.asset_id,
                                "next_at": now, "updated_at": now}
        try:
            model = self._catalogue.model(dev.model)
            if model is None:
                raise Unroutable(f"device {dev.dev_eui} names unknown model {dev.model}")
            encode, _ = self.downlink_codec(model)
            route = self.route(dev)
            f_port, payload = encode(data)
            topic, message = mqtt_message(route, f_port, payload, ident)
        except (Unroutable, EncodeError, CodecError) as exc:
            return Delivery(**base, network=dev.network_server, topic="", message="",
                            f_port=0, payload="", expected={}, state=FAILED,
                            detail=f"not sent: {exc}")
        return Delivery(**base, network=route.network, topic=topic, message=message.decode(),
                        f_port=f_port, payload=payload.hex(),
                        expected=expected_state(data) if kind == ORDER else {})

    # ------------------------------------------------------------- fan-out

    def _value(self, entity: Entity, name: str) -> Any:
        insts = entity.get(self._terms.expand(name))
        return instance_value(insts[0]) if insts else None

    def _query(self, reader: Store, tenant: str, type_name: str, q: str = "",
               scope: str = "") -> list[Entity]:
        out: list[Entity] = []
        offset = 0
        while True:
            query = EntityQuery(
                types=((self._terms.expand(type_name),),),
                q=parse_q(q, self._terms.expand) if q else None,
                scope_q=((scope,), (scope + "/#",)) if scope else (), limit=1000,
                offset=offset)
            page = reader.query(tenant, query).entities
            out.extend(page)
            if len(page) < 1000:
                return out
            offset += 1000

    def _device_of(self, entity: Entity) -> DeviceRecord | None:
        ref = self._value(entity, "refDevice")
        if not isinstance(ref, str) or not ref.startswith(DEVICE_PREFIX):
            return None
        return self._catalogue.device(ref.removeprefix(DEVICE_PREFIX))

    def _takes_orders(self, dev: DeviceRecord) -> bool:
        model = self._catalogue.model(dev.model)
        if model is None:
            return False
        try:
            self.downlink_codec(model)
        except Unroutable:
            return False
        return True

    def devices_behind(self, reader: Store, tenant: str, target: str,
                       entity: Entity | None) -> list[DeviceRecord]:
        """The devices a command on ``target`` reaches; lights are found through
        ``reader`` (the caller's scopes for the lighting command)."""
        lights: list[Entity]
        if entity is None:  # a scope: a commune, an EPCI
            lights = self._query(reader, tenant, "Streetlight", scope=target)
        else:
            kinds = {self._terms.compact(t) for t in entity.get("type") or ()}
            if "Streetlight" in kinds:
                lights = [entity]
            elif "StreetlightControlCabinet" in kinds:
                controller = self._device_of(entity)
                if controller is not None and self._takes_orders(controller):
                    return [controller]  # the cabinet's own controller switches its lines
                lights = self._query(reader, tenant, "Streetlight",
                                     q=f'refStreetlightControlCabinet=="{target}"')
            else:
                lights = self._query(reader, tenant, "Streetlight",
                                     q=f'refStreetlightGroup=="{target}"')
        devices = {}
        for light in lights:
            dev = self._device_of(light)
            if dev is not None:
                devices[dev.dev_eui] = dev
        return [devices[k] for k in sorted(devices)]

    def prepare(self, record: CommandRecord, reader: Store, tenant: str,
                entity: Entity | None) -> list[Delivery]:
        devices = self.devices_behind(reader, tenant, record.command.target, entity)
        if not devices:
            raise BadRequestData(f"no street light with a device behind {record.command.target}"
                                 ": nothing to send")
        return [self.delivery(record, dev) for dev in devices]

    def accept(self, record: CommandRecord, deliveries: Sequence[Delivery]) -> CommandRecord:
        status = command_status((d.state for d in deliveries), ended=False)
        record = dataclasses.replace(record, status=status)
        self.queue.enqueue(record, deliveries)
        self.wake()
        return record

    # -------------------------------------------------------------- views

    def queue_recent(self) -> list[CommandRecord]:
        """The most recent commands, newest first (the caller filters what it may see)."""
        return self.queue.recent()

    def ends_at(self, record: CommandRecord) -> str | None:
        minutes = record.command.duration_minutes
        return None if minutes is None else _at(record.at, minutes=minutes)

    def view(self, record: CommandRecord) -> dict[str, Any]:
        deliveries = self.queue.of_command(record.id)
        out = record.to_json()
        out["endsAt"] = self.ends_at(record)
        orders = [d for d in deliveries if d.kind == ORDER]
        counts: dict[str, int] = {}
        for d in orders:
            counts[d.state] = counts.get(d.state, 0) + 1
        out["progress"] = counts
        retrying = [d for d in orders if d.state == PENDING and d.attempts]
        latest = max(deliveries, key=lambda d: d.updated_at, default=None)
        out["detail"] = (retrying[0].detail if retrying
                         else latest.detail if latest is not None else "")
        out["deliveries"] = [d.to_json() for d in deliveries]
        return out

    # -------------------------------------------------------- state changes

    def _move(self, d: Delivery, from_states: Sequence[str], **changes: Any) -> bool:
        changes.setdefault("updated_at", self._now())
        with self._lock:
            moved = self.queue.move(d, from_states, **changes)
        if moved:
            self.refresh(d.command_id)
        return moved

    def refresh(self, command_id: str) -> str | None:
        record = self.queue.command(command_id)
        if record is None:
            return None
        ends = self.ends_at(record)
        ended = ends is not None and ends <= self._now()
        states = [d.state for d in self.queue.of_command(command_id) if d.kind == ORDER]
        status = command_status(states, ended)
        self.queue.set_status(command_id, status)
        return status

    # ---------------------------------------------- what ingestion committed

    def observe(self, records: Sequence[Uplink]) -> None:
        """Called by the ingestion worker after each committed batch (at least once)."""
        try:
            for r in records:
                if r.event in ACK_EVENTS:
                    self._acknowledgement(r)
            euis = sorted({r.dev_eui for r in records if r.event == "up" and r.dev_eui})
            if euis:
                self._confirm(euis)
        except Exception:  # never stop ingestion for a command's sake
            log.exception("commands: could not follow up ingested events")

    def _find(self, r: Uplink) -> Delivery | None:
        raw = r.raw
        wanted: list[str] = []
        if isinstance(raw.get("queueItemId"), str):  # ChirpStack
            wanted.append(raw["queueItemId"])
        for member in ("downlink_ack", "downlink_nack", "downlink_sent", "downlink_failed"):
            inner = raw.get(member)
            if isinstance(inner, dict) and isinstance(inner.get("downlink"), dict):
                inner = inner["downlink"]  # downlink_failed wraps the downlink
            ids = [*(raw.get("correlation_ids") or []),
                   *((inner.get("correlation_ids") or []) if isinstance(inner, dict) else [])]
            wanted += [c.removeprefix(CORRELATION) for c in ids
                       if isinstance(c, str) and c.startswith(CORRELATION)]
        for ident in wanted:
            d = self.queue.get(ident)
            if d is not None and (not r.dev_eui or d.dev_eui == r.dev_eui):
                return d
        if r.source == "tts" and r.dev_eui and not wanted:
            # no correlation id carried through: the device's oldest downlink in flight
            sent = [d for d in self.queue.open_for([r.dev_eui]) if d.state == SENT]
            return sent[0] if sent else None
        return None

    def _acknowledgement(self, r: Uplink) -> None:
        d = self._find(r)
        if d is None:
            return
        at = r.received_at
        if r.event == "ack":
            if r.raw.get("acknowledged") is True:
                self._move(d, (PENDING, SENT), state=ACKNOWLEDGED,
                           detail=f"acknowledged by the device at {at}")
            else:
                self._move(d, (PENDING, SENT), state=FAILED,
                           detail=f"the device did not acknowledge it ({at})")
        elif r.event in ("txack", "downlink_sent"):
            self._move(d, (PENDING, SENT), state=SENT, sent_at=d.sent_at or at,
                       detail=f"transmitted to the device at {at}")
        elif r.event == "downlink_ack":
            self._move(d, (PENDING, SENT), state=ACKNOWLEDGED,
                       detail=f"acknowledged by the device at {at}")
        else:  # downlink_nack, downlink_failed
            self._move(d, (PENDING, SENT), state=FAILED,
                       detail=f"{r.note or r.event} ({at})")

    def _confirm(self, euis: Sequence[str] | None) -> None:
        """Confirm the deliveries of these devices (None: of every device) whose
        equipment reports the ordered state since the order was handed over."""
        for d in self.queue.open_for(euis) if euis is not None else self.queue.in_flight():
            if d.state == PENDING or not d.expected or not d.asset:
                continue
            entity = self._store.get(TENANT, d.asset)
            if entity is None:
                continue
            seen: dict[str, Any] = {}
            for name in d.expected:
                insts = entity.get(self._terms.expand(name)) or []
                if insts and str(insts[0].get("observedAt") or "") >= d.sent_at:
                    seen[name] = instance_value(insts[0])
            if obeyed(d.expected, seen):
                self._move(d, (SENT, ACKNOWLEDGED), state=CONFIRMED,
                           detail="the equipment reports the ordered state")

    # --------------------------------------------------------------- sweep

    def sweep(self) -> None:
        """Deadlines: no acknowledgement in time; durations that ran out."""
        now = self._now()
        # an uplink may have been committed before its order was marked sent: look at
        # the equipment of the orders in flight now and then (a read per order)
        if time.monotonic() - self._confirmed_at >= CONFIRM_EVERY:
            self._confirmed_at = time.monotonic()
            self._confirm(None)
        deadline = self.settings.commands_ack_deadline_minutes
        for d in self.queue.sent_before(_at(now, minutes=-deadline)):
            self._move(d, (SENT,), state=EXPIRED,
                       detail=f"no acknowledgement within {deadline:g} min")
        for record in self.queue.active_commands():
            ends = self.ends_at(record)
            if ends is None or ends > now:
                continue
            deliveries = self.queue.of_command(record.id)
            if not any(d.kind == RESUME for d in deliveries):
                resume = []
                for d in deliveries:
                    if d.state in (SENT, ACKNOWLEDGED, CONFIRMED):
                        dev = self._catalogue.device(d.dev_eui)
                        if dev is not None:
                            resume.append(self.delivery(record, dev, RESUME))
                if resume:
                    self.queue.add(resume)
                    self.wake()
            for d in deliveries:
                if d.kind == ORDER and d.state == PENDING:
                    self._move(d, (PENDING,), state=EXPIRED,
                               detail="not sent before the order's duration ran out")
            self.refresh(record.id)

    # ---------------------------------------------------------- dispatcher

    def wake(self) -> None:
        """Look at the queue now (from any thread)."""
        loop, event = self._loop, self._wake
        if loop is not None and event is not None:
            loop.call_soon_threadsafe(event.set)

    async def run(self) -> None:
        """Send what is due, sweep, wait; returns only when cancelled."""
        # this run's own event: an app started again (tests) runs on another loop
        wake = self._wake = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        tick = self.settings.commands_tick_seconds
        try:
            while True:
                try:
                    await self.send_due()
                    await asyncio.to_thread(self.sweep)
                except Exception:
                    log.exception("commands: dispatcher round failed; next round retries")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), tick)
                wake.clear()
        finally:
            for stack, _ in list(self._clients.values()):
                with contextlib.suppress(Exception):
                    await stack.aclose()
            self._clients.clear()

    async def _client(self, network: str) -> aiomqtt.Client:
        found = self._clients.get(network)
        if found is not None:
            return found[1]
        config = broker_config(self.settings, network, mqtt5=network == "chirpstack")
        if config is None:
            raise aiomqtt.MqttError(f"{network}_mqtt_url is not set")
        config = dataclasses.replace(config, client_id=config.client_id + "-commands")
        stack = contextlib.AsyncExitStack()
        client = await stack.enter_async_context(_client(config))
        self._clients[network] = (stack, client)
        return client

    async def _drop(self, network: str) -> None:
        found = self._clients.pop(network, None)
        if found is not None:
            with contextlib.suppress(Exception):
                await found[0].aclose()

    async def send_due(self) -> int:
        due = await asyncio.to_thread(self.queue.due, self._now())
        sent = 0
        down: dict[str, str] = {}  # network -> why its broker failed this round
        for d in due:
            # a lease: another dispatcher on the same database leaves it alone meanwhile
            lease = _at(self._now(), seconds=60)
            if not await asyncio.to_thread(self.queue.claim, d, lease):
                continue
            d = dataclasses.replace(d, next_at=lease)
            handed = self._now()  # the order exists for the device from now on
            try:
                if d.network in down:
                    raise aiomqtt.MqttError(down[d.network])
                client = await self._client(d.network)
                await asyncio.wait_for(client.publish(d.topic, d.message.encode(), qos=1), 10)
            except (aiomqtt.MqttError, TimeoutError, OSError) as exc:
                await self._drop(d.network)
                attempts = d.attempts + 1
                wait = backoff(attempts, most=self.settings.commands_retry_max_seconds)
                now = self._now()
                next_at = _at(now, seconds=wait)
                reason = down[d.network] = str(exc) or type(exc).__name__
                log.warning("commands: %s broker unreachable (%s); delivery %s retried at %s",
                            d.network, reason, d.id, next_at)
                await asyncio.to_thread(
                    self._move, d, (PENDING,), attempts=attempts, next_at=next_at,
                    detail=f"{d.network} broker unreachable ({reason}); attempt {attempts}, "
                           f"next at {next_at}")
                continue
            await asyncio.to_thread(self._move, d, (PENDING,), state=SENT,
                                    attempts=d.attempts + 1, sent_at=handed,
                                    detail=f"queued at the network server ({d.topic})")
            sent += 1
        if sent:  # a fast device may have answered before its order was marked sent
            await asyncio.to_thread(self._confirm, sorted({d.dev_eui for d in due}))
        return sent
