"""The QuickJS sandbox: one codec's JavaScript in its own runtime, with limits.

Where it runs, and why: in the calling thread, in a QuickJS runtime of its own
per codec (PyPI ``quickjs-ng``: each ``Context`` has its own ``JSRuntime``,
its own heap limit and interrupt handler). A decode is a function call
(~20 µs), so a process hop (pickling, a pipe, a context switch on 2 shared
cores) would cost more than the decode itself; the limits that make a
separate process tempting are enforced by QuickJS inside its runtime:

- **time**: an interrupt handler stops the script once it used
  ``time_limit_ms`` of CPU (the binding measures the process's CPU clock, so
  other busy threads make the limit shorter, never longer; the wall time of a
  stopped loop can exceed it on a loaded machine);
- **memory**: the runtime's allocator refuses to grow past
  ``memory_limit_mb``, the script gets an out-of-memory exception; Python's
  heap is untouched.

The binding releases the GIL while JavaScript runs, so the HTTP server keeps
serving while a runaway codec burns its budget. A runtime is bound to the
thread that created it (QuickJS checks the C stack of its creator), so
compiled codecs are pooled *per thread* (:class:`Sandbox`): the pipeline
worker keeps its own warm contexts, and a replay or a ``codecs check`` on
another thread compiles its own. A context that hit a limit (or overflowed
its stack) is discarded, never reused: its heap may be full, its state
half-written. What stays out of reach: a crash of the QuickJS engine itself
would take the process down; the inbox is durable, so nothing is lost, but
the record would be retried at restart.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Final

import _quickjs
import orjson

UPLINK: Final = "uplinkDecoder"
DOWNLINK_ENCODER: Final = "downlinkEncoder"
DOWNLINK_DECODER: Final = "downlinkDecoder"
ROLES: Final = (UPLINK, DOWNLINK_ENCODER, DOWNLINK_DECODER)

#: entry points looked up after the codec's source ran (global or module.exports)
_ENTRIES: Final = ("decodeUplink", "Decode", "Decoder", "encodeDownlink", "Encode",
                   "Encoder", "decodeDownlink")
FUNCTIONS_BY_ROLE: Final = {
    UPLINK: ("decodeUplink", "Decode", "Decoder"),
    DOWNLINK_ENCODER: ("encodeDownlink", "Encode", "Encoder"),
    DOWNLINK_DECODER: ("decodeDownlink",),
}
_PRELUDE: Final = resources.files("bocage.jscodec").joinpath("prelude.js").read_text("utf-8")
_BINDINGS: Final = "var __bocage_fn = {};\n(function () {\n" + \
    "  var m = (typeof module === 'object' && module && module.exports) || {};\n" + "".join(
        f"  __bocage_fn.{n} = typeof {n} === 'function' ? {n} : "
        f"(typeof m.{n} === 'function' ? m.{n} : null);\n" for n in _ENTRIES) + "})();\n"
_RUNNERS: Final = r"""
function __bocage_bytes(b) {
  if (b === null || b === undefined || typeof b.length !== "number") return b;
  return Array.prototype.slice.call(b);
}
function __bocage_decode_uplink(hex, fPort, recvTime, variablesJson) {
  __bocage_logs = [];
  var bytes = __bocage_hex(hex), variables = JSON.parse(variablesJson), out, kind;
  var when = recvTime ? new Date(recvTime) : new Date();
  if (__bocage_fn.decodeUplink) {
    kind = "ttn";
    out = __bocage_fn.decodeUplink({bytes: bytes, fPort: fPort, recvTime: when,
                                    variables: variables});
  } else if (__bocage_fn.Decode) {
    kind = "legacy"; out = __bocage_fn.Decode(fPort, bytes, variables);
  } else {
    kind = "legacy"; out = __bocage_fn.Decoder(bytes, fPort);
  }
  return JSON.stringify({kind: kind, out: out === undefined ? null : out, logs: __bocage_logs});
}
function __bocage_decode_downlink(hex, fPort) {
  __bocage_logs = [];
  var out = __bocage_fn.decodeDownlink({bytes: __bocage_hex(hex), fPort: fPort});
  return JSON.stringify({kind: "ttn", out: out === undefined ? null : out, logs: __bocage_logs});
}
function __bocage_encode_downlink(dataJson, fPort, variablesJson) {
  __bocage_logs = [];
  var data = JSON.parse(dataJson), variables = JSON.parse(variablesJson), out, kind;
  if (__bocage_fn.encodeDownlink) {
    kind = "ttn"; out = __bocage_fn.encodeDownlink({data: data, variables: variables});
    if (out && typeof out === "object") out.bytes = __bocage_bytes(out.bytes);
  } else if (__bocage_fn.Encode) {
    kind = "legacy"; out = __bocage_bytes(__bocage_fn.Encode(fPort, data, variables));
  } else {
    kind = "legacy"; out = __bocage_bytes(__bocage_fn.Encoder(data, fPort));
  }
  return JSON.stringify({kind: kind, out: out === undefined ? null : out, logs: __bocage_logs});
}
"""
_ROLE_CHECK: Final = "JSON.stringify(Object.keys(__bocage_fn).filter(function (k) " \
    "{ return __bocage_fn[k] !== null; }))"


@dataclass(frozen=True, slots=True)
class Limits:
    #: CPU milliseconds one call (or the codec's top-level code) may use
    time_ms: float = 100.0
    #: heap of the codec's runtime, in MiB
    memory_mb: int = 64


class JsError(Exception):
    """The codec failed (threw, returned nonsense, or reported errors)."""


class JsTimeout(JsError):
    """The codec ran past its time limit and was stopped."""


class JsOutOfMemory(JsError):
    """The codec asked for more memory than its limit and was stopped."""


class JsCompileError(JsError):
    """The source does not compile, or defines none of the expected functions."""


@dataclass(frozen=True, slots=True)
class JsResult:
    """What a codec function gave back, in the TTN shape."""

    data: Any = None
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: downlink encoders only
    bytes: list[int] | None = None
    f_port: int | None = None
    #: console output of the call (captured, never printed)
    logs: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.data is not None:
            out["data"] = self.data
        if self.bytes is not None:
            out["bytes"] = self.bytes
        if self.f_port is not None:
            out["fPort"] = self.f_port
        out["errors"] = self.errors
        out["warnings"] = self.warnings
        if self.logs:
            out["logs"] = self.logs
        return out


class Script:
    """One JavaScript source compiled in a fresh runtime; used by one thread only."""

    def __init__(self, source: str, limits: Limits, name: str = "codec") -> None:
        self.name = name
        self.limits = limits
        self._ctx = _quickjs.Context()
        self._ctx.set_memory_limit(limits.memory_mb * 1024 * 1024)
        self._ctx.set_time_limit(limits.time_ms / 1000.0)
        #: True once a limit was hit: the owner must drop this script
        self.broken = False
        self._eval(_PRELUDE, "the sandbox prelude")
        try:
            self._ctx.eval(source)
        except _quickjs.JSException as exc:
            self._raise(exc, compile_step=True)
        self._eval(_BINDINGS + _RUNNERS, "the sandbox bindings")
        self.functions: frozenset[str] = frozenset(orjson.loads(self._ctx.eval(_ROLE_CHECK)))
        self._uplink = self._ctx.get("__bocage_decode_uplink")
        self._downlink = self._ctx.get("__bocage_decode_downlink")
        self._encode = self._ctx.get("__bocage_encode_downlink")

    def roles(self) -> set[str]:
        return {role for role, names in FUNCTIONS_BY_ROLE.items()
                if any(n in self.functions for n in names)}

    def _eval(self, code: str, what: str) -> None:
        try:
            self._ctx.eval(code)
        except _quickjs.JSException as exc:
            self._raise(exc, compile_step=True, what=what)

    def _raise(self, exc: BaseException, *, compile_step: bool = False,
               what: str = "") -> None:
        message = str(exc).strip()
        first = message.splitlines()[0] if message else ""
        if isinstance(exc, _quickjs.StackOverflow):
            self.broken = True
            raise JsError(f"{self.name}: stack overflow ({first})") from None
        if "interrupted" in first:
            self.broken = True
            raise JsTimeout(f"{self.name}: stopped after {self.limits.time_ms:g} ms of CPU "
                            "(time limit)") from None
        if "out of memory" in first or (first in ("", "null") and self._near_memory_limit()):
            self.broken = True
            raise JsOutOfMemory(f"{self.name}: stopped at its memory limit of "
                                f"{self.limits.memory_mb} MiB (out of memory)") from None
        if compile_step:
            verb = "does not compile" if first.startswith("SyntaxError") else "fails to load"
            where = f" ({what})" if what else ""
            raise JsCompileError(f"{self.name}: {verb}{where}: {_describe(message)}") from None
        raise JsError(f"{self.name}: {_describe(message)}") from None

    def _near_memory_limit(self) -> bool:
        try:
            used = int(self._ctx.memory()["malloc_size"])
        except Exception:  # the binding itself failed to allocate: the heap is full
            return True
        return used > 0.75 * self.limits.memory_mb * 1024 * 1024

    def _call(self, fn: Any, *args: Any) -> dict[str, Any]:
        try:
            raw = fn(*args)
        except (_quickjs.JSException, _quickjs.StackOverflow) as exc:
            self._raise(exc)
        except MemoryError:
            self.broken = True
            raise JsOutOfMemory(f"{self.name}: out of memory") from None
        if not isinstance(raw, str):
            raise JsError(f"{self.name}: the codec's result is not serialisable to JSON")
        out: dict[str, Any] = orjson.loads(raw)
        return out

    def decode_uplink(self, payload: bytes, f_port: int, recv_time: str = "",
                      variables: Mapping[str, Any] | None = None) -> JsResult:
        if UPLINK not in self.roles():
            raise JsError(f"{self.name}: defines no decodeUplink, Decode or Decoder function")
        variables_json = orjson.dumps(variables or {}).decode()
        raw = self._call(self._uplink, payload.hex(), f_port, recv_time, variables_json)
        return _result(self.name, raw, "decodeUplink")

    def decode_downlink(self, payload: bytes, f_port: int) -> JsResult:
        if DOWNLINK_DECODER not in self.roles():
            raise JsError(f"{self.name}: defines no decodeDownlink function")
        raw = self._call(self._downlink, payload.hex(), f_port)
        return _result(self.name, raw, "decodeDownlink")

    def encode_downlink(self, data: Any, f_port: int = 0,
                        variables: Mapping[str, Any] | None = None) -> JsResult:
        if DOWNLINK_ENCODER not in self.roles():
            raise JsError(f"{self.name}: defines no encodeDownlink, Encode or Encoder function")
        raw = self._call(self._encode, orjson.dumps(data).decode(), f_port,
                         orjson.dumps(variables or {}).decode())
        return _encoded(self.name, raw, f_port)


_WHERE = re.compile(r"<input>:(\d+):(\d+)")


def _describe(message: str) -> str:
    """The exception's first line and where it happened, on one line."""
    first, _, rest = message.partition("\n")
    where = _WHERE.search(rest)
    return f"{first} (line {where[1]}, column {where[2]})" if where else first


