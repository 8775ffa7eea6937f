"""The QuickJS sandbox: entry points, the Buffer shim, captured console, and limits."""

from __future__ import annotations

import struct
import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bocage.jscodec.sandbox import (
    JsCompileError,
    JsError,
    JsOutOfMemory,
    JsTimeout,
    Limits,
    Sandbox,
    Script,
)

TTN = """
function decodeUplink(input) {
  if (input.fPort !== 1) return { errors: ["unknown fPort " + input.fPort] };
  return { data: { first: input.bytes[0], n: input.bytes.length,
                   at: input.recvTime.toISOString(), site: input.variables.site || null },
           warnings: input.bytes[0] > 200 ? ["high"] : [] };
}
"""
LOOP = "function decodeUplink(i) { if (i.bytes[0] === 1) { for (;;) {} } return {data: {ok: 1}}; }"
BOMB = """function decodeUplink(i) {
  if (i.bytes[0] === 2) { var keep = []; for (;;) keep.push(new Array(100000).fill(7)); }
  return {data: {ok: 1}};
}"""


def test_decode_uplink_gets_bytes_fport_recv_time_and_variables() -> None:
    s = Script(TTN, Limits())
    r = s.decode_uplink(bytes([7, 8, 9]), 1, "2026-01-02T03:04:05Z", {"site": "mairie"})
    assert r.data == {"first": 7, "n": 3, "at": "2026-01-02T03:04:05.000Z", "site": "mairie"}
    assert r.errors == [] and r.warnings == []
    assert s.decode_uplink(bytes([250]), 1).warnings == ["high"]
    bad = s.decode_uplink(b"\x01", 9)
    assert bad.errors == ["unknown fPort 9"] and bad.data is None


def test_legacy_entry_points() -> None:
    v2 = Script("function Decoder(bytes, port) { return {sum: bytes[0] + bytes[1], port: port}; }",
                Limits())
    assert v2.decode_uplink(b"\x02\x03", 4).data == {"sum": 5, "port": 4}
    v3 = Script("function Decode(fPort, bytes, variables) "
                "{ return {port: fPort, b: bytes, v: variables.k}; }", Limits())
    assert v3.decode_uplink(b"\x09", 6, "", {"k": "x"}).data == {"port": 6, "b": [9], "v": "x"}
    enc = Script("function Encode(fPort, obj) { return [fPort, obj.level]; }", Limits())
    assert enc.encode_downlink({"level": 40}, 3).bytes == [3, 40]


def test_functions_found_on_module_exports_and_const_bindings() -> None:
    exported = Script("module.exports = { decodeUplink: function (i) "
                      "{ return {data: {x: i.fPort}}; } };", Limits())
    assert exported.decode_uplink(b"", 5).data == {"x": 5}
    const = Script("const decodeUplink = (i) => ({data: {y: i.bytes.length}});", Limits())
    assert const.decode_uplink(b"abc", 1).data == {"y": 3}


def test_encode_and_decode_downlink() -> None:
    s = Script("""
      function encodeDownlink(input) {
        if (input.data.on === undefined) return {errors: ["on is required"]};
        var b = Buffer.alloc(2); b.writeUInt8(input.data.on ? 1 : 0, 0); b[1] = 0xff;
        return {bytes: b, fPort: 8};
      }
      function decodeDownlink(input) { return {data: {on: input.bytes[0] === 1}}; }
    """, Limits())
    r = s.encode_downlink({"on": True})
    assert (r.bytes, r.f_port, r.errors) == ([1, 255], 8, [])
    assert s.encode_downlink({}).errors == ["on is required"]
    assert s.decode_downlink(b"\x01\xff", 8).data == {"on": True}


def test_results_that_break_the_contract_are_errors() -> None:
    with pytest.raises(JsError, match="neither a data object nor errors"):
        Script("function decodeUplink() { return {}; }", Limits()).decode_uplink(b"", 1)
    with pytest.raises(JsError, match="not an object"):
        Script("function Decoder() { return 3; }", Limits()).decode_uplink(b"", 1)
    with pytest.raises(JsError, match="boom"):
        Script("function decodeUplink() { throw new Error('boom'); }",
               Limits()).decode_uplink(b"", 1)
    with pytest.raises(JsError, match="not available in the codec sandbox"):
        Script("function decodeUplink() { require('fs'); }", Limits()).decode_uplink(b"", 1)
    with pytest.raises(JsError, match=r"bytes \(integers"):
        Script("function encodeDownlink() { return {bytes: [300]}; }",
               Limits()).encode_downlink({})


def test_syntax_error_is_a_compile_error_with_its_position() -> None:
    with pytest.raises(JsCompileError, match=r"does not compile: SyntaxError: .* \(line 2, col"):
        Script("var ok = 1;\nfunction decodeUplink(input {", Limits())


def test_console_is_captured_not_printed(capsys: pytest.CaptureFixture[str]) -> None:
    s = Script("function decodeUplink(i) { console.log('frame', i.bytes, {a: 1}); "
               "console.warn('careful'); return {data: {}}; }", Limits())
    r = s.decode_uplink(b"\x01", 1)
    assert r.logs == ['frame [1] {"a":1}', "warn: careful"]
    # each call carries its own lines only
    assert s.decode_uplink(b"\x02", 1).logs == ['frame [2] {"a":1}', "warn: careful"]
    assert capsys.readouterr() == ("", "")


