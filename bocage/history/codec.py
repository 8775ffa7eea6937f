"""One attribute's time chunk, compressed: the history codec (format version 2; reads 1).

A chunk holds the instances of one attribute of one entity over a span of time, as
``Point(t, value, extra)``. The layout (all varints unsigned LEB128, "column" =
:mod:`bocage.history.intstream`)::

    byte    version (2; version 1, read still, lacked the step and base varints)
    varint  count
    varint  zigzag(t_min)          \\  the header: chunk_header() reads only these,
    varint  t_max - t_min          /   so a store can index chunks without decoding
    -- timestamps (absent when count == 0)
    varint  scale: gcd of (t - t_min), e.g. 1000 when every time is on a whole second
    varint  zigzag(step): the median interval, in units of scale
    varint  zigzag(base): the median distance to the clock t_min + i * step * scale
    column  (t - t_min) / scale - i * step - base: the distance to a regular clock, as deltas
            or as delta-of-deltas, whichever is smallest (a perfect clock costs nothing;
            device jitter costs its own entropy, not twice it as plain delta-of-delta would)
    -- value kinds
    byte    the one kind of every value, or 0xFF then a byte block of one kind per point
    -- one section per kind present, in kind order
    int     column of the ints
    float   byte 0 = decimal: byte k, column of round(x * 10^k), varint n exceptions,
                 [column of their indices, byte block of their raw IEEE bits]
            byte 1 = XOR: byte block of the 8 byte planes of bits(x[i]) XOR bits(x[i-1])
    str     dictionary (varint size, byte block of length-prefixed UTF-8), column of indices
    json    dictionary of serialised values (a parser byte each), column of indices
    -- extras
    dictionary of distinct ``extra`` byte strings, varint n runs,
    column of run lengths, column of run dictionary indices

Booleans and nulls cost nothing beyond their kind. A float column is stored as scaled
integers when every value is the double nearest to a decimal with k <= 12 digits (what a
sensor sends: 21.3, 415.0, 0.125); values that are not (NaN, -0.0, 1/3) are kept bit-exact
as exceptions, and when they are many the column falls back to Gorilla-style XOR.
Decoded JSON values are fresh objects per point; strings and ``extra`` bytes are shared.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import orjson

from bocage.history.intstream import (
    I64,
    CorruptChunk,
    read_bytes,
    read_ints,
    read_varint,
    unzigzag,
    write_bytes,
    write_ints,
    write_varint,
    zigzag,
)

__all__ = ["Columns", "CorruptChunk", "Point", "chunk_header", "decode_chunk",
           "decode_columns", "encode_chunk", "encode_columns"]

VERSION = 2
READABLE = (1, 2)  # version 1 had no regular clock: times were plain (t - t_min) / scale
MAX_POINTS = 1 << 24  # bounds what a corrupt header can make the decoder allocate

NULL, FALSE, TRUE, INT, FLOAT, STR, JSON = range(7)
_MIXED = 0xFF
_CONSTANTS: dict[int, object] = {NULL: None, FALSE: False, TRUE: True}
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1
_MAX_DIGITS = 12
_SAFE = float(1 << 53)
_PARSER_ORJSON, _PARSER_JSON = 0, 1


@dataclass(frozen=True, slots=True)
class Point:
    """One attribute instance: its time (ms since the Unix epoch, UTC), value and the rest."""

    t: int
    value: object
    extra: bytes = b""


@dataclass(frozen=True, slots=True)
class Columns:
    """A decoded chunk as three parallel lists (cheaper than building one Point each)."""

    t: list[int]
    values: list[object]
    extras: list[bytes]

    def points(self) -> list[Point]:
        return _build_points(self.t, self.values, self.extras)


def _build_points(times: list[int], values: list[object], extras: list[bytes]) -> list[Point]:
    # Filling the slots directly is twice as fast as the frozen dataclass __init__ (which
    # goes through object.__setattr__), and decoding is mostly this loop.
    new = object.__new__
    slots = vars(Point)
    set_t, set_value, set_extra = (slots[name].__set__ for name in ("t", "value", "extra"))
    points: list[Point] = []
    append = points.append
    for t, value, extra in zip(times, values, extras, strict=True):
        point = new(Point)
        set_t(point, t)
        set_value(point, value)
        set_extra(point, extra)
        append(point)
    return points


def encode_chunk(points: Sequence[Point]) -> bytes:
    """Compress points (in time order for the best ratio; any order round-trips)."""
    return encode_columns([p.t for p in points], [p.value for p in points],
                          [p.extra for p in points])


def decode_chunk(data: bytes) -> list[Point]:
    """The exact points given to :func:`encode_chunk`, in the same order."""
    return decode_columns(data).points()


def chunk_header(data: bytes) -> tuple[int, int, int]:
    """``(t_min, t_max, count)`` of a chunk, reading only its first bytes."""
    pos = _check_version(data)
    count, pos = read_varint(data, pos)
    t_min, pos = read_varint(data, pos)
    span, pos = read_varint(data, pos)
    return unzigzag(t_min), unzigzag(t_min) + span, count


# --- encoding -------------------------------------------------------------------------------


def encode_columns(times: Sequence[int], values: Sequence[object],
                   extras: Sequence[bytes]) -> bytes:
    """Compress three parallel columns; see the module docstring for the layout."""
    count = len(times)
    if len(values) != count or len(extras) != count:
        raise ValueError("times, values and extras must have the same length")
    if count > MAX_POINTS:
        raise ValueError(f"a chunk holds at most {MAX_POINTS} points")
    out = bytearray([VERSION])
    write_varint(out, count)
    if count == 0:
        write_varint(out, 0)
        write_varint(out, 0)
        return bytes(out)
    _write_times(out, times)
    _write_values(out, values)
    _write_extras(out, extras)
    return bytes(out)


def _write_times(out: bytearray, times: Sequence[int]) -> None:
    try:
        t = np.array(times, dtype=np.int64)
    except (OverflowError, TypeError, ValueError):
        raise ValueError("times must be integers (ms) within the int64 range") from None
    if t.ndim != 1:
        raise ValueError("times must be a flat sequence of integers")
    t_min, t_max = int(t.min()), int(t.max())
    if t_max - t_min > _INT64_MAX:
        raise ValueError("a chunk cannot span more than 2**63 - 1 ms")
    write_varint(out, zigzag(t_min))
    write_varint(out, t_max - t_min)
    offsets = (t.view(np.uint64) - np.uint64(t_min & ((1 << 64) - 1))).view(np.int64)
    scale = int(np.gcd.reduce(offsets)) or 1
    write_varint(out, scale)
    units = offsets // scale if scale > 1 else offsets
    step = int(np.median(np.diff(units))) if len(units) > 1 else 0
    residuals = units - np.arange(len(units), dtype=np.int64) * step
    base = int(np.median(residuals))  # centred, jitter zigzags to half the magnitude
    write_varint(out, zigzag(step))
    write_varint(out, zigzag(base))
    write_ints(out, residuals - base, orders=(0, 1, 2))


def _kind(value: object) -> int:
    kind = type(value)
    if kind is float:
        return FLOAT
    if kind is str:
        return STR
    if kind is bool:
        return TRUE if value else FALSE
    if kind is int:
        return INT if _INT64_MIN <= value <= _INT64_MAX else JSON  # type: ignore[operator]
    if value is None:
        return NULL
    return JSON


def _write_values(out: bytearray, values: Sequence[object]) -> None:
    types = set(map(type, values))
    if len(types) == 1 and types <= {float, str, type(None)}:
        kinds = bytes([_kind(values[0])])  # the common case: no per-point kind needed
    elif types == {int} and _fits_int64(values):  # a counter or an index: no kind per point
        kinds = bytes([INT])
    else:
        kinds = bytes(map(_kind, values))
    present = sorted(set(kinds))
    if len(present) == 1:
        out.append(present[0])
        groups: dict[int, Sequence[object]] = {present[0]: values}
    else:
        out.append(_MIXED)
        write_bytes(out, kinds)
        groups = {k: [v for v, kk in zip(values, kinds, strict=True) if kk == k]
                  for k in present if k not in _CONSTANTS}
    for kind, group in groups.items():
        if kind == INT:
            write_ints(out, np.array(group, dtype=np.int64))
        elif kind == FLOAT:
            _write_floats(out, np.array(group, dtype=np.float64))
        elif kind == STR:
            _write_dictionary(out, group, _str_entry)
        elif kind == JSON:
            _write_dictionary(out, group, _json_entry)


def _fits_int64(values: Sequence[object]) -> bool:
    ints: Sequence[int] = values  # type: ignore[assignment]
    return min(ints) >= _INT64_MIN and max(ints) <= _INT64_MAX


def _write_floats(out: bytearray, x: np.ndarray) -> None:
    bits = x.view(np.int64)
    best: tuple[int, np.ndarray, np.ndarray] | None = None
    with np.errstate(all="ignore"):
        for digits in range(_MAX_DIGITS + 1):
            power = 10.0**digits
            scaled = x * power
            ok = np.isfinite(scaled) & (np.abs(scaled) < _SAFE)
            ints = np.rint(np.where(ok, scaled, 0.0)).astype(np.int64)
            ok &= (ints.astype(np.float64) / power).view(np.int64) == bits
            if best is None or int(ok.sum()) > int(best[2].sum()):
                best = (digits, ints, ok)
            if best[2].all():
                break
    assert best is not None
    digits, ints, ok = best
    misses = np.flatnonzero(~ok)
    if len(misses) * 16 > len(x):
        out.append(1)
        previous = np.empty_like(bits)
        previous[0] = 0
        previous[1:] = bits[:-1]
        xor = (bits ^ previous).astype("<i8")
        write_bytes(out, xor.view(np.uint8).reshape(-1, 8).T.tobytes())
        return
    out.append(0)
    out.append(digits)
    if len(misses):
        # An exception takes the previous good value, so it costs no extra delta.
        good = np.where(ok, np.arange(len(x)), 0)
        ints = np.where(ok, ints, 0)[np.maximum.accumulate(good)]
    write_ints(out, ints)
    write_varint(out, len(misses))
    if len(misses):
        write_ints(out, misses.astype(np.int64), orders=(1,))
        write_bytes(out, bits[misses].astype("<i8").tobytes())


def _str_entry(value: str) -> bytes:
    return value.encode("utf-8", "surrogatepass")


def _json_entry(value: object) -> bytes:
    try:
        text = orjson.dumps(value)
    except TypeError:
        text = b""
    # orjson writes NaN and infinities as null: those (and big ints, lone surrogates) go
    # through the standard library, whose output is exact for them.
    if not text or b"null" in text:
        try:
            text = json.dumps(value, allow_nan=True, separators=(",", ":")).encode("ascii")
        except (TypeError, ValueError) as exc:
            raise TypeError(f"value is not JSON: {exc}") from None
        return bytes([_PARSER_JSON]) + text
    return bytes([_PARSER_ORJSON]) + text


def _write_entries(out: bytearray, entries: Sequence[bytes]) -> None:
    write_varint(out, len(entries))
    block = bytearray()
    for entry in entries:
        write_varint(block, len(entry))
        block += entry
    write_bytes(out, bytes(block))


def _write_dictionary(out: bytearray, group: Sequence[object], to_bytes: object) -> None:
    index: dict[bytes, int] = {}
    positions = [index.setdefault(to_bytes(v), len(index)) for v in group]  # type: ignore[operator]
    _write_entries(out, list(index))
    write_ints(out, np.array(positions, dtype=np.int64), orders=(0, 1))


def _write_extras(out: bytearray, extras: Sequence[bytes]) -> None:
    index: dict[bytes, int] = {}
    lengths: list[int] = []
    entries: list[int] = []
    for extra, run in itertools.groupby(extras):
        if not isinstance(extra, bytes):
            raise TypeError(f"extra must be bytes, got {type(extra).__name__}")
        entries.append(index.setdefault(extra, len(index)))
        lengths.append(sum(1 for _ in run))
    _write_entries(out, list(index))
    write_varint(out, len(lengths))
    write_ints(out, np.array(lengths, dtype=np.int64), orders=(0,))
    write_ints(out, np.array(entries, dtype=np.int64), orders=(0, 1))


# --- decoding -------------------------------------------------------------------------------


def _check_version(data: bytes) -> int:
    if not data:
        raise CorruptChunk("empty chunk")
    if data[0] not in READABLE:
        raise CorruptChunk(f"unknown chunk format version {data[0]}")
    return 1


def decode_columns(data: bytes) -> Columns:
    """Decode a chunk into parallel lists of times, values and extras."""
    try:
        return _decode_columns(data)
    except CorruptChunk:
        raise
    except (ValueError, IndexError, KeyError, TypeError, OverflowError) as exc:
        # A damaged dictionary entry (bad UTF-8, bad JSON) surfaces here.
        raise CorruptChunk(f"damaged chunk: {exc}") from exc


def _decode_columns(data: bytes) -> Columns:
    view = memoryview(data)
    pos = _check_version(data)
    count, pos = read_varint(view, pos)
    t_min, pos = read_varint(view, pos)
    _span, pos = read_varint(view, pos)
    if count == 0:
        return Columns([], [], [])
    if count > MAX_POINTS:
        raise CorruptChunk("count larger than a chunk may hold")
    scale, pos = read_varint(view, pos)
    step = base = 0
    if data[0] >= 2:
        step, pos = read_varint(view, pos)
        base, pos = read_varint(view, pos)
    residuals, pos = read_ints(view, pos, count)
    step, base = unzigzag(step), unzigzag(base)
    if step:
        clock = np.arange(count, dtype=np.int64)
        clock *= np.int64(step)  # wraps like the encoder's arithmetic
        residuals = residuals + clock + np.int64(base)
    elif base:
        residuals = residuals + np.int64(base)
    if scale != 1:
        residuals = residuals * np.int64(scale)
    times = (residuals + np.int64(unzigzag(t_min))).tolist()
    values, pos = _read_values(view, pos, count)
    extras, pos = _read_extras(view, pos, count)
    if pos != len(data):
        raise CorruptChunk("trailing bytes after the chunk")
    return Columns(times, values, extras)


def _read_values(view: memoryview, pos: int, count: int) -> tuple[list[object], int]:
    if pos >= len(view):
        raise CorruptChunk("truncated chunk")
    head = view[pos]
    pos += 1
    if head != _MIXED:
        if head in _CONSTANTS:
            return [_CONSTANTS[head]] * count, pos
        return _read_group(view, pos, head, count)
    kinds_raw, pos = read_bytes(view, pos)
    if len(kinds_raw) != count:
        raise CorruptChunk("kind block has the wrong size")
    kinds = np.frombuffer(kinds_raw, dtype=np.uint8)
    present = np.bincount(kinds, minlength=7)
    if len(present) > 7:
        raise CorruptChunk("unknown value kind")
    result = np.empty(count, dtype=object)
    for kind in range(7):
        if not present[kind]:
            continue
        where = kinds == kind
        if kind in _CONSTANTS:
            result[where] = _CONSTANTS[kind]
            continue
        group, pos = _read_group(view, pos, kind, int(present[kind]))
        holder = np.empty(len(group), dtype=object)
        holder[:] = group
        result[where] = holder
    return result.tolist(), pos


def _read_group(view: memoryview, pos: int, kind: int, count: int) -> tuple[list[object], int]:
    if kind == INT:
        ints, pos = read_ints(view, pos, count)
        return ints.tolist(), pos
    if kind == FLOAT:
        return _read_floats(view, pos, count)
    if kind == STR:
        entries, positions, pos = _read_dictionary(view, pos, count)
        texts = [e.decode("utf-8", "surrogatepass") for e in entries]
        return [texts[i] for i in positions], pos
    if kind == JSON:
        entries, positions, pos = _read_dictionary(view, pos, count)
        parsers = [_parser(entry) for entry in entries]
        payloads = [entry[1:] for entry in entries]
        return [parsers[i](payloads[i]) for i in positions], pos
    raise CorruptChunk(f"unknown value kind {kind}")


def _read_floats(view: memoryview, pos: int, count: int) -> tuple[list[object], int]:
    if pos + 1 >= len(view):
        raise CorruptChunk("truncated chunk")
    mode = view[pos]
    if mode == 1:
        raw, pos = read_bytes(view, pos + 1)
        if len(raw) != count * 8:
            raise CorruptChunk("float block has the wrong size")
        planes = np.frombuffer(raw, dtype=np.uint8).reshape(8, count)
        xor = np.ascontiguousarray(planes.T).view("<u8").reshape(count)
        bits = np.bitwise_xor.accumulate(xor)
        return bits.view(np.float64).tolist(), pos
    if mode != 0:
        raise CorruptChunk(f"unknown float mode {mode}")
    digits = view[pos + 1]
    if digits > _MAX_DIGITS:
        raise CorruptChunk("bad decimal scale")
    ints, pos = read_ints(view, pos + 2, count)
    x = ints.astype(np.float64) / 10.0**digits
    misses, pos = read_varint(view, pos)
    if misses:
        if misses > count:
            raise CorruptChunk("more exceptions than values")
        where, pos = read_ints(view, pos, misses)
        raw, pos = read_bytes(view, pos)
        if len(raw) != misses * 8 or where.min() < 0 or where.max() >= count:
            raise CorruptChunk("bad float exceptions")
        x[where] = np.frombuffer(raw, dtype="<f8")
    return x.tolist(), pos


def _parser(entry: bytes) -> Callable[[bytes], object]:
    """How to parse a JSON dictionary entry (each point gets a fresh object)."""
    if entry[:1] == bytes([_PARSER_ORJSON]):
        return orjson.loads
    if entry[:1] == bytes([_PARSER_JSON]):
        return _parse_standard
    raise CorruptChunk("unknown JSON parser tag")


def _parse_standard(payload: bytes) -> object:
    return json.loads(payload, parse_constant=_constant)


def _constant(name: str) -> float:
    return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}[name]


def _read_entries(view: memoryview, pos: int) -> tuple[list[bytes], int]:
    size, pos = read_varint(view, pos)
    block, pos = read_bytes(view, pos)
    entries: list[bytes] = []
    at = 0
    for _ in range(size):
        length, at = read_varint(block, at)
        if at + length > len(block):
            raise CorruptChunk("truncated dictionary")
        entries.append(block[at:at + length])
        at += length
    if at != len(block):
        raise CorruptChunk("dictionary has trailing bytes")
    return entries, pos


def _read_dictionary(view: memoryview, pos: int,
                     count: int) -> tuple[list[bytes], list[int], int]:
    entries, pos = _read_entries(view, pos)
    positions, pos = read_ints(view, pos, count)
    _check_indices(positions, len(entries))
    return entries, positions.tolist(), pos


def _check_indices(positions: I64, size: int) -> None:
    if len(positions) and (positions.min() < 0 or positions.max() >= size):
        raise CorruptChunk("dictionary index out of range")


def _read_extras(view: memoryview, pos: int, count: int) -> tuple[list[bytes], int]:
    entries, pos = _read_entries(view, pos)
    runs, pos = read_varint(view, pos)
    if runs > count:
        raise CorruptChunk("more runs than points")
    column, pos = read_ints(view, pos, runs)
    lengths: list[int] = column.tolist()
    column, pos = read_ints(view, pos, runs)
    which: list[int] = column.tolist()
    # Run lists are short: Python checks them faster than numpy reductions would.
    if which and (min(which) < 0 or max(which) >= len(entries)):
        raise CorruptChunk("dictionary index out of range")
    if lengths and (min(lengths) < 1 or sum(lengths) != count):
        raise CorruptChunk("extra runs do not cover the chunk")
    if runs == 1:
        return [entries[which[0]]] * count, pos
    extras: list[bytes] = []
    for entry, length in zip(which, lengths, strict=True):
        extras.extend(itertools.repeat(entries[entry], length))
    return extras, pos
