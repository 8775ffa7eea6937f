"""JSON-LD @context handling: core offline, remote contexts fetched once, TermMap, Link.

Remote contexts are served by a loopback ``http.server`` thread with per-test routes;
an autouse guard fails any HTTP request that is not to 127.0.0.1.
"""

from __future__ import annotations

import http.server
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bocage.domain.errors import (
    BadRequestData,
    InvalidRequest,
    LdContextNotAvailable,
    ResourceNotFound,
)
from bocage.ngsild.context import (
    CORE_CONTEXT_ALIASES,
    CORE_CONTEXT_URL,
    CORE_VOCAB,
    ContextResolver,
    TermMap,
    bundled_core_context,
    link_header,
    parse_link_header,
)

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "data"
NGSI = "https://uri.etsi.org/ngsi-ld/"
SDM = "https://smartdatamodels.org/dataModel.WasteManagement/"


# ------------------------------------------------------------------ loopback server
@dataclass
class Route:
    body: bytes
    status: int = 200
    ctype: str = "application/ld+json"
    delay: float = 0.0
    send_length: bool = True


class _Handler(http.server.BaseHTTPRequestHandler):
    server: ContextServer

    def do_GET(self) -> None:
        srv = self.server
        with srv.lock:
            srv.hits[self.path] = srv.hits.get(self.path, 0) + 1
            srv.accepts.append(self.headers.get("accept", ""))
            route = srv.routes.get(self.path)
        if route is None:
            route = Route(b'{"error": "not found"}', status=404, ctype="application/json")
        if route.delay:
            time.sleep(route.delay)
        try:
            self.send_response(route.status)
            self.send_header("Content-Type", route.ctype)
            if route.send_length:
                self.send_header("Content-Length", str(len(route.body)))
            self.end_headers()
            self.wfile.write(route.body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout / too large): expected

    def log_message(self, format: str, *args: Any) -> None:
        pass


class ContextServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.routes: dict[str, Route] = {}
        self.hits: dict[str, int] = {}
        self.accepts: list[str] = []
        self._n = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def serve(self, doc: Any = None, raw: bytes | None = None, **kw: Any) -> str:
        """Publish a document under a fresh path; returns its URL."""
        with self.lock:
            self._n += 1
            path = f"/ctx/{self._n}.jsonld"
        self.put(path, doc, raw, **kw)
        return self.base + path

    def put(self, path: str, doc: Any = None, raw: bytes | None = None, **kw: Any) -> None:
        body = raw if raw is not None else json.dumps(doc).encode()
        with self.lock:
            self.routes[path] = Route(body, **kw)

    def hits_of(self, url: str) -> int:
        with self.lock:
            return self.hits.get(url[len(self.base) :], 0)


