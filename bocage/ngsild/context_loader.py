"""``ContextResolver``: user @context -> ``TermMap``, offline first, each URL fetched once.

The core context URLs are never fetched: the bundled copy (``context_core``) is used.
Every other URL is loaded through ``context_docs`` (memory, then the store, then one
HTTP GET via ``context_fetch``, with a lock per URL). TermMaps are cached per distinct
@context (key: its canonical JSON; LRU-bounded) and evicted when a context they were
built from is deleted or reloaded.

Term definitions are computed by pyld's JSON-LD 1.1 context processing, not by a
home-made subset: it already gets prefixes, compact-IRI terms, ``@vocab``, ``@import``,
protected terms, cycles and the many validation rules right, and it is only run once
per distinct @context. pyld is used with
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
from collections import OrderedDict
from typing import Any, Final

import orjson

from bocage.domain.errors import BadRequestData, BocageError, InvalidRequest, LdContextNotAvailable
from bocage.ngsild.context_core import CORE_VOCAB, bundled_core_context, is_core_url
from bocage.ngsild.context_docs import (
    HOSTED_KEY_PREFIX,
    ContextDocuments,
    StoreDelete,
    StoreGet,
    StoreList,
    StorePut,
    hosted_url,
)
from bocage.ngsild.context_fetch import ContextFetcher, parse_context_doc
from bocage.ngsild.context_terms import TermDef, TermMap, term_defs

__all__ = ["HOSTED_KEY_PREFIX", "ContextResolver"]

#: distinct @contexts whose TermMap stays in memory
TERM_MAP_CACHE_SIZE: Final = 512
#: most remote contexts one @context may pull in (nested included)
MAX_CONTEXT_URLS: Final = 32
_KEYWORD_LIKE = re.compile(r"^@[a-zA-Z]+$")


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
        # Deleting and listing need two more Store operations. When they are not given
        # but store_get is a bound ``Store.get_context``, use that store's own
        # delete_context / list_contexts, so a deleted context cannot outlive a restart.
        owner = getattr(store_get, "__self__", None)
        if store_delete is None:
            store_delete = getattr(owner, "delete_context", None)
        if store_list is None:
            store_list = getattr(owner, "list_contexts", None)
        self.fetcher = ContextFetcher(timeout, max_bytes)
        self.documents = ContextDocuments(
            store_get, store_put, store_delete, store_list, self.fetcher
        )
        self._maps: OrderedDict[object, TermMap] = OrderedDict()
        self._maps_size = term_map_cache_size
        self._guard = threading.Lock()  # protects _maps, _generation and _core
        #: bumped by every eviction, so a build racing a delete/reload is not cached
        self._generation = 0
        self._core: tuple[TermMap, dict[str, Any], dict[str, TermDef]] | None = None

    @property
    def fetch_count(self) -> int:
        """HTTP GETs issued so far (observability; tests count them)."""
        return self.fetcher.count

    # ================================================================ resolution
    @property
    def core_term_map(self) -> TermMap:
        """The TermMap of the core context alone (built on first use, then kept)."""
        return self._core_state()[0]

    def is_ready(self, context: Any) -> bool:
        """True when ``resolve(context)`` would return at once (no build, no download)."""
        if context is None or context == []:
            return self._core is not None
        if not isinstance(context, str):
            return False  # inline contexts need their key computed: cheap, but not free
        with self._guard:
            return context in self._maps

    def resolve(self, context: Any) -> TermMap:
        """The TermMap for a user @context: None, a URL, an object, or a list of them."""
        if context is None or context == []:
            return self.core_term_map
        key: object = context if isinstance(context, str) else self._key(context)
        with self._guard:
            term_map = self._maps.get(key)
            if term_map is not None:
                self._maps.move_to_end(key)
            generation = self._generation
        if term_map is None:
            term_map = self._build(context)
            with self._guard:
                if generation == self._generation:
                    self._maps[key] = term_map
                    while len(self._maps) > self._maps_size:
                        self._maps.popitem(last=False)
        if term_map.urls:
            self.documents.touch(term_map.urls)
        return term_map

    @staticmethod
    def _key(context: Any) -> bytes:
        """Canonical JSON of a context (sorted keys), the TermMap cache key."""
        try:
            return orjson.dumps(context, option=orjson.OPT_SORT_KEYS)
        except TypeError as exc:
            raise InvalidRequest(f"@context is not JSON: {exc}") from None

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
                key, body = self.documents.load(url)
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

    # ========================================================== /jsonldContexts
    def add_hosted(self, body: Any, base_url: str = "") -> tuple[str, str]:
        """Host a ``{"@context": ...}`` document; returns ``(id, URL serving it)``.

        ``base_url``: the broker's root URL (or its ``/ngsi-ld/v1/jsonldContexts`` URL).
        """
        if not isinstance(body, dict) or set(body) != {"@context"}:
            raise BadRequestData('a hosted @context must be a JSON object {"@context": ...}')
        raw = orjson.dumps(body)
        parse_context_doc("(request body)", raw)
        # reject invalid term definitions now rather than at first use; a referenced
        # remote context being down may be transient, so that alone is accepted
        with contextlib.suppress(LdContextNotAvailable):
            self._build(body["@context"])
        return self.documents.add_hosted(raw, base_url)

    @staticmethod
    def hosted_url(local_id: str, base_url: str = "") -> str:
        return hosted_url(local_id, base_url)

    def list(self, details: bool = False, base_url: str = "") -> builtins.list[Any]:
        """Known contexts (core, hosted, cached): URLs, or detail objects with ``URL``,
        ``localId``, ``kind`` (Hosted/Cached), ``createdAt``, ``lastUsage``,
        ``numberOfHits`` (in-memory figures, since this process started)."""
        return self.documents.list(details, base_url)

    def get(self, id_or_url: str) -> bytes:
        """The document of a context (core, hosted or cached); ResourceNotFound if none."""
        return self.documents.get(id_or_url)

    def delete(self, id_or_url: str) -> bool:
        """Forget a hosted or cached context (store, memory, TermMaps built from it).

        False if unknown; the core context -> BadRequestData.
        """
        key = self.documents.delete(id_or_url)
        if key is None:
            return False
        self._evict_maps(key)
        return True

    def reload(self, id_or_url: str) -> None:
        """Download a cached context again (hosted or core -> BadRequestData)."""
        self._evict_maps(self.documents.reload(id_or_url))

    def _evict_maps(self, key: str) -> None:
        with self._guard:
            self._generation += 1
            for stale in [k for k, m in self._maps.items() if key in m.urls]:
                del self._maps[stale]

    def close(self) -> None:
        """Close the HTTP client (if one was opened)."""
        self.fetcher.close()
