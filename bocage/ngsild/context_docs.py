"""Remote @context documents: where they come from, fetched once, and their management.

Where a remote context comes from, in order:

1. the in-memory document cache (LRU-bounded);
2. the store (``kind`` ``hosted`` for contexts added through ``/jsonldContexts``,
   ``cached`` for fetched ones) - so a context is fetched once *ever*, not per process;
3. an HTTP GET (``context_fetch``), whose result is then stored as ``cached`` and kept
   in memory.

(The core context never gets here: ``context_loader`` serves it from the bundle.)

A lock per URL makes concurrent first uses of one URL wait for a single download; if
that download fails, the threads that waited for it get the same error rather than
each trying again in turn.

Hosted contexts are stored under ``urn:ngsi-ld:jsonldContext:<id>``, not under the URL
they are served at, because the broker's public URL may change (proxy, host name);
any URL ending in ``/ngsi-ld/v1/jsonldContexts/<id>`` whose id we host is resolved
locally - never by an HTTP request to ourselves.
"""

from __future__ import annotations

import builtins
import re
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from hashlib import sha256
from typing import Any, Final
from urllib.parse import unquote

from bocage.domain.errors import (
    BadRequestData,
    BocageError,
    LdContextNotAvailable,
    ResourceNotFound,
)
from bocage.ngsild.context_core import CORE_CONTEXT_URL, core_document_for, is_core_url
from bocage.ngsild.context_fetch import ContextFetcher

StoreGet = Callable[[str], "tuple[bytes, str] | None"]
StorePut = Callable[[str, bytes, str], None]
StoreDelete = Callable[[str], bool]
StoreList = Callable[[], "list[tuple[str, str]]"]

HOSTED: Final = "hosted"
CACHED: Final = "cached"
#: store key of a hosted context: this prefix + its id
HOSTED_KEY_PREFIX: Final = "urn:ngsi-ld:jsonldContext:"
HOSTED_PATH: Final = "/ngsi-ld/v1/jsonldContexts/"
_HOSTED_URL = re.compile(r"^https?://[^/]+(?:/[^?#]*)?/ngsi-ld/v1/jsonldContexts/([^/?#]+)$")
#: remote context documents kept in memory (the store keeps them all)
DOC_CACHE_SIZE: Final = 1024
#: above this many per-URL locks / remembered failures, idle ones are dropped (bounds
#: memory when clients send endless distinct, failing @context URLs)
_MAX_TRACKED_URLS: Final = 4096


def hosted_id(url: str) -> str | None:
    """The local id if ``url`` names a hosted context (URN or broker URL), else None."""
    if url.startswith(HOSTED_KEY_PREFIX):
        return url[len(HOSTED_KEY_PREFIX) :]
    m = _HOSTED_URL.match(url)
    return unquote(m.group(1)) if m else None


def hosted_url(local_id: str, base_url: str = "") -> str:
    """Where a hosted context is served. ``base_url`` may be the broker's root URL or
    already the ``.../ngsi-ld/v1/jsonldContexts`` collection URL."""
    base = base_url.rstrip("/")
    collection = HOSTED_PATH.rstrip("/")
    if base.endswith(collection):
        base = base[: -len(collection)]
    return base + HOSTED_PATH + local_id


def local_id(url: str) -> str:
    """Stable local id of a cached context (usable in ``/jsonldContexts/{id}``)."""
    return sha256(url.encode()).hexdigest()[:16]


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts % 1 * 1000):03d}Z"


@dataclass(slots=True)
class _Usage:
    """In-memory bookkeeping of one context for ``list(details=True)``."""

    created_at: float
    last_usage: float | None = None
    hits: int = 0


