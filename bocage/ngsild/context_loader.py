"""``ContextResolver``: user @context -> ``TermMap``, offline first, each URL fetched once.

Where a remote context comes from, in order:

1. the core context URLs: never fetched, the bundled copy (``context_core``);
2. the in-memory document cache of this resolver;
3. the store (``kind`` ``hosted`` for contexts added through ``/jsonldContexts``,
   ``cached`` for fetched ones) - so a context is fetched once *ever*, not per process;
4. an HTTP GET (httpx, ``timeout`` for the whole download, ``max_bytes`` enforced while
   streaming), whose result is then stored as ``cached`` and kept in memory.

A lock per URL makes concurrent first uses of one URL wait for a single download.

Term definitions are computed by pyld's JSON-LD 1.1 context processing, not by a
home-made subset: it already gets prefixes, compact-IRI terms, ``@vocab``, ``@import``,
protected terms, cycles and the many validation rules right, and it is only run once
per distinct @context (then the ``TermMap`` is cached, LRU-bounded). pyld is used with
our own document loader (it never touches the network itself) and our own per-call
pyld ``ContextResolver`` (pyld's module-level cache would leak contexts across
resolvers and outlive deletions). Scoped contexts (``@context`` inside a term
definition) are removed before processing: NGSI-LD attribute names never use them,
and the core's own scoped context references a remote W3C context we must not fetch.

Core precedence: the core is processed *first* with its ``@protected`` flag removed
(so user definitions can use the ``ngsi-ld:`` prefix and the default ``@vocab``), then
the user contexts, then the core term definitions are laid over the result: core terms
always win, silently - as if the core were appended last, which is what NGSI-LD
brokers do - without JSON-LD's "protected term redefinition" error. Protection
between user contexts is still enforced (BadRequestData).
"""

from __future__ import annotations

import builtins
import contextlib
import re
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from hashlib import sha256
from typing import Any, Final
from urllib.parse import unquote

import httpx
import orjson

from bocage.domain.errors import (
    BadRequestData,
    BocageError,
    InvalidRequest,
    LdContextNotAvailable,
    ResourceNotFound,
)
from bocage.ngsild.context_core import (
    CORE_CONTEXT_URL,
    CORE_VOCAB,
    bundled_core_context,
    core_document_for,
    is_core_url,
)
from bocage.ngsild.context_terms import TermDef, TermMap, term_defs

StoreGet = Callable[[str], "tuple[bytes, str] | None"]
StorePut = Callable[[str, bytes, str], None]
StoreDelete = Callable[[str], bool]
StoreList = Callable[[], "list[tuple[str, str]]"]

HOSTED: Final = "hosted"
CACHED: Final = "cached"
#: store key of a hosted context: this prefix + its id (independent of the broker's URL)
HOSTED_KEY_PREFIX: Final = "urn:ngsi-ld:jsonldContext:"
HOSTED_PATH: Final = "/ngsi-ld/v1/jsonldContexts/"
_HOSTED_URL = re.compile(r"^https?://[^/]+(?:/[^?#]*)?/ngsi-ld/v1/jsonldContexts/([^/?#]+)$")
#: distinct @contexts whose TermMap stays in memory
TERM_MAP_CACHE_SIZE: Final = 512
#: remote context documents kept parsed-ready in memory (the store keeps them all)
DOC_CACHE_SIZE: Final = 1024
#: most remote contexts one @context may pull in (nested included)
MAX_CONTEXT_URLS: Final = 32
_ACCEPT: Final = "application/ld+json, application/json"
_KEYWORD_LIKE = re.compile(r"^@[a-zA-Z]+$")


@dataclass(slots=True)
class _Usage:
    """In-memory bookkeeping of one context for ``list(details=True)``."""

    kind: str
    created_at: float
    last_usage: float | None = None
    hits: int = 0


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts % 1 * 1000):03d}Z"


def _hosted_id(url: str) -> str | None:
    """The local id if ``url`` names a hosted context (URN or broker URL), else None."""
    if url.startswith(HOSTED_KEY_PREFIX):
        return url[len(HOSTED_KEY_PREFIX) :]
    m = _HOSTED_URL.match(url)
    return unquote(m.group(1)) if m else None


def _is_absolute(url: str) -> bool:
    return re.match(r"^[A-Za-z][A-Za-z0-9+.\-]*:", url) is not None