def _messages(value: object, name: str, what: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise JsError(f"{name}: {what} must be a list of strings")
    return [v if isinstance(v, str) else orjson.dumps(v).decode() for v in value]


def _result(name: str, raw: dict[str, Any], fn: str) -> JsResult:
    out, logs = raw.get("out"), raw.get("logs") or []
    if raw.get("kind") == "legacy":  # Decoder / Decode return the data object itself
        if not isinstance(out, dict):
            raise JsError(f"{name}: the decoder returned {type(out).__name__}, not an object")
        return JsResult(data=out, logs=logs)
    if not isinstance(out, dict):
        raise JsError(f"{name}: {fn} must return an object {{data, errors, warnings}}")
    errors = _messages(out.get("errors"), name, "errors")
    data = out.get("data")
    if not errors and not isinstance(data, dict):
        raise JsError(f"{name}: {fn} returned neither a data object nor errors")
    return JsResult(data=data, errors=errors,
                    warnings=_messages(out.get("warnings"), name, "warnings"), logs=logs)


def _encoded(name: str, raw: dict[str, Any], f_port: int) -> JsResult:
    out, logs = raw.get("out"), raw.get("logs") or []
    if raw.get("kind") == "legacy":
        return JsResult(bytes=_byte_list(name, out), f_port=f_port or None, logs=logs)
    if not isinstance(out, dict):
        raise JsError(f"{name}: encodeDownlink must return an object {{bytes, fPort, errors}}")
    errors = _messages(out.get("errors"), name, "errors")
    if errors:
        return JsResult(errors=errors, warnings=_messages(out.get("warnings"), name, "warnings"),
                        logs=logs)
    port = out.get("fPort")
    if port is not None and (not isinstance(port, int) or isinstance(port, bool)
                             or not 1 <= port <= 223):
        raise JsError(f"{name}: encodeDownlink returned fPort {port!r}, not in [1, 223]")
    return JsResult(bytes=_byte_list(name, out.get("bytes")), f_port=port,
                    warnings=_messages(out.get("warnings"), name, "warnings"), logs=logs)


def _byte_list(name: str, value: object) -> list[int]:
    if not isinstance(value, list) or not all(
            isinstance(b, int) and not isinstance(b, bool) and 0 <= b <= 255 for b in value):
        raise JsError(f"{name}: the encoder must return bytes (integers in [0, 255])")
    return value


class Sandbox:
    """Compiled scripts pooled per thread, keyed by (codec id, source digest).

    ``max_per_thread`` bounds the warm runtimes one thread keeps (least recently
    used dropped first); a script that hit a limit is dropped at once.
    """

    def __init__(self, limits: Limits | None = None, max_per_thread: int = 64) -> None:
        self.limits = limits or Limits()
        self._max = max_per_thread
        self._local = threading.local()

    def _pool(self) -> OrderedDict[tuple[str, str], Script]:
        pool: OrderedDict[tuple[str, str], Script] | None = getattr(self._local, "pool", None)
        if pool is None:
            pool = self._local.pool = OrderedDict()
        return pool

    def script(self, key: tuple[str, str], source: str) -> Script:
        pool = self._pool()
        script = pool.get(key)
        if script is None or script.broken:
            script = Script(source, self.limits, name=key[0])
            pool[key] = script
            while len(pool) > self._max:
                pool.popitem(last=False)
        else:
            pool.move_to_end(key)
        return script

    def run(self, key: tuple[str, str], source: str, call: str, *args: Any) -> JsResult:
        """Call ``call`` (decode_uplink, decode_downlink, encode_downlink) on the
        thread's compiled script; a script left broken by a limit is dropped."""
        script = self.script(key, source)
        try:
            result: JsResult = getattr(script, call)(*args)
            return result
        finally:
            if script.broken:
                self._pool().pop(key, None)

    def warm(self) -> int:
        """How many scripts this thread keeps compiled (tests, metrics)."""
        return len(self._pool())
