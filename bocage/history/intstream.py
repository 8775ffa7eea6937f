"""Integer columns packed for the history codec: deltas, zigzag, byte planes, raw deflate.

A column of int64 is written as::

    byte    order (0, 1 or 2: how many times it was differenced) << 4 | width code
    varint  payload length
    bytes   payload: the zigzagged differences as ``width`` byte planes (all low bytes,
            then all second bytes...), raw-deflated when that is smaller (bit 3 of the
            first byte)

Width 0 means every difference is zero: no payload at all (a perfectly regular clock).
All arithmetic is modular on 64 bits, so any int64 column round-trips exactly whatever
its order; the choice of order only changes the size. Byte planes let deflate's Huffman
coding see the mostly-zero high bytes apart from the noisy low bytes; this is what makes
vectorised (numpy) packing competitive with bit-level Gorilla coding.
"""

from __future__ import annotations

import zlib

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]

_WIDTHS = (0, 1, 2, 4, 8)
_DEFLATED = 0x08
_LEVEL = 6
_SMALL = 24  # columns this short are read without numpy
_HALF, _FULL = 1 << 63, 1 << 64


class CorruptChunk(ValueError):
    """The bytes are not a chunk this codec wrote (truncated, wrong version, bad sizes)."""


def write_varint(out: bytearray, value: int) -> None:
    if value < 0:
        raise ValueError("varint must be non-negative")
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def read_varint(data: bytes | memoryview, pos: int) -> tuple[int, int]:
    result = shift = 0
    try:
        while True:
            byte = data[pos]
            pos += 1
            result |= (byte & 0x7F) << shift
            if byte < 0x80:
                return result, pos
            shift += 7
            if shift > 70:
                raise CorruptChunk("varint too long")
    except IndexError:
        raise CorruptChunk("truncated chunk") from None


def zigzag(value: int) -> int:
    return value * 2 if value >= 0 else -value * 2 - 1


def unzigzag(value: int) -> int:
    return value >> 1 if not value & 1 else -(value >> 1) - 1


def deflate(raw: bytes) -> bytes:
    packer = zlib.compressobj(_LEVEL, zlib.DEFLATED, -15)
    return packer.compress(raw) + packer.flush()


def inflate(packed: bytes | memoryview, size: int) -> bytes:
    try:
        raw = zlib.decompress(packed, -15, max(size, 1))
    except zlib.error as exc:
        raise CorruptChunk(f"bad deflate stream: {exc}") from None
    if len(raw) != size:
        raise CorruptChunk("deflate stream has the wrong size")
    return raw


def write_bytes(out: bytearray, raw: bytes) -> None:
    """A byte block: flag byte (1 = deflated), varint raw size, [varint packed size], body."""
    packed = deflate(raw) if len(raw) > 16 else raw
    if len(packed) < len(raw):
        out.append(1)
        write_varint(out, len(raw))
        write_varint(out, len(packed))
        out += packed
    else:
        out.append(0)
        write_varint(out, len(raw))
        out += raw


def read_bytes(data: bytes | memoryview, pos: int) -> tuple[bytes, int]:
    try:
        flag = data[pos]
    except IndexError:
        raise CorruptChunk("truncated chunk") from None
    size, pos = read_varint(data, pos + 1)
    if flag == 1:
        packed_size, pos = read_varint(data, pos)
        end = pos + packed_size
        if end > len(data):
            raise CorruptChunk("truncated chunk")
        return inflate(data[pos:end], size), end
    if flag != 0:
        raise CorruptChunk(f"unknown block flag {flag}")
    end = pos + size
    if end > len(data):
        raise CorruptChunk("truncated chunk")
    return bytes(data[pos:end]), end


def _difference(values: U64, order: int) -> U64:
    out = values
    if not out.size:
        return out
    for _ in range(order):
        shifted = np.empty_like(out)
        shifted[0] = 0
        shifted[1:] = out[:-1]
        out = out - shifted  # uint64: modular, never raises
    return out


def _planes(zz: U64) -> tuple[int, bytes]:
    top = int(zz.max()) if zz.size else 0
    width = next(w for w in _WIDTHS if top < (1 << (8 * w)))
    if width == 0:
        return 0, b""
    narrow = zz.astype(f"<u{width}")
    return width, narrow.view(np.uint8).reshape(-1, width).T.tobytes()


def _encode_order(values: U64, order: int) -> tuple[int, int, bytes]:
    diff = _difference(values, order).view(np.int64)
    zz = ((diff << 1) ^ (diff >> 63)).view(np.uint64)
    width, raw = _planes(zz)
    flags = 0
    if len(raw) > 16:
        packed = deflate(raw)
        if len(packed) < len(raw):
            raw, flags = packed, _DEFLATED
    return order << 4 | flags | _WIDTHS.index(width), len(raw), raw


def write_ints(out: bytearray, values: I64, orders: tuple[int, ...] = (1, 2)) -> None:
    """Append an int64 column, keeping the smallest of the given difference orders."""
    unsigned = np.ascontiguousarray(values, dtype=np.int64).view(np.uint64)
    best = min((_encode_order(unsigned, order) for order in orders), key=lambda c: c[1])
    head, size, payload = best
    out.append(head)
    write_varint(out, size)
    out += payload


def read_ints(data: bytes | memoryview, pos: int, count: int) -> tuple[I64, int]:
    """Read ``count`` int64 values written by :func:`write_ints`; returns (values, new pos)."""
    try:
        head = data[pos]
    except IndexError:
        raise CorruptChunk("truncated chunk") from None
    order, deflated, code = head >> 4, head & _DEFLATED, head & 0x07
    if order > 2 or code >= len(_WIDTHS):
        raise CorruptChunk(f"bad integer column header {head:#x}")
    size, pos = read_varint(data, pos + 1)
    end = pos + size
    if end > len(data):
        raise CorruptChunk("truncated chunk")
    width = _WIDTHS[code]
    raw: bytes | memoryview = b""
    if width:
        raw = inflate(data[pos:end], count * width) if deflated else data[pos:end]
        if len(raw) != count * width:
            raise CorruptChunk("integer column has the wrong size")
    if count <= _SMALL:
        return _read_small(raw, width, count, order), end
    if width == 0:
        zz = np.zeros(count, dtype=np.uint64)
    elif width == 1:
        zz = np.frombuffer(raw, dtype=np.uint8).astype(np.uint64)
    else:
        planes = np.frombuffer(raw, dtype=np.uint8).reshape(width, count)
        zz = np.ascontiguousarray(planes.T).view(f"<u{width}").reshape(count).astype(np.uint64)
    diff = (zz >> np.uint64(1)) ^ (np.uint64(0) - (zz & np.uint64(1)))
    for _ in range(order):
        diff = np.cumsum(diff, dtype=np.uint64)
    return diff.view(np.int64), end


def _read_small(raw: bytes | memoryview, width: int, count: int, order: int) -> I64:
    # A few values (a run list, a short chunk): plain Python beats a dozen numpy calls.
    values = []
    for i in range(count):
        zz = 0
        for plane in range(width):
            zz |= raw[plane * count + i] << (8 * plane)
        values.append((zz >> 1) ^ -(zz & 1))
    for _ in range(order):
        total = 0
        for i, value in enumerate(values):
            total = (total + value + _HALF) % _FULL - _HALF  # int64 wrap-around, as numpy
            values[i] = total
    return np.array(values, dtype=np.int64)
