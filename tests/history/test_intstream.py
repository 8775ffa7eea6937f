"""Integer columns: every int64 array round-trips whatever the order, width and length."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bocage.history.intstream import (
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

INT64 = st.integers(-(2**63), 2**63 - 1)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.lists(INT64, max_size=60), st.lists(st.integers(-300, 300), max_size=300),
                 st.lists(st.just(7), max_size=100)),
       st.sampled_from([(0,), (1,), (2,), (0, 1, 2)]))
def test_int_columns_round_trip(values: list[int], orders: tuple[int, ...]) -> None:
    out = bytearray(b"\xaa")
    write_ints(out, np.array(values, dtype=np.int64), orders)
    out += b"\xbb"
    back, end = read_ints(bytes(out), 1, len(values))
    assert back.dtype == np.int64 and back.tolist() == values
    assert out[end:] == b"\xbb"


def test_short_and_long_columns_agree() -> None:
    # Short columns are read by plain Python, long ones by numpy: same wrap-around.
    values = [2**63 - 1, -(2**63), 5, -5, 2**62] * 10
    for size in (1, 5, 24, 25, 50):
        out = bytearray()
        write_ints(out, np.array(values[:size], dtype=np.int64), (2,))
        assert read_ints(bytes(out), 0, size)[0].tolist() == values[:size]


@given(st.integers(0, 2**70))
def test_varints(value: int) -> None:
    out = bytearray()
    write_varint(out, value)
    assert read_varint(bytes(out), 0) == (value, len(out))


@given(st.integers(-(2**70), 2**70))
def test_zigzag(value: int) -> None:
    assert zigzag(value) >= 0 and unzigzag(zigzag(value)) == value


@given(st.binary(max_size=300))
def test_byte_blocks(raw: bytes) -> None:
    out = bytearray()
    write_bytes(out, raw)
    assert read_bytes(bytes(out), 0) == (raw, len(out))


def test_truncations_raise_corrupt_chunk() -> None:
    out = bytearray()
    write_ints(out, np.arange(100, dtype=np.int64) ** 3)
    for cut in range(len(out)):
        with pytest.raises(CorruptChunk):
            read_ints(bytes(out[:cut]), 0, 100)
    with pytest.raises(CorruptChunk):
        read_varint(b"\xff" * 12, 0)
    with pytest.raises(ValueError, match="non-negative"):
        write_varint(bytearray(), -1)
