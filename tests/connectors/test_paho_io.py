"""Buffered reads and grouped PUBACKs for paho: the same bytes, fewer system calls."""

from __future__ import annotations

import struct
from typing import Any

import pytest
from paho.mqtt.client import PUBACK, PUBCOMP

from bocage.connectors.mqtt.paho_io import BufferedReader, acknowledger


class Socket:
    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.calls = 0

    def recv(self, size: int) -> bytes:
        self.calls += 1
        if not self.chunks:
            raise BlockingIOError()
        return self.chunks.pop(0)[:size]


def test_small_reads_are_served_from_one_large_read() -> None:
    sock = Socket([b"\x30\x05hello\x30\x03abc", b""])
    reader = BufferedReader(sock.recv)
    assert [reader.recv(1), reader.recv(1), reader.recv(5)] == [b"\x30", b"\x05", b"hello"]
    assert reader.buffered() == 5
    assert [reader.recv(1), reader.recv(1), reader.recv(10)] == [b"\x30", b"\x03", b"abc"]
    assert sock.calls == 1
    assert reader.recv(1) == b""  # end of stream reaches paho as it is
    with pytest.raises(BlockingIOError):  # nothing there: paho waits for the next wake-up
        reader.recv(1)


class Paho:
    def __init__(self) -> None:
        self.out: list[bytes] = []

    def _packet_queue(self, command: int, packet: bytes, mid: int, qos: int) -> None:
        self.out.append(packet)

    def ack(self, mid: int, qos: int) -> None:
        if qos == 1:
            self.out.append(struct.pack("!BBH", PUBACK, 2, mid))
        elif qos == 2:
            self.out.append(struct.pack("!BBH", PUBCOMP, 2, mid))


def test_pubacks_go_out_together_in_order() -> None:
    grouped, single = Paho(), Paho()
    acks = [(1, 1), (2, 1), (3, 0), (4, 2), (5, 1), (6, 1)]
    acknowledger(grouped)(acks)
    for mid, qos in acks:
        single.ack(mid, qos)
    assert b"".join(grouped.out) == b"".join(single.out)  # the same bytes on the wire
    assert len(grouped.out) == 3  # [1, 2], PUBCOMP 4, [5, 6]


def test_without_paho_internals_each_message_is_acknowledged() -> None:
    class Plain:
        def __init__(self) -> None:
            self.acked: list[Any] = []

        def ack(self, mid: int, qos: int) -> None:
            self.acked.append((mid, qos))

    plain = Plain()
    acknowledger(plain)([(1, 1), (2, 1)])
    assert plain.acked == [(1, 1), (2, 1)]
