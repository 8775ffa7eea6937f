"""JavaScript codecs kept in the catalogue, compiled on demand, plugged into the registry.

``JsCodecLibrary.codec`` is the registry's resolver: a device model names a
JavaScript codec by id exactly as it names a built-in one, and the pipeline
calls it the same way (``CodecError`` -> dead letter ``codec-error``,
``CodecTimeout`` -> ``codec-timeout``). Sources are read from the store and
kept for ``ttl`` seconds, so a codec re-imported by another process (the CLI
while the server runs) is picked up within that delay; one imported through
this process is picked up at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from bocage.codecs.registry import Codec, CodecError, CodecTimeout
from bocage.devices.catalogue import TENANT, all_of_type
from bocage.domain.errors import BadRequestData, BocageError, NonexistentTenant
from bocage.domain.terms import Terms
from bocage.jscodec.sandbox import (
    FUNCTIONS_BY_ROLE,
    UPLINK,
    JsError,
    JsResult,
    JsTimeout,
    Limits,
    Sandbox,
    Script,
)
from bocage.jscodec.source import CodecSource, codec_entity, codec_entity_id, codec_from_entity
from bocage.ngsild import mutations as mut
from bocage.ngsild.parse import parse_entity
from bocage.storage.base import Mutation, Store


def verify(src: CodecSource, limits: Limits) -> None:
    """Compile every file of the codec in a throwaway runtime and check that each
    role's file defines its function; BadRequestData says what is wrong."""
    scripts: dict[str, Script] = {}
    for role, file_name in sorted(src.roles.items()):
        if file_name not in scripts:
            try:
                scripts[file_name] = Script(src.files[file_name], limits,
                                            name=f"{src.id} ({file_name})")
            except JsError as exc:
                raise BadRequestData(f"codec {src.id}: {file_name} is refused: "
                                     f"{_one_line(str(exc))}") from None
        if role not in scripts[file_name].roles():
            raise BadRequestData(f"codec {src.id}: {file_name} defines none of "
                                 f"{', '.join(FUNCTIONS_BY_ROLE[role])}, needed as {role}")


def _one_line(text: str) -> str:
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


class JsCodecLibrary:
    def __init__(self, store: Store, terms: Terms, now: Callable[[], str],
                 sandbox: Sandbox | None = None, ttl: float = 2.0) -> None:
        self._store = store
        self._terms = terms
        self._now = now
        self.sandbox = sandbox or Sandbox()
        self._ttl = ttl
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[CodecSource | None, float]] = {}
        #: (id, digest) -> its registry Codec, built once per source version
        self._codecs: dict[tuple[str, str], Codec] = {}

    # -- storage -----------------------------------------------------------

    def put(self, src: CodecSource) -> None:
        """Check then store (create or replace) a codec."""
        verify(src, self.sandbox.limits)
        entity = parse_entity(codec_entity(src), self._terms)
        result = self._store.apply(TENANT, [Mutation(entity["id"],
                                                     mut.replace(entity, self._now(),
                                                                 upsert=True))])[0]
        if isinstance(result, BocageError):
            raise result
        with self._lock:
            self._cache[src.id] = (src, time.monotonic())

    def delete(self, ident: str) -> None:
        eid = codec_entity_id(ident)
        result = self._store.apply(TENANT, [Mutation(eid, mut.delete_entity(eid))])[0]
        with self._lock:
            self._cache.pop(ident, None)
        if isinstance(result, BocageError):
            raise result

    def source(self, ident: str) -> CodecSource | None:
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(ident)
        if hit is not None and now - hit[1] < self._ttl:
            return hit[0]
        try:
            entity = self._store.get(TENANT, codec_entity_id(ident))
        except NonexistentTenant:
            entity = None
        src = None if entity is None else codec_from_entity(entity, self._terms)
        with self._lock:
            self._cache[ident] = (src, now)
        return src

    def all(self) -> list[CodecSource]:
        return sorted((codec_from_entity(e, self._terms)
                       for e in all_of_type(self._store, self._terms, "DeviceCodec")),
                      key=lambda s: s.id)

    # -- running -----------------------------------------------------------

    def run(self, src: CodecSource, call: str, *args: Any) -> JsResult:
        return src.run(self.sandbox, call, *args)

    def codec(self, ident: str) -> Codec | None:
        """The registry's resolver: a JavaScript codec as a registry Codec."""
        src = self.source(ident)
        if src is None or UPLINK not in src.roles:
            return None
        key = (src.id, src.digest)
        codec = self._codecs.get(key)
        if codec is None:
            codec = self._codecs[key] = self._make_codec(src)
        return codec

    def _make_codec(self, src: CodecSource) -> Codec:
        def decode_at(payload: bytes, f_port: int, config: Mapping[str, Any],
                      recv_time: str) -> dict[str, Any]:
            try:
                result = src.run(self.sandbox, "decode_uplink", payload, f_port, recv_time,
                                 config)
            except JsTimeout as exc:
                raise CodecTimeout(str(exc)) from None
            except JsError as exc:
                raise CodecError(_one_line(str(exc))) from None
            if result.errors:
                raise CodecError(f"codec {src.id}: " + "; ".join(result.errors))
            assert isinstance(result.data, dict)
            return result.data

        def decode(payload: bytes, f_port: int, config: Mapping[str, Any]) -> dict[str, Any]:
            return decode_at(payload, f_port, config, "")

        return Codec(id=src.id, decode=decode, decode_at=decode_at)