def _sanitize(ctx: Any) -> Any:
    """A copy of a context value pyld can process without surprises.

    Drops scoped contexts (see module doc), the keyword-like non-keywords (``@foo``)
    JSON-LD says to ignore - pyld ignores them too but with a warning - and the
    ``@language`` / ``@direction`` defaults, which do not affect term definitions (and
    a null one trips pyld 3.3: KeyError).
    """
    from pyld.jsonld import KEYWORDS

    if isinstance(ctx, list):
        return [_sanitize(c) for c in ctx]
    if not isinstance(ctx, dict):
        return ctx
    out: dict[str, Any] = {}
    for key, value in ctx.items():
        if key in ("@language", "@direction") or (_KEYWORD_LIKE.match(key) and key not in KEYWORDS):
            continue
        if isinstance(value, str) and _KEYWORD_LIKE.match(value) and value not in KEYWORDS:
            continue
        if isinstance(value, dict) and not key.startswith("@"):
            value = {k: v for k, v in value.items() if k != "@context"}
            ref = value.get("@id", value.get("@reverse"))
            if isinstance(ref, str) and _KEYWORD_LIKE.match(ref) and ref not in KEYWORDS:
                continue
        out[key] = value
    return out


def _parse_context_doc(url: str, body: bytes) -> dict[str, Any]:
    """Check a remote document is a JSON-LD context document; raise BadRequestData."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise BadRequestData(f"@context {url} is not valid JSON") from None
    if not isinstance(doc, dict) or "@context" not in doc:
        raise BadRequestData(f"@context {url} is not a JSON-LD context (no @context member)")
    inner = doc["@context"]
    items = inner if isinstance(inner, list) else [inner]
    if not all(i is None or isinstance(i, str | dict) for i in items):
        raise BadRequestData(f"@context {url}: @context must be objects, strings or null")
    return doc


class ContextResolver:
    """Resolves user @contexts into TermMaps; manages hosted and cached contexts.

    One instance per app (no module globals). Blocking: call ``resolve`` off the event
    loop (it returns at once for a @context already seen; only a first use may wait
    for a download).
    """

    def __init__(
        self,
        store_get: StoreGet,
        store_put: StorePut,
        timeout: float,
        max_bytes: int,
        *,
        store_delete: StoreDelete | None = None,
        store_list: StoreList | None = None,
        term_map_cache_size: int = TERM_MAP_CACHE_SIZE,
    ) -> None:
        self._store_get = store_get
        self._store_put = store_put
        # Deleting and listing need two more Store operations. When they are not given
        # but store_get is a bound ``Store.get_context``, use that store's own
        # delete_context / list_contexts, so a deleted context cannot outlive a restart.
        owner = getattr(store_get, "__self__", None)
        if store_delete is None:
            store_delete = getattr(owner, "delete_context", None)
        if store_list is None:
            store_list = getattr(owner, "list_contexts", None)
        self._store_delete = store_delete
        self._store_list = store_list
        self.timeout = timeout
        self.max_bytes = max_bytes
        self._maps: OrderedDict[object, TermMap] = OrderedDict()
        self._maps_size = term_map_cache_size
        self._docs: OrderedDict[str, tuple[bytes, str]] = OrderedDict()  # url -> (body, kind)
        self._usage: dict[str, _Usage] = {}
        self._guard = threading.Lock()  # protects the dicts above and _url_locks
        self._url_locks: dict[str, threading.Lock] = {}
        self._failures: dict[str, tuple[float, BocageError]] = {}
        self._core: tuple[TermMap, dict[str, Any], dict[str, TermDef]] | None = None
        self._http: httpx.Client | None = None
        #: HTTP GETs issued (observability; tests count them)
        self.fetch_count = 0

    # ================================================================ resolution
    @property
    def core_term_map(self) -> TermMap:
        """The TermMap of the core context alone (built on first use, then kept)."""
        return self._core_state()[0]

    def resolve(self, context: Any) -> TermMap:
        """The TermMap for a user @context: None, a URL, an object, or a list of them."""
        if context is None or context == []:
            return self.core_term_map
        key: object = context if isinstance(context, str) else self._key(context)
        with self._guard:
            term_map = self._maps.get(key)
            if term_map is not None:
                self._maps.move_to_end(key)
                self._touch(term_map.urls)
                return term_map
        term_map = self._build(context)
        with self._guard:
            self._maps[key] = term_map
            while len(self._maps) > self._maps_size:
                self._maps.popitem(last=False)
            self._touch(term_map.urls)
        return term_map

    @staticmethod
    def _key(context: Any) -> bytes:
        """Canonical JSON of a context (sorted keys), the TermMap cache key."""
        try:
            return orjson.dumps(context, option=orjson.OPT_SORT_KEYS)
        except TypeError as exc:
            raise InvalidRequest(f"@context is not JSON: {exc}") from None

    def _touch(self, urls: frozenset[str]) -> None:
        now = time.time()
        for url in urls:
            usage = self._usage.get(url)
            if usage is not None:
                usage.hits += 1
                usage.last_usage = now

    def _core_state(self) -> tuple[TermMap, dict[str, Any], dict[str, TermDef]]:
        if self._core is None:
            from pyld import jsonld

            doc = orjson.loads(bundled_core_context("1.9"))
            local = _sanitize(doc["@context"])
            local.pop("@protected", None)  # see module doc: core first, then laid over
            proc = jsonld.JsonLdProcessor()
            initial = {"mappings": {}, "processingMode": "json-ld-1.1"}
            active = proc.process_context(initial, local, self._opts(set()))
            defs = term_defs(active["mappings"], user=False)
            core = (TermMap(defs, active.get("@vocab") or CORE_VOCAB), active, defs)
            with self._guard:
                if self._core is None:
                    self._core = core
        return self._core

    def _opts(self, urls: set[str]) -> dict[str, Any]:
        """pyld options for one build; the loader records in ``urls`` what it served."""
        from pyld.context_resolver import ContextResolver as PyldResolver

        def loader(url: str, options: object = None) -> dict[str, Any]:
            if is_core_url(url):
                doc: dict[str, Any] = {"@context": {}}  # the core is handled outside pyld
            else:
                key, body = self._load(url)
                urls.add(key)
                # a fresh object each time: pyld mutates the documents it is given
                doc = {"@context": _sanitize(orjson.loads(body)["@context"])}
            return {"contextUrl": None, "documentUrl": url, "document": doc}

        # a fresh pyld resolver per build: its cache must not outlive ours (module doc)
        return {
            "base": "",
            "documentLoader": loader,
            "contextResolver": PyldResolver({}, loader, MAX_CONTEXT_URLS),
        }

    def _build(self, context: Any) -> TermMap:
        from pyld import jsonld

        core_map, core_active, core_defs = self._core_state()
        items = context if isinstance(context, list) else [context]
        proc = jsonld.JsonLdProcessor()
        active = core_active
        urls: set[str] = set()
        opts = self._opts(urls)
        for item in items:
            if item is None:
                active = core_active  # a null resets to the (always present) core
                continue
            if isinstance(item, str):
                if not _is_absolute(item):
                    raise BadRequestData(f"@context URL {item!r} is not an absolute URL")
                if is_core_url(item):
                    continue
                where = item
            elif isinstance(item, dict):
                where = "object"
                item = _sanitize(item)
            else:
                raise BadRequestData("@context must be a URL, an object, null, or a list of those")
            try:
                active = proc.process_context(active, item, opts)
            except BocageError:
                raise
            except Exception as exc:  # JsonLdError, or a pyld crash on odd input
                raise self._translate(exc, where) from None
        if active is core_active:
            return core_map
        user = term_defs(active["mappings"], user=True)
        inherited = core_active["mappings"]
        merged = {t: d for t, d in user.items() if active["mappings"][t] is not inherited.get(t)}
        merged.update(core_defs)  # the core always wins
        return TermMap(merged, active.get("@vocab") or CORE_VOCAB, urls)

    @staticmethod
    def _translate(exc: Exception, where: str) -> BocageError:
        from pyld import jsonld

        cause: BaseException | None = exc
        while cause is not None:  # a failed fetch inside pyld: report our own error
            if isinstance(cause, BocageError):
                return cause
            cause = cause.__cause__ or cause.__context__
        if not isinstance(exc, jsonld.JsonLdError):
            return BadRequestData(f"invalid @context {where}: {type(exc).__name__}: {exc}")
        message = exc.args[0] if exc.args else str(exc)
        code = getattr(exc, "code", None)
        details = getattr(exc, "details", None)
        term = details.get("term") if isinstance(details, dict) else None
        about = f" (term {term!r})" if isinstance(term, str) else ""
        return BadRequestData(f"invalid @context {where}{about}: {message} ({code})")

    # ================================================================== loading
    def _cached(self, key: str) -> bytes | None:
        with self._guard:
            hit = self._docs.get(key)
            if hit is None:
                return None
            self._docs.move_to_end(key)
            return hit[0]

    def _load(self, url: str) -> tuple[str, bytes]:
        """(canonical key, document) of a remote context, fetched at most once.

        Hosted contexts are found by their id whatever the host in their URL (the
        broker's public URL may differ from the one they were created under), and are
        never fetched over HTTP from ourselves.
        """
        hosted = _hosted_id(url)
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
                body = self._fetch(url)
                _parse_context_doc(url, body)
            except BocageError as exc:
                with self._guard:
                    self._failures[url] = (time.monotonic(), exc)
                raise
            self._store_put(url, body, CACHED)
            self._remember(url, body, CACHED)
            with self._guard:
                self._failures.pop(url, None)
            return url, body

    def _remember(self, url: str, body: bytes, kind: str) -> None:
        with self._guard:
            self._docs[url] = (body, kind)
            while len(self._docs) > DOC_CACHE_SIZE:
                self._docs.popitem(last=False)
            if url not in self._usage:
                self._usage[url] = _Usage(kind=kind, created_at=time.time())

    def _url_lock(self, url: str) -> threading.Lock:
        with self._guard:
            lock = self._url_locks.get(url)
            if lock is None:
                lock = self._url_locks[url] = threading.Lock()
            return lock

    def _client(self) -> httpx.Client:
        with self._guard:
            if self._http is None:
                self._http = httpx.Client(
                    timeout=self.timeout,
                    follow_redirects=True,
                    max_redirects=5,
                    headers={"Accept": _ACCEPT},
                )
            return self._http

    def _fetch(self, url: str) -> bytes:
        """GET ``url`` within ``timeout`` seconds overall and ``max_bytes``."""
        with self._guard:
            self.fetch_count += 1
        deadline = time.monotonic() + self.timeout
        try:
            with self._client().stream("GET", url) as response:
                if not 200 <= response.status_code < 300:
                    raise LdContextNotAvailable(
                        f"@context {url} could not be retrieved: HTTP {response.status_code}"
                    )
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > self.max_bytes:
                    raise self._too_big(url)
                return b"".join(self._chunks(response, url, deadline))
        except httpx.TimeoutException:
            raise LdContextNotAvailable(
                f"@context {url} could not be retrieved: timed out after {self.timeout}s"
            ) from None
        except httpx.HTTPError as exc:
            raise LdContextNotAvailable(
                f"@context {url} could not be retrieved: {type(exc).__name__}: {exc}"
            ) from None

    def _chunks(self, response: httpx.Response, url: str, deadline: float) -> Iterator[bytes]:
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > self.max_bytes:
                raise self._too_big(url)
            if time.monotonic() > deadline:  # httpx timeouts are per read, not overall
                raise httpx.ReadTimeout("overall deadline exceeded")
            yield chunk

    def _too_big(self, url: str) -> BadRequestData:
        return BadRequestData(f"@context {url} is larger than {self.max_bytes} bytes")

    def close(self) -> None:
        with self._guard:
            client, self._http = self._http, None
        if client is not None:
            client.close()

    # ========================================================== /jsonldContexts
    def add_hosted(self, body: Any, base_url: str = "") -> tuple[str, str]:
        """Store a ``{"@context": ...}`` document; returns ``(id, URL serving it)``."""
        if not isinstance(body, dict) or set(body) != {"@context"}:
            raise BadRequestData('a hosted @context must be a JSON object {"@context": ...}')
        raw = orjson.dumps(body)
        _parse_context_doc("(request body)", raw)
        # reject invalid term definitions now rather than at first use; a referenced
        # remote context being down may be transient, so that alone is accepted
        with contextlib.suppress(LdContextNotAvailable):
            self._build(body["@context"])
        local_id = str(uuid.uuid4())
        key = HOSTED_KEY_PREFIX + local_id
        self._store_put(key, raw, HOSTED)
        self._remember(key, raw, HOSTED)
        return local_id, self.hosted_url(local_id, base_url)

    @staticmethod
    def hosted_url(local_id: str, base_url: str = "") -> str:
        """Where a hosted context is served: ``base_url`` may be the broker's root URL
        or already the ``.../ngsi-ld/v1/jsonldContexts`` collection URL."""
        base = base_url.rstrip("/")
        if base.endswith(HOSTED_PATH.rstrip("/")):
            base = base[: -len(HOSTED_PATH.rstrip("/"))]
        return base + HOSTED_PATH + local_id

    def _entries(self) -> dict[str, str]:
        """Known contexts: store key / URL -> kind."""
        with self._guard:
            found = {url: kind for url, (_, kind) in self._docs.items()}
        if self._store_list is not None:
            found.update(dict(self._store_list()))
        return found

    def list(self, details: bool = False, base_url: str = "") -> builtins.list[Any]:
        """Contexts known to the broker: their URLs, or detail objects.

        Hosted contexts are listed under ``base_url`` + ``/ngsi-ld/v1/jsonldContexts/{id}``
        (a root-relative URL when ``base_url`` is empty). Usage figures are in-memory,
        counted since this process started.
        """
        out: builtins.list[Any] = []
        rows = [(CORE_CONTEXT_URL, "core"), *sorted(self._entries().items())]
        for key, kind in rows:
            hosted = _hosted_id(key) if kind == HOSTED else None
            url = self.hosted_url(hosted, base_url) if hosted is not None else key
            if not details:
                out.append(url)
                continue
            with self._guard:
                usage = self._usage.get(key)
            entry: dict[str, Any] = {
                "URL": url,
                "localId": hosted or self.local_id(key),
                "kind": "Hosted" if kind == HOSTED else "Cached",
                "createdAt": _iso(usage.created_at if usage else None),
                "lastUsage": _iso(usage.last_usage if usage else None),
                "numberOfHits": usage.hits if usage else 0,
            }
            # NGSI-LD bodies carry no nulls: unknown times are left out
            out.append({k: v for k, v in entry.items() if v is not None})
        return out

    @staticmethod
    def local_id(url: str) -> str:
        """Stable local id of a cached context (usable in ``/jsonldContexts/{id}``)."""
        return sha256(url.encode()).hexdigest()[:16]

    def _find(self, id_or_url: str) -> tuple[str, str] | None:
        """(store key, kind) of a hosted or cached context named by id, URN or URL."""
        hosted = _hosted_id(id_or_url)
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
            if self.local_id(key) == id_or_url:
                return key, kind
        return None

    def get(self, id_or_url: str) -> bytes:
        """The document of a context (core, hosted or cached); ResourceNotFound if none."""
        if is_core_url(id_or_url):
            return core_document_for(id_or_url)
        found = self._find(id_or_url)
        if found is None:
            raise ResourceNotFound(f"no @context {id_or_url}")
        with self._guard:
            hit = self._docs.get(found[0])
        if hit is not None:
            return hit[0]
        stored = self._store_get(found[0])
        if stored is None:
            raise ResourceNotFound(f"no @context {id_or_url}")
        return stored[0]

    def delete(self, id_or_url: str) -> bool:
        """Forget a hosted or cached context everywhere; False if it was unknown."""
        if is_core_url(id_or_url):
            raise BadRequestData("the NGSI-LD core @context cannot be deleted")
        found = self._find(id_or_url)
        if found is None:
            return False
        key = found[0]
        if self._store_delete is not None:
            self._store_delete(key)
        self._evict(key)
        return True

    def reload(self, id_or_url: str) -> None:
        """Download a cached context again (replacing the stored copy)."""
        if is_core_url(id_or_url):
            raise BadRequestData("the NGSI-LD core @context is bundled, it is never reloaded")
        found = self._find(id_or_url)
        if found is None:
            raise ResourceNotFound(f"no cached @context {id_or_url}")
        url, kind = found
        if kind == HOSTED or not url.startswith(("http://", "https://")):
            raise BadRequestData(f"@context {id_or_url} is hosted here; only cached ones reload")
        with self._url_lock(url):
            body = self._fetch(url)
            _parse_context_doc(url, body)
            self._store_put(url, body, CACHED)
            self._evict(url)
            self._remember(url, body, CACHED)

    def _evict(self, key: str) -> None:
        """Drop a context (by canonical key) from memory and every TermMap built from it."""
        with self._guard:
            self._docs.pop(key, None)
            self._usage.pop(key, None)
            self._failures.pop(key, None)
            for stale in [k for k, m in self._maps.items() if key in m.urls]:
                del self._maps[stale]
