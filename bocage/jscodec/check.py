"""Running the examples of a repository's codecs and comparing what they give back.

An example passes when, for an uplink or downlink decoder, the codec's
``errors`` and ``warnings`` equal the expected ones (missing means none) and,
when no error is expected, its ``data`` equals the expected ``data``; for a
downlink encoder, errors and warnings likewise, then ``bytes`` and (when
given) ``fPort``. Numbers compare within 1e-9 (JSON writes 22 and 22.0 alike),
booleans never equal numbers. A codec that throws, times out or runs out of
memory fails the example with that reason.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from bocage.jscodec.repo import RepoCodec, example_bytes
from bocage.jscodec.sandbox import (
    DOWNLINK_ENCODER,
    UPLINK,
    JsError,
    JsResult,
    Sandbox,
)
from bocage.jscodec.source import CodecSource


@dataclass(frozen=True, slots=True)
class Outcome:
    vendor: str
    codec: str
    role: str
    description: str
    ok: bool
    detail: str = ""


def differs(expected: Any, actual: Any, path: str = "") -> str | None:
    """Where ``actual`` departs from ``expected`` (None: they agree)."""
    here = path or "value"
    if isinstance(expected, bool) or isinstance(actual, bool):
        return None if expected is actual else f"{here}: expected {expected!r}, got {actual!r}"
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        if math.isclose(expected, actual, rel_tol=1e-9, abs_tol=1e-9):
            return None
        return f"{here}: expected {expected!r}, got {actual!r}"
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in sorted(set(expected) | set(actual), key=str):
            if key not in actual:
                return f"{path}.{key}: missing" if path else f"{key}: missing"
            if key not in expected:
                return f"{path}.{key}: not expected" if path else f"{key}: not expected"
            found = differs(expected[key], actual[key], f"{path}.{key}" if path else str(key))
            if found:
                return found
        return None
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            return f"{here}: expected {len(expected)} items, got {len(actual)}"
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            found = differs(e, a, f"{path}[{i}]")
            if found:
                return found
        return None
    return None if expected == actual else f"{here}: expected {expected!r}, got {actual!r}"


def _messages(output: dict[str, Any], key: str) -> list[Any]:
    value = output.get(key)
    return value if isinstance(value, list) else []


def compare(role: str, output: dict[str, Any], got: JsResult) -> str | None:
    found = differs(_messages(output, "errors"), got.errors, "errors") or differs(
        _messages(output, "warnings"), got.warnings, "warnings")
    if found or got.errors:
        return found
    if role == DOWNLINK_ENCODER:
        found = differs(output.get("bytes"), got.bytes, "bytes")
        if found is None and "fPort" in output:
            found = differs(output["fPort"], got.f_port, "fPort")
        return found
    return differs(output.get("data"), got.data, "data")


def run_example(run: Callable[..., JsResult], role: str, example: dict[str, Any]) -> str | None:
    """None when the example passes, else why it does not."""
    given = example.get("input")
    output = example.get("output")
    if not isinstance(given, dict) or not isinstance(output, dict):
        return "the example needs an input and an output mapping"
    try:
        if role == DOWNLINK_ENCODER:
            got = run("encode_downlink", given.get("data"), int(given.get("fPort") or 0))
        else:
            payload = example_bytes(given.get("bytes", []))
            port = int(given.get("fPort") or 0)
            if role == UPLINK:
                got = run("decode_uplink", payload, port, str(given.get("recvTime") or ""),
                          given.get("variables") or {})
            else:
                got = run("decode_downlink", payload, port)
    except (JsError, ValueError, TypeError) as exc:
        return " ".join(str(exc).split())
    return compare(role, output, got)


def source_of(codec: RepoCodec) -> CodecSource:
    return CodecSource(id=codec.id, files=codec.files, roles=codec.roles, vendor=codec.vendor,
                       name=codec.name, examples=codec.examples)


def check_codec(codec: RepoCodec, sandbox: Sandbox) -> Iterator[Outcome]:
    """One outcome per example of the codec (its three roles)."""
    src = source_of(codec)

    def run(call: str, *args: Any) -> JsResult:
        return src.run(sandbox, call, *args)

    for role, examples in codec.examples.items():
        for n, example in enumerate(examples):
            reason = run_example(run, role, example)
            description = str(example.get("description") or f"example {n + 1}")
            yield Outcome(codec.vendor, codec.name, role, description, reason is None,
                          reason or "")