def test_buffer_shim_reads_strings_and_views() -> None:
    s = Script("""
      function decodeUplink(input) {
        var b = Buffer.from(input.bytes), h = Buffer.from("0102a0ff", "hex");
        var t = Buffer.from("héllo", "utf8"), s64 = Buffer.from("AQKg/w==", "base64");
        var part = b.slice(1, 3); part[0] = 0x55;   // a view: writes through, as Node's
        return {data: {
          hex: b.toString("hex"), b64: b.toString("base64"), h: Array.from(h),
          utf8: t.toString(), len: t.length, s64: s64.equals(h), isBuf: Buffer.isBuffer(b),
          through: b[1], u24: b.readUIntBE(0, 3),
          i24: Buffer.from([0xff, 0xff, 0xfe]).readIntLE(0, 3),
          cat: Buffer.concat([h, Buffer.alloc(2, 9)]).toString("hex"),
          json: JSON.stringify(Buffer.from([1, 2])),
          latin: Buffer.from([0x41, 0xe9]).toString("latin1"),
          atob: atob(btoa("ab")), td: new TextDecoder().decode(new TextEncoder().encode("ü"))
        }};
      }
    """, Limits())
    d = s.decode_uplink(bytes([0x10, 0x20, 0x30, 0x40]), 1).data
    assert d == {"hex": "10553040", "b64": "EFUwQA==", "h": [1, 2, 160, 255], "utf8": "héllo",
                 "len": 6, "s64": True, "isBuf": True, "through": 0x55, "u24": 0x105530,
                 "i24": -65537, "cat": "0102a0ff0909", "json": '{"type":"Buffer","data":[1,2]}',
                 "latin": "Aé", "atob": "ab", "td": "ü"}


def test_buffer_read_out_of_range_throws_like_node() -> None:
    s = Script("function decodeUplink(i) "
               "{ return {data: {v: Buffer.from(i.bytes).readUInt16BE(1)}}; }", Limits())
    with pytest.raises(JsError, match=r"RangeError.*out of range"):
        s.decode_uplink(b"\x01\x02", 1)


_READS = [("readUInt8", "B"), ("readInt8", "b"), ("readUInt16LE", "<H"), ("readUInt16BE", ">H"),
          ("readInt16LE", "<h"), ("readInt16BE", ">h"), ("readUInt32LE", "<I"),
          ("readUInt32BE", ">I"), ("readInt32LE", "<i"), ("readInt32BE", ">i"),
          ("readFloatLE", "<f"), ("readFloatBE", ">f"), ("readDoubleLE", "<d"),
          ("readDoubleBE", ">d"), ("readUint16BE", ">H")]
_READER = Script("function decodeUplink(i) { var b = Buffer.from(i.bytes), out = {};\n" + "".join(
    f"  out['{name}'] = b.length >= {struct.calcsize(fmt)} ? b.{name}(0) : null;\n"
    for name, fmt in _READS) + "  return {data: {v: JSON.stringify(out)}}; }", Limits())


@settings(max_examples=60, deadline=None)
@given(st.binary(min_size=1, max_size=8))
def test_buffer_reads_agree_with_struct(payload: bytes) -> None:
    import math

    import orjson

    got = orjson.loads(_READER.decode_uplink(payload, 1).data["v"])
    for name, fmt in _READS:
        if len(payload) < struct.calcsize(fmt):
            assert got[name] is None
            continue
        want = struct.unpack_from(fmt, payload)[0]
        if isinstance(want, float) and not math.isfinite(want):
            assert got[name] is None  # JSON has no NaN / Infinity
        elif isinstance(want, float):  # JSON may write a large float as an integer
            assert float(got[name]) == want, name
        else:
            assert got[name] == want, name


def test_an_infinite_loop_is_stopped_and_the_runtime_discarded() -> None:
    sandbox = Sandbox(Limits(time_ms=50))
    key = ("loop", "v1")
    assert sandbox.run(key, LOOP, "decode_uplink", b"\x00", 1).data == {"ok": 1}
    started = time.perf_counter()
    with pytest.raises(JsTimeout, match="50 ms"):
        sandbox.run(key, LOOP, "decode_uplink", b"\x01", 1)
    # 50 ms of CPU; wall time allows for a loaded 2-core machine, far below "forever"
    assert time.perf_counter() - started < 5.0
    assert sandbox.warm() == 0  # the runtime that hit the limit is gone
    assert sandbox.run(key, LOOP, "decode_uplink", b"\x00", 1).data == {"ok": 1}
    assert sandbox.warm() == 1


def test_a_memory_bomb_is_stopped_at_the_memory_limit() -> None:
    sandbox = Sandbox(Limits(memory_mb=16, time_ms=5000))
    key = ("bomb", "v1")
    with pytest.raises(JsOutOfMemory, match="16 MiB"):
        sandbox.run(key, BOMB, "decode_uplink", b"\x02", 1)
    assert sandbox.warm() == 0
    assert sandbox.run(key, BOMB, "decode_uplink", b"\x00", 1).data == {"ok": 1}


def test_top_level_code_is_limited_too() -> None:
    with pytest.raises(JsTimeout):
        Script("for (;;) {}", Limits(time_ms=20))


def test_runtimes_are_pooled_per_thread() -> None:
    sandbox = Sandbox()
    sandbox.run(("a", "1"), TTN, "decode_uplink", b"\x01", 1)
    seen: list[int] = []

    def other() -> None:
        seen.append(sandbox.warm())
        sandbox.run(("a", "1"), TTN, "decode_uplink", b"\x01", 1)
        seen.append(sandbox.warm())

    t = threading.Thread(target=other)
    t.start()
    t.join()
    assert seen == [0, 1] and sandbox.warm() == 1


def test_the_pool_keeps_at_most_its_bound() -> None:
    sandbox = Sandbox(max_per_thread=2)
    for n in range(4):
        sandbox.run((f"c{n}", "1"), TTN, "decode_uplink", b"\x01", 1)
    assert sandbox.warm() == 2
