"""The history codec: exact round trips, header without decoding, compactness, corruption."""

from __future__ import annotations

import contextlib
import math
import random
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bocage.history.codec import (
    CorruptChunk,
    Point,
    chunk_header,
    decode_chunk,
    decode_columns,
    encode_chunk,
    encode_columns,
)

INT64 = st.integers(-(2**63), 2**63 - 1)
TIMES = st.one_of(st.integers(-(2**62), 2**62 - 1), st.integers(0, 2_000_000_000_000))
JSON_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**80), 2**80),
    st.floats(allow_nan=True, allow_infinity=True), st.text(),
)
JSON = st.recursive(
    JSON_SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.text(max_size=6), inner, max_size=4)),
    max_leaves=12,
)
VALUES = st.one_of(
    st.floats(), st.floats(width=32).map(float), st.integers(), INT64, st.booleans(), st.none(),
    st.text(), st.sampled_from(["on", "off", "é∂🌳"]), JSON,
    st.decimals(places=2, min_value=-1000, max_value=1000, allow_nan=False).map(float),
)
EXTRAS = st.one_of(st.just(b""), st.sampled_from([b'{"unitCode":"CEL"}', b"x"]), st.binary())


def same(a: object, b: object, nested: bool = False) -> bool:
    """Equal, of the same type, floats bit for bit (NaN payloads and -0.0 included) except
    NaN inside lists and objects, which JSON can only carry as a plain NaN."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        if nested and math.isnan(a):
            return math.isnan(b)  # type: ignore[arg-type]
        return struct.pack("<d", a) == struct.pack("<d", b)  # type: ignore[arg-type]
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y, True) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(same(a[k], b[k], True) for k in a)
    return a == b


def assert_round_trip(points: list[Point]) -> bytes:
    data = encode_chunk(points)
    back = decode_chunk(data)
    assert len(back) == len(points)
    for before, after in zip(points, back, strict=True):
        assert before.t == after.t and type(after.t) is int
        assert same(before.value, after.value), (before, after)
        assert before.extra == after.extra and type(after.extra) is bytes
    if points:
        times = [p.t for p in points]
        assert chunk_header(data) == (min(times), max(times), len(points))
    else:
        assert chunk_header(data)[2] == 0
    return data


@settings(max_examples=300, deadline=None)
@given(st.lists(st.builds(Point, TIMES, VALUES, EXTRAS), max_size=40))
def test_any_point_list_round_trips(points: list[Point]) -> None:
    assert_round_trip(points)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(), min_size=1, max_size=200), st.integers(0, 2**40))
def test_any_float_series_round_trips_bit_exact(values: list[float], start: int) -> None:
    assert_round_trip([Point(start + 1000 * i, v) for i, v in enumerate(values)])


@settings(max_examples=100, deadline=None)
@given(st.lists(INT64, min_size=1, max_size=200))
def test_extreme_int64_series_round_trip(values: list[int]) -> None:
    assert_round_trip([Point(i, v) for i, v in enumerate(values)])


@settings(max_examples=50, deadline=None)
@given(st.lists(st.sampled_from([math.nan, -0.0, math.inf, -math.inf, 5e-324,
                                 1.7976931348623157e308, 0.1, 21.3]), min_size=1, max_size=100))
def test_special_floats_round_trip(values: list[float]) -> None:
    assert_round_trip([Point(7, v) for v in values])


def test_empty_and_single_point() -> None:
    assert_round_trip([])
    assert decode_chunk(encode_chunk([])) == []
    assert_round_trip([Point(1_764_115_200_000, 21.5, b"meta")])
    assert_round_trip([Point(-5, None)])


def test_equal_timestamps_keep_their_order() -> None:
    points = [Point(1000, v) for v in ["first", "second", 3, 4.5, True, None, [1], {"k": "v"}]]
    back = decode_chunk(assert_round_trip(points))
    assert [p.value for p in back] == [p.value for p in points]


def test_out_of_order_times_round_trip() -> None:
    assert_round_trip([Point(t, float(t)) for t in (30, 10, 20, 10, -4, 2**40)])


def test_nan_payload_and_negative_zero_among_decimals_stay_exact() -> None:
    odd_nan = struct.unpack("<d", struct.pack("<Q", 0x7FF8_0000_0000_1234))[0]
    values = [round(20 + i * 0.1, 1) for i in range(200)]
    values[17], values[90], values[150] = odd_nan, -0.0, 1 / 3
    assert_round_trip([Point(i * 600_000, v) for i, v in enumerate(values)])


def test_json_values_are_fresh_objects_per_point() -> None:
    geo = {"type": "Point", "coordinates": [4.85, 45.75]}
    back = decode_chunk(encode_chunk([Point(1, geo), Point(2, geo)]))
    assert back[0].value == geo and back[0].value is not back[1].value


def test_columns_match_points() -> None:
    points = [Point(i * 1000, i % 3 == 0, b"a" if i < 5 else b"b") for i in range(10)]
    columns = decode_columns(encode_chunk(points))
    assert columns.t == [p.t for p in points]
    assert columns.values == [p.value for p in points]
    assert columns.extras == [p.extra for p in points]
    assert columns.points() == points


def test_bad_input_is_refused_clearly() -> None:
    with pytest.raises(ValueError, match="same length"):
        encode_columns([1, 2], [1.0], [b"", b""])
    with pytest.raises(ValueError, match="int64"):
        encode_chunk([Point(2**64, 1.0)])
    with pytest.raises(ValueError, match="span"):
        encode_chunk([Point(-(2**63), 1.0), Point(2**63 - 1, 2.0)])
    with pytest.raises(TypeError, match="extra must be bytes"):
        encode_chunk([Point(1, 1.0, "text")])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not JSON"):
        encode_chunk([Point(1, {1, 2})])


def realistic_temperature(n: int) -> list[Point]:
    rnd = random.Random(1)
    level = 20.0
    points = []
    for i in range(n):
        level += rnd.gauss(0, 0.05)
        points.append(Point(1_764_115_200_000 + i * 600_000, round(level, 1),
                            b'{"unitCode":"CEL"}'))
    return points


def test_a_regular_sensor_series_costs_about_a_byte_a_point() -> None:
    points = realistic_temperature(5000)
    data = assert_round_trip(points)
    assert len(data) / len(points) < 1.0  # plain SQLite: 20-24 bytes a row


def test_corrupt_chunks_raise_corrupt_chunk() -> None:
    data = encode_chunk(realistic_temperature(300))
    with pytest.raises(CorruptChunk, match="version"):
        decode_chunk(b"\x09" + data[1:])
    with pytest.raises(CorruptChunk):
        decode_chunk(b"")
    for cut in (5, len(data) // 2, len(data) - 1):
        with pytest.raises(CorruptChunk):
            decode_chunk(data[:cut])
    with pytest.raises(CorruptChunk, match="trailing"):
        decode_chunk(data + b"\x00")


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=80))
def test_garbage_never_crashes_with_anything_but_corrupt_chunk(blob: bytes) -> None:
    with contextlib.suppress(CorruptChunk):
        decode_chunk(b"\x01" + blob)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.builds(Point, TIMES, VALUES, EXTRAS), min_size=1, max_size=20),
       st.data())
def test_damaged_chunks_raise_corrupt_chunk_or_decode(points: list[Point],
                                                      data: st.DataObject) -> None:
    chunk = bytearray(encode_chunk(points))
    at = data.draw(st.integers(1, len(chunk) - 1))
    chunk[at] = data.draw(st.integers(0, 255))
    with contextlib.suppress(CorruptChunk):
        decode_chunk(bytes(chunk))


# Written by the first encoder (format version 1, main at e845ffa), before times were
# stored against a regular clock: chunks stored then must stay readable.
VERSION_1_CHUNK = bytes.fromhex(
    "010880e0add7d76698b1800264121000e8e8d2e8e8d2e8002e2e2e2e2e2e2eff0008040400020506030411010e"
    "010118136398358b61e64c386a909c69ca70d481c11e00010003026f6e000001002d2c007b2274797065223a22"
    "506f696e74222c22636f6f7264696e61746573223a5b342e38352c34352e37355d7d00000300050163000167"
    "04010404060204010400020402"
)


def test_version_1_chunks_are_still_read() -> None:
    times = [1764115200000, 1764115800400, 1764116400800, 1764117000100, 1764117600500,
             1764118200900, 1764118800200, 1764119400600]
    values = [21.5, 21.6, None, True, "on", {"type": "Point", "coordinates": [4.85, 45.75]}, 7,
              math.inf]
    extras = [b"c", b"c", b"", b"", b"", b"g", b"", b""]
    assert decode_chunk(VERSION_1_CHUNK) == [
        Point(t, v, e) for t, v, e in zip(times, values, extras, strict=True)]
    assert chunk_header(VERSION_1_CHUNK) == (times[0], times[-1], 8)
    assert encode_chunk(decode_chunk(VERSION_1_CHUNK))[0] == 2