@pytest.fixture(scope="module")
def server() -> Iterator[ContextServer]:
    srv = ContextServer()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any HTTP request off loopback fails the test (never touch the internet)."""
    real = httpx.HTTPTransport.handle_request

    def guarded(self: httpx.HTTPTransport, request: httpx.Request) -> httpx.Response:
        assert request.url.host == "127.0.0.1", f"network access attempted: {request.url}"
        return real(self, request)

    monkeypatch.setattr(httpx.HTTPTransport, "handle_request", guarded)


class Stores:
    """The store callbacks over a plain dict."""

    def __init__(self) -> None:
        self.data: dict[str, tuple[bytes, str]] = {}

    def get(self, url: str) -> tuple[bytes, str] | None:
        return self.data.get(url)

    def put(self, url: str, body: bytes, kind: str) -> None:
        self.data[url] = (body, kind)

    def delete(self, url: str) -> bool:
        return self.data.pop(url, None) is not None

    def list(self) -> list[tuple[str, str]]:
        return [(url, kind) for url, (_, kind) in self.data.items()]

    def resolver(
        self, timeout: float = 2.0, max_bytes: int = 100_000, **kw: Any
    ) -> ContextResolver:
        return ContextResolver(
            self.get,
            self.put,
            timeout,
            max_bytes,
            store_delete=self.delete,
            store_list=self.list,
            **kw,
        )


@pytest.fixture
def stores() -> Stores:
    return Stores()


@pytest.fixture
def resolver(stores: Stores) -> Iterator[ContextResolver]:
    r = stores.resolver()
    yield r
    r.close()


def waste_context() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((FIXTURES / "waste-management-context.jsonld").read_bytes())
    return doc


# ------------------------------------------------------------------ core, offline
def test_core_aliases_cover_v13_to_v19_and_unversioned() -> None:
    for minor in range(3, 10):
        assert f"{NGSI}v1/ngsi-ld-core-context-v1.{minor}.jsonld" in CORE_CONTEXT_ALIASES
    assert f"{NGSI}v1/ngsi-ld-core-context.jsonld" in CORE_CONTEXT_ALIASES
    assert f"{NGSI}ngsi-ld-core-context.jsonld" in CORE_CONTEXT_ALIASES
    assert f"{NGSI}v1/ngsi-ld-core-context-v1.9.jsonld" == CORE_CONTEXT_URL


def test_core_aliases_resolve_offline(stores: Stores, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: Any, **kwargs: Any) -> Any:
        pytest.fail("the core context must never be fetched")

    monkeypatch.setattr(httpx.Client, "send", no_network)
    r = stores.resolver()
    for url in CORE_CONTEXT_ALIASES:
        for ctx in (url, [url], [url, {"a": "https://example.org/a"}]):
            terms = r.resolve(ctx)
            assert terms.expand("location") == NGSI + "location"
            assert terms.expand("observedAt") == NGSI + "observedAt"
    assert r.resolve(None) is r.core_term_map
    assert r.fetch_count == 0
    assert stores.data == {}


def test_core_documents_are_served_from_the_bundle(resolver: ContextResolver) -> None:
    assert resolver.get(CORE_CONTEXT_URL) == bundled_core_context("1.9")
    v13 = resolver.get(f"{NGSI}v1/ngsi-ld-core-context-v1.3.jsonld")
    assert v13 == bundled_core_context("1.3")
    assert "@context" in json.loads(v13)
    assert resolver.get(f"{NGSI}v1/ngsi-ld-core-context-v1.7.jsonld") == bundled_core_context()


@pytest.mark.parametrize(
    ("term", "iri"),
    [
        ("location", NGSI + "location"),
        ("observedAt", NGSI + "observedAt"),
        ("unitCode", NGSI + "unitCode"),
        ("datasetId", NGSI + "datasetId"),
        ("value", NGSI + "hasValue"),
        ("Property", NGSI + "Property"),
        ("type", "@type"),
        ("id", "@id"),
        ("temperature", CORE_VOCAB + "temperature"),
        ("urn:ngsi-ld:Thing:1", "urn:ngsi-ld:Thing:1"),
        ("https://example.org/p", "https://example.org/p"),
        ("ngsi-ld:foo", NGSI + "foo"),
        ("geojson:foo", "https://purl.org/geojson/vocab#foo"),
    ],
)
def test_core_expand_compact_round_trip(resolver: ContextResolver, term: str, iri: str) -> None:
    terms = resolver.core_term_map
    assert terms.expand(term) == iri
    assert terms.compact(iri) == term
    assert terms.compact(terms.expand(term)) == term  # memoised path too


def test_core_vocab_terms(resolver: ContextResolver) -> None:
    terms = resolver.core_term_map
    assert terms.is_vocab_term(NGSI + "hasVocab")
    assert not terms.is_vocab_term(NGSI + "location")
    assert terms.expand_vocab("Electric") == CORE_VOCAB + "Electric"
    assert terms.compact_vocab([CORE_VOCAB + "Electric", NGSI + "Property"]) == [
        "Electric",
        "Property",
    ]


# ------------------------------------------------------------------ user contexts
def test_user_terms_prefixes_and_vocab_values(resolver: ContextResolver) -> None:
    terms = resolver.resolve(
        {
            "ex": "https://example.org/ns#",
            "color": {"@id": "ex:color", "@type": "@vocab"},
            "Red": "ex:Red",
            "speed": "https://example.org/speed",
            "own": "ngsi-ld:own",
        }
    )
    assert terms.expand("speed") == "https://example.org/speed"
    assert terms.expand("ex:weight") == "https://example.org/ns#weight"
    assert terms.compact("https://example.org/ns#weight") == "ex:weight"
    assert terms.expand("own") == NGSI + "own"  # the core's prefix is usable
    assert terms.is_vocab_term("https://example.org/ns#color")
    assert terms.expand_vocab("Red") == "https://example.org/ns#Red"
    assert terms.expand_vocab(["Red", "Blue"]) == [
        "https://example.org/ns#Red",
        CORE_VOCAB + "Blue",
    ]
    assert terms.compact_vocab(["https://example.org/ns#Red", CORE_VOCAB + "Blue"]) == [
        "Red",
        "Blue",
    ]
    assert terms.expand_vocab(3) == 3


def test_core_terms_win_silently_even_against_protected_user_terms(
    resolver: ContextResolver,
) -> None:
    terms = resolver.resolve(
        {"@protected": True, "location": "https://example.org/loc", "x": "https://example.org/x"}
    )
    assert terms.expand("location") == NGSI + "location"
    assert terms.expand("x") == "https://example.org/x"
    # "location" would not expand back to the user's IRI, so it is not its compaction
    assert terms.compact("https://example.org/loc") == "https://example.org/loc"


def test_user_terms_win_for_compaction(resolver: ContextResolver) -> None:
    terms = resolver.resolve({"loc": NGSI + "location"})
    assert terms.compact(NGSI + "location") == "loc"
    assert terms.expand("loc") == terms.expand("location") == NGSI + "location"


def test_protection_between_user_contexts_is_enforced(resolver: ContextResolver) -> None:
    ctx = [{"@protected": True, "a": "https://x.example/a"}, {"a": "https://y.example/a"}]
    with pytest.raises(BadRequestData, match="protected"):
        resolver.resolve(ctx)


def test_user_vocab_and_default_context_round_trip(resolver: ContextResolver) -> None:
    terms = resolver.resolve({"@vocab": "https://example.org/v/"})
    assert terms.expand("anything") == "https://example.org/v/anything"
    assert terms.compact("https://example.org/v/anything") == "anything"
    # a default-context IRI written by another client still round-trips
    other = CORE_VOCAB + "anything"
    assert terms.expand(terms.compact(other)) == other


def test_default_context_iri_shadowed_by_a_user_term(resolver: ContextResolver) -> None:
    terms = resolver.resolve(waste_context()["@context"])
    assert terms.expand("temperature") == SDM + "temperature"
    iri = CORE_VOCAB + "temperature"
    assert terms.compact(iri) != "temperature"
    assert terms.expand(terms.compact(iri)) == iri


@pytest.mark.parametrize("bad", [5, [True], {"a": 5}, {"a": {"@id": 3}}, "relative.jsonld"])
def test_invalid_contexts_are_bad_request_data(resolver: ContextResolver, bad: Any) -> None:
    with pytest.raises(BadRequestData):
        resolver.resolve(bad)


def test_term_maps_are_cached_per_distinct_context_lru(stores: Stores) -> None:
    r = stores.resolver(term_map_cache_size=2)
    a, b, c = ({"t": f"https://example.org/{n}"} for n in "abc")
    first = r.resolve(a)
    assert r.resolve({"t": "https://example.org/a"}) is first  # same canonical JSON
    assert r.resolve([a]) is not first  # a different (though equivalent) @context
    r.resolve(b)
    r.resolve(c)
    assert r.resolve(a) is not first  # evicted (LRU bound 2)
    assert r.resolve(a).expand("t") == "https://example.org/a"
    r.close()


def test_term_map_expand_compact_are_fast(resolver: ContextResolver) -> None:
    terms: TermMap = resolver.resolve(waste_context()["@context"])
    names = ["fillingLevel", "location", "temperature", "observedAt", "someCustomName"]
    iris = [terms.expand(n) for n in names]
    n = 20_000
    start = time.perf_counter()
    for _ in range(n):
        for name in names:
            terms.expand(name)
    expand_us = (time.perf_counter() - start) / (n * len(names)) * 1e6
    start = time.perf_counter()
    for _ in range(n):
        for iri in iris:
            terms.compact(iri)
    compact_us = (time.perf_counter() - start) / (n * len(names)) * 1e6
    print(f"expand {expand_us:.3f} us/call, compact {compact_us:.3f} us/call")
    assert expand_us < 5 and compact_us < 5  # dict look-ups; generous for slow CI


_TERM = st.lists(
    st.sampled_from(
        [*"abxz:/#_-.@", "ngsi-ld", "geojson", "https", "urn", "default-context", "ex"]
    ),
    min_size=1,
    max_size=8,
).map("".join)


@settings(max_examples=500, deadline=None, suppress_health_check=list(HealthCheck))
@given(term=_TERM)
def test_compact_is_a_right_inverse_of_expand(resolver: ContextResolver, term: str) -> None:
    user = {"@vocab": "https://ex.org/v/", "ex": "https://ex.org/", "p": "https://ex.org/p"}
    for terms in (
        resolver.core_term_map,
        resolver.resolve(waste_context()),
        resolver.resolve(user),
    ):
        iri = terms.expand(term)
        assert terms.expand(terms.compact(iri)) == iri


_KEYS = st.sampled_from(
    [
        *("a", "ex", "ex:a", "location", "type", "@vocab", "@id", "@type", "@container"),
        *("@protected", "@version", "@import", "@language", "@reverse", "@prefix", "@context"),
        *("@foo", "a/b", ""),
    ]
)
_VALUES = st.sampled_from(
    [
        *("https://x.example/a", "ex:b", "@id", "@vocab", "@json", "@list", "@set", "@foo"),
        *("a", "", "urn:x", "_:b", "http://x.example/", "@graph", "@index", "en"),
    ]
)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | _VALUES,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=4),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(ctx=_JSON)
def test_any_context_gives_a_term_map_or_a_client_error(
    resolver: ContextResolver, ctx: Any
) -> None:
    if isinstance(ctx, str) and ctx.startswith("http"):
        return  # would be fetched
    try:
        terms = resolver.resolve(ctx)
    except (BadRequestData, InvalidRequest, LdContextNotAvailable):
        return
    assert terms.expand("location") == NGSI + "location"


def test_null_language_is_accepted(resolver: ContextResolver) -> None:
    assert resolver.resolve({"@language": None, "a": "https://x.example/a"}).expand("a")


# ------------------------------------------------------------------ remote contexts
def test_smart_data_models_context_over_http(
    resolver: ContextResolver, server: ContextServer, stores: Stores
) -> None:
    url = server.serve(waste_context())
    terms = resolver.resolve([url, CORE_CONTEXT_URL])
    assert terms.expand("fillingLevel") == SDM + "fillingLevel"
    assert terms.compact(SDM + "fillingLevel") == "fillingLevel"
    assert terms.expand("location") == NGSI + "location"
    assert terms.expand("bbox") == "https://purl.org/geojson/vocab#bbox"
    for term in waste_context()["@context"]:
        iri = terms.expand(term)
        assert terms.expand(terms.compact(iri)) == iri, term
    assert stores.data[url][1] == "cached"
    assert "application/ld+json" in server.accepts[-1]


def test_agrees_with_pyld_expansion(resolver: ContextResolver) -> None:
    from pyld import jsonld

    ctx = waste_context()["@context"]
    terms = resolver.resolve(ctx)
    core = json.loads(bundled_core_context())["@context"]
    for term in ctx:
        if term in core or term.startswith("@"):
            continue
        expanded = jsonld.expand({"@context": ctx, term: "x"})
        assert list(expanded[0]) == [terms.expand(term)], term


def test_fetched_once_even_under_concurrency(stores: Stores, server: ContextServer) -> None:
    url = server.serve({"@context": {"a": "https://example.org/a"}}, delay=0.3)
    r = stores.resolver()
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: r.resolve(url).expand("a"), range(32)))
    assert set(results) == {"https://example.org/a"}
    assert server.hits_of(url) == 1
    assert r.fetch_count == 1
    r.close()
    # and once ever: a new process (resolver) over the same store does not fetch again
    again = stores.resolver()
    assert again.resolve(url).expand("a") == "https://example.org/a"
    assert server.hits_of(url) == 1
    again.close()


def test_concurrent_waiters_share_a_failed_download(
    resolver: ContextResolver, server: ContextServer
) -> None:
    url = server.serve(raw=b"gone", status=410, delay=0.3)

    def attempt(_: int) -> str:
        try:
            resolver.resolve(url)
        except LdContextNotAvailable as exc:
            return exc.detail
        return "resolved?"

    with ThreadPoolExecutor(6) as pool:
        details = list(pool.map(attempt, range(6)))
    assert all("HTTP 410" in d for d in details)
    assert server.hits_of(url) == 1


def test_nested_remote_contexts(resolver: ContextResolver, server: ContextServer) -> None:
    server.put("/nest/b.jsonld", {"@context": {"b": "https://example.org/b"}})
    server.put(
        "/nest/c.jsonld",
        {
            "@context": {
                "@vocab": "https://example.org/v/",
                "c": "ex2:c",
                "ex2": "https://example.org/two/",
            }
        },
    )
    server.put(
        "/nest/a.jsonld",
        {
            "@context": [
                CORE_CONTEXT_URL,  # a remote context may reference the core: never fetched
                server.base + "/nest/b.jsonld",
                "c.jsonld",  # relative to a.jsonld
                {"a": "https://example.org/a"},
            ]
        },
    )
    terms = resolver.resolve(server.base + "/nest/a.jsonld")
    assert terms.expand("a") == "https://example.org/a"
    assert terms.expand("b") == "https://example.org/b"
    assert terms.expand("c") == "https://example.org/two/c"
    assert terms.expand("zzz") == "https://example.org/v/zzz"
    assert terms.urls == {server.base + f"/nest/{n}.jsonld" for n in "abc"}


def test_cyclic_remote_contexts_fail_cleanly(
    resolver: ContextResolver, server: ContextServer
) -> None:
    server.put("/cycle/a.jsonld", {"@context": ["b.jsonld", {"a": "https://example.org/a"}]})
    server.put("/cycle/b.jsonld", {"@context": ["a.jsonld"]})
    with pytest.raises(BadRequestData):
        resolver.resolve(server.base + "/cycle/a.jsonld")


def test_timeout(stores: Stores, server: ContextServer) -> None:
    url = server.serve({"@context": {}}, delay=2.0)
    r = stores.resolver(timeout=0.3)
    start = time.monotonic()
    with pytest.raises(LdContextNotAvailable, match="timed out") as err:
        r.resolve(url)
    assert url in err.value.detail
    assert time.monotonic() - start < 1.5
    assert url not in stores.data
    r.close()


@pytest.mark.parametrize("send_length", [True, False])
def test_too_large(stores: Stores, server: ContextServer, send_length: bool) -> None:
    big = {"@context": {f"t{i}": f"https://example.org/{i}" for i in range(500)}}
    url = server.serve(big, send_length=send_length)
    r = stores.resolver(max_bytes=1000)
    with pytest.raises(BadRequestData, match="larger than 1000 bytes") as err:
        r.resolve(url)
    assert url in err.value.detail
    assert url not in stores.data
    r.close()


def test_not_found(resolver: ContextResolver, server: ContextServer, stores: Stores) -> None:
    url = server.base + "/missing.jsonld"
    with pytest.raises(LdContextNotAvailable, match="HTTP 404") as err:
        resolver.resolve(url)
    assert url in err.value.detail
    assert stores.data == {}


def test_connection_refused(resolver: ContextResolver) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: refused
        url = f"http://127.0.0.1:{port}/ctx.jsonld"
        with pytest.raises(LdContextNotAvailable) as err:
            resolver.resolve(url)
    assert url in err.value.detail


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"<html>not json</html>", "not valid JSON"),
        (b'{"name": "no context here"}', "not a JSON-LD context"),
        (b'["a", "b"]', "not a JSON-LD context"),
        (b'{"@context": {"a": 42}}', "invalid @context"),
        (b'{"@context": [42]}', "must be objects, strings or null"),
    ],
)
def test_invalid_remote_content(
    resolver: ContextResolver, server: ContextServer, raw: bytes, message: str
) -> None:
    url = server.serve(raw=raw, ctype="application/json")
    with pytest.raises(BadRequestData, match=message) as err:
        resolver.resolve(url)
    assert url in err.value.detail


def test_unknown_non_http_url(resolver: ContextResolver) -> None:
    with pytest.raises(LdContextNotAvailable):
        resolver.resolve("urn:example:some-context")


# ------------------------------------------------------------------ Link header
@pytest.mark.parametrize(
    "value",
    [
        '<https://ex.org/c.jsonld>; rel="http://www.w3.org/ns/json-ld#context"; '
        'type="application/ld+json"',
        '<https://ex.org/c.jsonld>;rel="http://www.w3.org/ns/json-ld#context"',
        ' <https://ex.org/c.jsonld> ; type="application/ld+json" ; '
        'REL="other http://www.w3.org/ns/json-ld#context"',
        '<https://ex.org/next>; rel="next", <https://ex.org/c.jsonld>; '
        'rel="http://www.w3.org/ns/json-ld#context"',
    ],
)
def test_parse_link_header(value: str) -> None:
    assert parse_link_header(value) == "https://ex.org/c.jsonld"


def test_link_header_round_trip() -> None:
    assert parse_link_header(link_header(CORE_CONTEXT_URL)) == CORE_CONTEXT_URL


def test_link_header_without_context_link() -> None:
    assert parse_link_header('<https://ex.org/p2>; rel="next"') is None
    assert parse_link_header("") is None


@pytest.mark.parametrize(
    "value",
    [
        "https://ex.org/c.jsonld",
        '<https://ex.org/c.jsonld; rel="http://www.w3.org/ns/json-ld#context"',
        '<https://ex.org/c.jsonld>; rel="http://www.w3.org/ns/json-ld#context',
        '<https://ex.org/c.jsonld> rel="http://www.w3.org/ns/json-ld#context"',
        '<c.jsonld>; rel="http://www.w3.org/ns/json-ld#context"',
        '<>; rel="http://www.w3.org/ns/json-ld#context"',
        '<https://a/1>; rel="http://www.w3.org/ns/json-ld#context", '
        '<https://a/2>; rel="http://www.w3.org/ns/json-ld#context"',
    ],
)
def test_bad_link_headers(value: str) -> None:
    with pytest.raises(InvalidRequest):
        parse_link_header(value)


# ------------------------------------------------------------------ /jsonldContexts
def test_hosted_contexts_add_list_get_delete(
    stores: Stores, monkeypatch: pytest.MonkeyPatch
) -> None:
    r = stores.resolver()
    body = {"@context": {"hostedTerm": "https://example.org/hosted"}}
    local_id, url = r.add_hosted(body, "http://broker.example:1026/")
    assert url == f"http://broker.example:1026/ngsi-ld/v1/jsonldContexts/{local_id}"
    # the collection URL is accepted as base too
    assert r.hosted_url(local_id, "http://broker.example:1026/ngsi-ld/v1/jsonldContexts") == url
    assert stores.data[f"urn:ngsi-ld:jsonldContext:{local_id}"][1] == "hosted"

    def no_network(*args: Any, **kwargs: Any) -> Any:
        pytest.fail("a hosted context must never be fetched over HTTP")

    monkeypatch.setattr(httpx.Client, "send", no_network)
    # resolved locally, whatever host the broker is reached under
    for ref in (url, f"https://other.example/ngsi-ld/v1/jsonldContexts/{local_id}"):
        assert r.resolve(ref).expand("hostedTerm") == "https://example.org/hosted"
    # and after a restart (a new resolver over the same store)
    assert stores.resolver().resolve(url).expand("hostedTerm") == "https://example.org/hosted"

    assert json.loads(r.get(local_id)) == body
    assert json.loads(r.get(url)) == body
    assert r.list(base_url="http://broker.example:1026") == [CORE_CONTEXT_URL, url]
    details = {d["URL"]: d for d in r.list(details=True)}
    hosted = details[f"/ngsi-ld/v1/jsonldContexts/{local_id}"]
    assert hosted["kind"] == "Hosted"
    assert hosted["localId"] == local_id
    assert hosted["numberOfHits"] >= 2
    assert hosted["createdAt"].endswith("Z")
    assert details[CORE_CONTEXT_URL]["kind"] == "Cached"

    assert r.delete(url) is True
    assert r.delete(local_id) is False
    with pytest.raises(ResourceNotFound):
        r.get(local_id)
    with pytest.raises(LdContextNotAvailable):  # no stale TermMap survives the deletion
        r.resolve(f"urn:ngsi-ld:jsonldContext:{local_id}")
    assert stores.data == {}
    r.close()


@pytest.mark.parametrize(
    "body",
    [
        {"hostedTerm": "https://example.org/hosted"},
        {"@context": {"a": "https://example.org/a"}, "extra": 1},
        {"@context": {"a": 42}},
        {"@context": 42},
        [],
    ],
)
def test_hosted_context_validation(resolver: ContextResolver, body: Any, stores: Stores) -> None:
    with pytest.raises(BadRequestData):
        resolver.add_hosted(body)
    assert stores.data == {}


class FakeStore:
    """The four context operations of a ``Store``."""

    def __init__(self) -> None:
        self.data: dict[str, tuple[bytes, str]] = {}

    def get_context(self, url: str) -> tuple[bytes, str] | None:
        return self.data.get(url)

    def put_context(self, url: str, body: bytes, kind: str) -> None:
        self.data[url] = (body, kind)

    def delete_context(self, url: str) -> bool:
        return self.data.pop(url, None) is not None

    def list_contexts(self) -> list[tuple[str, str]]:
        return [(url, kind) for url, (_, kind) in self.data.items()]


def test_delete_and_list_use_the_store_of_bound_callbacks() -> None:
    store = FakeStore()
    r = ContextResolver(store.get_context, store.put_context, 2.0, 10_000)
    local_id, url = r.add_hosted({"@context": {"a": "https://x.example/a"}})
    assert url == f"/ngsi-ld/v1/jsonldContexts/{local_id}"
    fresh = ContextResolver(store.get_context, store.put_context, 2.0, 10_000)
    assert fresh.list() == [CORE_CONTEXT_URL, url]  # found through list_contexts
    assert fresh.delete(local_id) is True
    assert store.data == {}


def test_core_cannot_be_deleted_or_reloaded(resolver: ContextResolver) -> None:
    with pytest.raises(BadRequestData):
        resolver.delete(CORE_CONTEXT_URL)
    with pytest.raises(BadRequestData):
        resolver.reload(CORE_CONTEXT_URL)
    with pytest.raises(ResourceNotFound):
        resolver.get("no-such-id")


def test_cached_contexts_list_reload_delete(
    resolver: ContextResolver, server: ContextServer, stores: Stores
) -> None:
    path = "/reload/ctx.jsonld"
    url = server.base + path
    server.put(path, {"@context": {"r": "https://example.org/r1"}})
    assert resolver.resolve(url).expand("r") == "https://example.org/r1"
    assert url in resolver.list()
    [entry] = [d for d in resolver.list(details=True) if d["URL"] == url]
    assert entry["kind"] == "Cached"
    assert resolver.get(entry["localId"]) == resolver.get(url)

    server.put(path, {"@context": {"r": "https://example.org/r2"}})
    assert resolver.resolve(url).expand("r") == "https://example.org/r1"  # cached
    resolver.reload(url)
    assert resolver.resolve(url).expand("r") == "https://example.org/r2"
    assert server.hits_of(url) == 2
    assert json.loads(stores.data[url][0])["@context"]["r"] == "https://example.org/r2"

    assert resolver.delete(url) is True
    assert url not in stores.data
    assert resolver.resolve(url).expand("r") == "https://example.org/r2"  # fetched anew
    assert server.hits_of(url) == 3


# ------------------------------------------------------------------ bundling script
def test_bundle_data_check() -> None:
    if not (SHARED / "ngsi-ld").is_dir():
        pytest.skip("../shared/data is not available")
    script = REPO / "scripts" / "bundle_data.py"
    done = subprocess.run(
        [sys.executable, str(script), "--check"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_bundle_data_is_idempotent(tmp_path: Path) -> None:
    if not (SHARED / "ngsi-ld").is_dir():
        pytest.skip("../shared/data is not available")
    script = REPO / "scripts" / "bundle_data.py"

    def run(*args: str) -> int:
        cmd = [sys.executable, str(script), "--root", str(tmp_path), *args]
        return subprocess.run(cmd, capture_output=True, check=False).returncode

    assert run("--check") == 1  # nothing bundled yet
    assert run() == 0
    assert run("--check") == 0
    bundled = tmp_path / "bocage/ngsild/contexts/ngsi-ld-core-context-v1.3.jsonld"
    assert "@context" in json.loads(bundled.read_bytes())  # leading URL line removed
    bundled.write_text("{}")
    assert run("--check") == 1
