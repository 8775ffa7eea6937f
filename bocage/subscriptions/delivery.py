"""The delivery worker: one thread running its own asyncio loop, draining the outbox.

Each round takes the notifications whose time has come, in queue order. A
subscription has one message in flight at a time, so its notifications arrive
in order; when several of its notifications are waiting (a receiver that fell
behind or came back), they leave as one message whose ``data`` holds them all
(at most ``MERGE``). At most ``concurrency`` subscriptions are in flight per
endpoint (scheme + host + port): a slow receiver holds its own slots only, so
it never delays another endpoint, and writes never wait for any of them (they
only wait for the outbox commit). Results are settled in one outbox
transaction per round. A failed attempt is retried after
``retry_base * 2^(attempts-1)`` seconds (at most ``retry_max``), and the
endpoint's other notifications wait as long (one probe per backoff, not one
timeout per queued message); after ``max_attempts`` the notification is given
up and logged. Guarantee: at-least-once (a crash between a receiver's answer
and the settling commit sends that notification again).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

import httpx
import orjson

from bocage.subscriptions.outbox import Attempt, Outbox, Queued
from bocage.subscriptions.senders import Failure, MqttClients, send_http

log = logging.getLogger("bocage.notifications")
#: queued notifications of one subscription merged into one message at most
MERGE = 100


@dataclass(frozen=True, slots=True)
class Policy:
    timeout: float = 5.0
    concurrency: int = 8
    retry_base: float = 1.0
    retry_max: float = 300.0
    max_attempts: int = 20

    def retry_at(self, attempts: int, now_ts: float) -> float | None:
        """When to try again after the ``attempts``-th failed attempt (1-based)."""
        if self.max_attempts and attempts >= self.max_attempts:
            return None
        return now_ts + min(self.retry_max, self.retry_base * 2.0 ** (attempts - 1))


#: a sender of one kind of queued notification (other than NGSI-LD notifications)
KindSender = Callable[[Queued, httpx.AsyncClient, MqttClients, float],
                      Awaitable[Failure | None]]


class Delivery:
    def __init__(self, outbox: Outbox, policy: Policy, now: Callable[[], str],
                 senders: Mapping[str, KindSender] | None = None) -> None:
        self._outbox = outbox
        self._policy = policy
        self._now = now
        self._senders = dict(senders or {})
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._stopping = False
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._thread_main, name="bocage-notify",
                                        daemon=True)
        #: (tenant, subscription id) with a message in flight: one at a time keeps
        #: a subscription's notifications in order
        self._subscriptions: set[tuple[str, str]] = set()
        #: subscriptions settled since the last round (they may have more waiting)
        self._settled: set[tuple[str, str]] = set()
        self._rescan = True
        self._per_endpoint: Counter[str] = Counter()
        self._finished: list[Attempt] = []
        self._idle = threading.Event()

    # ----------------------------------------------------------- from any thread

    def start(self) -> None:
        self._thread.start()
        self._started.wait(10)

    def wake(self) -> None:
        """New notifications were queued (or a caller waits): look at the whole outbox."""
        loop, event = self._loop, self._wake
        if loop is not None and event is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(self._rescan_now, event)

    def _rescan_now(self, event: asyncio.Event) -> None:
        self._rescan = True
        event.set()

    def stop(self) -> None:
        self._stopping = True
        self.wake()
        if self._thread.is_alive():
            self._thread.join(15)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """True once nothing is due or in flight (tests, benchmarks)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._idle.clear()
            self.wake()
            if self._idle.wait(0.05) and not self._subscriptions:
                nxt = self._outbox.next_due()
                if nxt is None or nxt > time.time():
                    return True
        return False

    # ------------------------------------------------------------- the loop

    def _thread_main(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._started.set()
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=64)
        mqtt = MqttClients()
        async with httpx.AsyncClient(limits=limits, follow_redirects=False) as http:
            try:
                while not self._stopping:
                    self._wake.clear()
                    try:  # settle first: a settled subscription goes again at once
                        await self._settle()
                        self._dispatch(http, mqtt)
                    except Exception:  # keep delivering: what failed stays queued
                        log.exception("notification delivery round failed")
                        await asyncio.sleep(1.0)
                    if not self._subscriptions:
                        self._idle.set()
                    if self._finished:
                        continue
                    try:
                        await asyncio.wait_for(self._wake.wait(), self._sleep())
                    except TimeoutError:  # retries may have come due
                        self._rescan = True
                while self._subscriptions and self._finished is not None:  # let sends finish
                    await asyncio.sleep(0.05)
                    await self._settle()
                    if not self._subscriptions:
                        break
            finally:
                await mqtt.close()

    def _sleep(self) -> float:
        """Until the next retry is due (1 s at most). Notifications due now are
        already known: they wait for their subscription's message in flight."""
        nxt = self._outbox.next_due()
        if nxt is None or nxt <= time.time():
            return 1.0
        return min(1.0, nxt - time.time())

    def _dispatch(self, http: httpx.AsyncClient, mqtt: MqttClients) -> None:
        """Start a message for every subscription with due notifications and a free
        slot. The whole outbox is looked at when something new was queued or a
        timer expired; otherwise (a message was settled) only the subscriptions
        just settled are, by index: a backlog drains without rescanning it."""
        limit = self._policy.concurrency
        busy = [e for e, n in self._per_endpoint.items() if n >= limit]
        if self._rescan:
            self._rescan = False
            self._settled.clear()
            groups = self._outbox.due(time.time(), MERGE, self._subscriptions, busy)
        else:
            keys, self._settled = self._settled - self._subscriptions, set()
            groups = self._outbox.due_for(keys, time.time(), MERGE, busy)
        for items in groups:
            endpoint = items[0].endpoint_key
            if self._per_endpoint[endpoint] >= limit:
                continue
            self._subscriptions.add((items[0].tenant, items[0].subscription_id))
            self._per_endpoint[endpoint] += 1
            asyncio.get_running_loop().create_task(self._send(items, http, mqtt))

    async def _send(self, items: list[Queued], http: httpx.AsyncClient,
                    mqtt: MqttClients) -> None:
        item = merged(items)
        try:
            if item.kind != "ngsi-ld":
                failure = await self._senders[item.kind](item, http, mqtt,
                                                         self._policy.timeout)
            elif item.uri[:4].lower() == "mqtt":
                failure = await mqtt.send(item, self._policy.timeout)
            else:
                failure = await send_http(http, item, self._policy.timeout)
        except Exception as exc:  # a sender bug must not lose the notification
            log.exception("sending notification %s failed", item.seq)
            failure = Failure(f"internal error: {exc}")
        at = self._now()
        seqs = tuple(i.seq for i in items)
        if failure is None:
            attempt = Attempt(seqs, item.tenant, item.subscription_id, item.endpoint_key,
                              at, ok=True)
        else:
            retry = None if failure.permanent else self._policy.retry_at(item.attempts + 1,
                                                                         time.time())
            if retry is None:
                log.warning("notification given up", extra={
                    "subscriptionId": item.subscription_id, "uri": item.uri,
                    "attempts": item.attempts + 1, "error": failure.error})
            attempt = Attempt(seqs, item.tenant, item.subscription_id, item.endpoint_key,
                              at, ok=False, error=failure.error, retry_at=retry)
        self._finished.append(attempt)
        assert self._wake is not None
        self._wake.set()

    async def _settle(self) -> None:
        if not self._finished:
            return
        batch, self._finished = self._finished, []
        await asyncio.to_thread(self._outbox.settle, batch)
        for a in batch:
            self._subscriptions.discard((a.tenant, a.subscription_id))
            self._settled.add((a.tenant, a.subscription_id))
            if self._per_endpoint[a.endpoint_key] >= self._policy.concurrency:
                self._rescan = True  # a busy endpoint's other subscriptions may go now
            self._per_endpoint[a.endpoint_key] -= 1
            if self._per_endpoint[a.endpoint_key] <= 0:
                del self._per_endpoint[a.endpoint_key]


def merged(items: list[Queued]) -> Queued:
    """Several queued notifications of one subscription as one message: the
    last one's envelope, every ``data`` in queue order (a notification carries
    a list of entities; a receiver that fell behind catches up in one request)."""
    last = items[-1]
    if len(items) == 1:
        return last
    if last.kind != "ngsi-ld":  # events for a person: one message lists them all (a digest)
        docs = [orjson.loads(i.payload) for i in items]
        doc = {**docs[-1], "events": [e for d in docs for e in d["events"]]}
        return dataclasses.replace(last, payload=orjson.dumps(doc),
                                   attempts=max(i.attempts for i in items))
    envelopes = [orjson.loads(i.payload) for i in items]
    mqtt = "body" in envelopes[-1] and "metadata" in envelopes[-1]
    bodies = [e["body"] for e in envelopes] if mqtt else envelopes
    body = {**bodies[-1], "data": [d for b in bodies for d in b["data"]]}
    payload = orjson.dumps({**envelopes[-1], "body": body} if mqtt else body)
    return dataclasses.replace(last, payload=payload,
                               attempts=max(i.attempts for i in items))