class ContextDocuments:
    """The documents of remote contexts, by canonical key (URL, or URN when hosted)."""

    def __init__(
        self,
        store_get: StoreGet,
        store_put: StorePut,
        store_delete: StoreDelete | None,
        store_list: StoreList | None,
        fetcher: ContextFetcher,
    ) -> None:
        self._store_get = store_get
        self._store_put = store_put
        self._store_delete = store_delete
        self._store_list = store_list
        self.fetcher = fetcher
        self._guard = threading.Lock()  # protects every dict below
        self._docs: OrderedDict[str, tuple[bytes, str]] = OrderedDict()  # key -> (body, kind)
        self._usage: dict[str, _Usage] = {}
        self._url_locks: dict[str, threading.Lock] = {}
        self._failures: dict[str, tuple[float, BocageError]] = {}

    # ------------------------------------------------------------------ loading
    def load(self, url: str) -> tuple[str, bytes]:
        """(canonical key, document) of a remote context, fetched at most once."""
        hosted = hosted_id(url)
        if hosted is not None:
            key = HOSTED_KEY_PREFIX + hosted
            body = self._cached(key)
            if body is not None:
                return key, body
            stored = self._store_get(key)
            if stored is not None and stored[1] == HOSTED:
                self._remember(key, stored[0], HOSTED)
                return key, stored[0]
            if url == key:
                raise LdContextNotAvailable(f"@context {url}: no such hosted context")
            # else a hosted context of another broker: fetched like any other URL
        body = self._cached(url)
        if body is not None:
            return url, body
        started = time.monotonic()
        with self._url_lock(url):
            body = self._cached(url)
            if body is not None:
                return url, body
            with self._guard:
                failed = self._failures.get(url)
            if failed is not None and failed[0] >= started:
                raise failed[1]  # the download we waited for just failed: don't retry now
            stored = self._store_get(url)
            if stored is not None:
                self._remember(url, stored[0], stored[1])
                return url, stored[0]
            if not url.startswith(("http://", "https://")):
                raise LdContextNotAvailable(f"@context {url} is unknown and not an http(s) URL")
            try:
                body = self.fetcher.fetch(url)
            except BocageError as exc:
                with self._guard:
                    self._failures[url] = (time.monotonic(), exc)
                raise
            self._store_put(url, body, CACHED)
            self._remember(url, body, CACHED)
            with self._guard:
                self._failures.pop(url, None)
            return url, body

    def touch(self, keys: frozenset[str]) -> None:
        """Count one use of each of these contexts."""
        now = time.time()
        with self._guard:
            for key in keys:
                usage = self._usage.get(key)
                if usage is not None:
                    usage.hits += 1
                    usage.last_usage = now

    def _cached(self, key: str) -> bytes | None:
        with self._guard:
            hit = self._docs.get(key)
            if hit is None:
                return None
            self._docs.move_to_end(key)
            return hit[0]

    def _remember(self, key: str, body: bytes, kind: str) -> None:
        with self._guard:
            self._docs[key] = (body, kind)
            while len(self._docs) > DOC_CACHE_SIZE:
                self._docs.popitem(last=False)
            if key not in self._usage:
                self._usage[key] = _Usage(created_at=time.time())

    def _url_lock(self, url: str) -> threading.Lock:
        with self._guard:
            lock = self._url_locks.get(url)
            if lock is None:
                if len(self._url_locks) >= _MAX_TRACKED_URLS:
                    # at worst a dropped lock lets two first uses of a URL both fetch
                    for idle in [u for u, lk in self._url_locks.items() if not lk.locked()]:
                        del self._url_locks[idle]
                if len(self._failures) >= _MAX_TRACKED_URLS:
                    self._failures.clear()  # only used to share a failure with waiters
                lock = self._url_locks[url] = threading.Lock()
            return lock

    # ------------------------------------------------------------- management
    def add_hosted(self, raw: bytes, base_url: str = "") -> tuple[str, str]:
        """Store a (validated) context document; returns ``(id, URL serving it)``."""
        new_id = str(uuid.uuid4())
        key = HOSTED_KEY_PREFIX + new_id
        self._store_put(key, raw, HOSTED)
        self._remember(key, raw, HOSTED)
        return new_id, hosted_url(new_id, base_url)

    def _entries(self) -> dict[str, str]:
        """Known contexts: key -> kind."""
        with self._guard:
            found = {key: kind for key, (_, kind) in self._docs.items()}
        if self._store_list is not None:
            found.update(dict(self._store_list()))
        return found

    def list(self, details: bool = False, base_url: str = "") -> builtins.list[Any]:
        """Contexts known to the broker (the core first): URLs, or detail objects.

        Hosted contexts are listed under ``hosted_url(id, base_url)`` (root-relative when
        ``base_url`` is empty). Usage figures are counted since this process started.
        """
        out: builtins.list[Any] = []
        for key, kind in [(CORE_CONTEXT_URL, CACHED), *sorted(self._entries().items())]:
            hosted = hosted_id(key) if kind == HOSTED else None
            url = hosted_url(hosted, base_url) if hosted is not None else key
            if not details:
                out.append(url)
                continue
            with self._guard:
                usage = self._usage.get(key)
            entry: dict[str, Any] = {
                "URL": url,
                "localId": hosted or local_id(key),
                "kind": "Hosted" if kind == HOSTED else "Cached",
                "createdAt": _iso(usage.created_at if usage else None),
                "lastUsage": _iso(usage.last_usage if usage else None),
                "numberOfHits": usage.hits if usage else 0,
            }
            # NGSI-LD bodies carry no nulls: unknown times are left out
            out.append({k: v for k, v in entry.items() if v is not None})
        return out

    def find(self, id_or_url: str) -> tuple[str, str] | None:
        """(key, kind) of a hosted or cached context named by id, URN, URL or local id."""
        hosted = hosted_id(id_or_url)
        candidates = [HOSTED_KEY_PREFIX + hosted] if hosted else []
        candidates += [id_or_url, HOSTED_KEY_PREFIX + id_or_url]
        for key in candidates:
            with self._guard:
                hit = self._docs.get(key)
            if hit is not None:
                return key, hit[1]
            stored = self._store_get(key)
            if stored is not None:
                return key, stored[1]
        for key, kind in self._entries().items():
            if local_id(key) == id_or_url:
                return key, kind
        return None

    def get(self, id_or_url: str) -> bytes:
        """The document of a context (core, hosted or cached); ResourceNotFound if none."""
        if is_core_url(id_or_url):
            return core_document_for(id_or_url)
        found = self.find(id_or_url)
        body = self._cached(found[0]) if found is not None else None
        if found is not None and body is None:
            stored = self._store_get(found[0])
            body = stored[0] if stored is not None else None
        if body is None:
            raise ResourceNotFound(f"no @context {id_or_url}")
        return body

    def delete(self, id_or_url: str) -> str | None:
        """Forget a hosted or cached context everywhere; its key, or None if unknown."""
        if is_core_url(id_or_url):
            raise BadRequestData("the NGSI-LD core @context cannot be deleted")
        found = self.find(id_or_url)
        if found is None:
            return None
        key = found[0]
        if self._store_delete is not None:
            self._store_delete(key)
        self.forget(key)
        return key

    def reload(self, id_or_url: str) -> str:
        """Download a cached context again, replacing the stored copy; returns its key."""
        if is_core_url(id_or_url):
            raise BadRequestData("the NGSI-LD core @context is bundled, it is never reloaded")
        found = self.find(id_or_url)
        if found is None:
            raise ResourceNotFound(f"no cached @context {id_or_url}")
        url, kind = found
        if kind == HOSTED or not url.startswith(("http://", "https://")):
            raise BadRequestData(f"@context {id_or_url} is hosted here; only cached ones reload")
        with self._url_lock(url):
            body = self.fetcher.fetch(url)
            self._store_put(url, body, CACHED)
            self.forget(url)
            self._remember(url, body, CACHED)
        return url

    def forget(self, key: str) -> None:
        """Drop a context from memory (not from the store)."""
        with self._guard:
            self._docs.pop(key, None)
            self._usage.pop(key, None)
            self._failures.pop(key, None)
