"""Downloading a remote @context: one HTTP GET, bounded in time and size.

Only ``context_docs`` calls this, and only for a URL found neither in memory nor in the
store. Failures are domain errors naming the URL: unreachable (timeout, refused,
non-2xx) -> LdContextNotAvailable; unusable content (too big, not JSON, not a context)
-> BadRequestData.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any, Final

import httpx
import orjson

from bocage.domain.errors import BadRequestData, LdContextNotAvailable

_ACCEPT: Final = "application/ld+json, application/json"
_MAX_REDIRECTS: Final = 5


def parse_context_doc(url: str, body: bytes) -> dict[str, Any]:
    """Check a document is a JSON-LD context document (``{"@context": ...}``)."""
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


class ContextFetcher:
    """HTTP GET of @context documents with a shared httpx client (created on first use,
    so a broker that only ever sees the core context never opens one)."""

    def __init__(self, timeout: float, max_bytes: int) -> None:
        self.timeout = timeout
        self.max_bytes = max_bytes
        #: GETs issued (observability; tests count them)
        self.count = 0
        self._lock = threading.Lock()
        self._http: httpx.Client | None = None

    def _client(self) -> httpx.Client:
        with self._lock:
            if self._http is None:
                self._http = httpx.Client(
                    timeout=self.timeout,
                    follow_redirects=True,
                    max_redirects=_MAX_REDIRECTS,
                    headers={"Accept": _ACCEPT},
                )
            return self._http

    def fetch(self, url: str) -> bytes:
        """The body at ``url``, checked to be a context document; at most ``timeout``
        seconds in all and ``max_bytes`` bytes (decoded, counted while streaming)."""
        with self._lock:
            self.count += 1
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
                body = b"".join(self._chunks(response, url, deadline))
        except httpx.TimeoutException:
            raise LdContextNotAvailable(
                f"@context {url} could not be retrieved: timed out after {self.timeout}s"
            ) from None
        except httpx.HTTPError as exc:
            raise LdContextNotAvailable(
                f"@context {url} could not be retrieved: {type(exc).__name__}: {exc}"
            ) from None
        parse_context_doc(url, body)
        return body

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
        with self._lock:
            client, self._http = self._http, None
        if client is not None:
            client.close()
