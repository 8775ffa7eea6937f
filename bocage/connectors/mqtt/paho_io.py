"""Fewer system calls for paho-mqtt under aiomqtt: buffered reads, PUBACKs sent together.

paho reads a packet with one ``recv`` for its first byte, one per byte of its
remaining length and one for the rest -- four system calls per uplink -- and
aiomqtt lets it read one packet per wake-up of the event loop. It writes each
PUBACK with its own ``send``. At a few thousand messages per second those
system calls cost more than the rest of the connector. So, on one paho client:

* its socket is read 64 KiB at a time; paho is served from that buffer, and
  ``loop_read`` goes on while the buffer holds bytes (the socket would not wake
  the loop again for bytes already read);
* the PUBACKs of a committed batch go out as one write: the same bytes, in the
  same order, as ``ack(mid, 1)`` for each would queue.

Both lean on paho's internals (``_sock_recv``, ``loop_read``, ``_packet_queue``,
as of paho-mqtt 2.x); when they are not there the client is left as it is and
acknowledgements go through ``ack`` one by one.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable, Sequence
from typing import Any

from paho.mqtt.client import PUBACK
from paho.mqtt.enums import MQTTErrorCode

log = logging.getLogger("bocage.ingest.mqtt")

_CHUNK = 65_536
_PUBACK = struct.Struct("!BBH")


class BufferedReader:
    """Serves paho's small ``recv`` calls from one large read of the socket."""

    def __init__(self, recv: Callable[[int], bytes]) -> None:
        self._recv = recv
        self._buf = b""
        self._pos = 0

    def buffered(self) -> int:
        return len(self._buf) - self._pos

    def recv(self, size: int) -> bytes:
        if self._pos >= len(self._buf):
            data = self._recv(_CHUNK)  # raises BlockingIOError when nothing is there
            if not data:
                return data  # end of stream: paho sees the connection closed
            if len(data) <= size:
                return data
            self._buf, self._pos = data, 0
        end = self._pos + size
        chunk = self._buf[self._pos:end]
        self._pos = end
        if self._pos >= len(self._buf):
            self._buf, self._pos = b"", 0
        return chunk


def buffer_reads(paho: Any) -> BufferedReader | None:
    """Install a :class:`BufferedReader` on a paho client (before it connects)."""
    recv = getattr(paho, "_sock_recv", None)
    loop_read = getattr(paho, "loop_read", None)
    if recv is None or loop_read is None:
        return None
    reader = BufferedReader(recv)

    def read(max_packets: int = 1) -> MQTTErrorCode:
        rc: MQTTErrorCode = loop_read(max_packets)
        while rc == MQTTErrorCode.MQTT_ERR_SUCCESS and reader.buffered() \
                and getattr(paho, "_sock", None) is not None:
            rc = loop_read(max_packets)
        return rc

    paho._sock_recv = reader.recv
    paho.loop_read = read
    return reader


def acknowledger(paho: Any) -> Callable[[Sequence[tuple[int, int]]], None]:
    """A function acknowledging (mid, qos) pairs, in order, QoS 1 ones in one write."""
    queue = getattr(paho, "_packet_queue", None)

    def one_by_one(acks: Sequence[tuple[int, int]]) -> None:
        for mid, qos in acks:
            paho.ack(mid, qos)

    if queue is None:
        return one_by_one

    def ack_all(acks: Sequence[tuple[int, int]]) -> None:
        pubacks: list[bytes] = []
        for mid, qos in acks:
            if qos == 1:
                pubacks.append(_PUBACK.pack(PUBACK, 2, mid))
                continue
            if pubacks:  # keep the order: what came before goes first
                queue(PUBACK, b"".join(pubacks), 0, 1)
                pubacks = []
            paho.ack(mid, qos)
        if pubacks:
            queue(PUBACK, b"".join(pubacks), 0, 1)

    return ack_all
