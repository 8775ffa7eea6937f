"""JSON-LD @context handling for NGSI-LD, fast and offline: the public API.

- :data:`CORE_CONTEXT_URL`, :data:`CORE_CONTEXT_ALIASES`: the ETSI core context,
  bundled, never fetched (``context_core``);
- :class:`ContextResolver`: user @context -> :class:`TermMap` (``context_loader``),
  remote contexts fetched once and cached in memory and in the store
  (``context_docs``, ``context_fetch``), plus the ``/jsonldContexts`` operations;
- :class:`TermMap`: ``expand`` / ``compact`` / ``expand_vocab`` / ``compact_vocab`` as
  O(1) dict look-ups (``context_terms``);
- :func:`parse_link_header` / :func:`link_header`: the HTTP ``Link`` header carrying a
  @context (JSON-LD 1.1 section 6.1, NGSI-LD 6.3.5).
"""

from __future__ import annotations

import re
from typing import Final

from bocage.domain.errors import InvalidRequest
from bocage.ngsild.context_core import (
    CORE_CONTEXT_ALIASES,
    CORE_CONTEXT_URL,
    CORE_VOCAB,
    bundled_core_context,
    is_core_url,
)
from bocage.ngsild.context_loader import HOSTED_KEY_PREFIX, ContextResolver
from bocage.ngsild.context_terms import TermDef, TermMap

__all__ = [
    "CONTEXT_REL",
    "CORE_CONTEXT_ALIASES",
    "CORE_CONTEXT_URL",
    "CORE_VOCAB",
    "HOSTED_KEY_PREFIX",
    "ContextResolver",
    "TermDef",
    "TermMap",
    "bundled_core_context",
    "is_core_url",
    "link_header",
    "parse_link_header",
]

#: the link relation of a JSON-LD context
CONTEXT_REL: Final = "http://www.w3.org/ns/json-ld#context"
_TOKEN = re.compile(r"[A-Za-z0-9!#$&+\-.^_`|~*]+")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")


def link_header(url: str) -> str:
    """The ``Link`` header value pointing at a JSON-LD @context."""
    return f'<{url}>; rel="{CONTEXT_REL}"; type="application/ld+json"'


def parse_link_header(value: str) -> str | None:
    """The @context URL of a ``Link`` header, or None if it has no JSON-LD context link.

    Several links may share the header (comma-separated, RFC 8288); only the one with
    ``rel="http://www.w3.org/ns/json-ld#context"`` matters. More than one such link,
    a malformed header or a relative URL raise InvalidRequest.
    """
    found = [url for url, params in _links(value) if CONTEXT_REL in params.get("rel", "").split()]
    if not found:
        return None
    if len(found) > 1:
        raise InvalidRequest("more than one JSON-LD @context Link header")
    url = found[0]
    if not _SCHEME.match(url):
        raise InvalidRequest(f"the @context Link header must hold an absolute URL, not {url!r}")
    return url


def _links(value: str) -> list[tuple[str, dict[str, str]]]:
    """RFC 8288 ``Link`` header -> [(target, {param: value})]; a small tokenizer."""
    out: list[tuple[str, dict[str, str]]] = []
    i, n = 0, len(value)

    def bad(why: str) -> InvalidRequest:
        return InvalidRequest(f"malformed Link header ({why}): {value!r}")

    while True:
        while i < n and value[i] in " \t,":
            i += 1
        if i >= n:
            return out
        if value[i] != "<":
            raise bad("expected '<'")
        end = value.find(">", i)
        if end < 0:
            raise bad("missing '>'")
        target, i = value[i + 1 : end].strip(), end + 1
        params: dict[str, str] = {}
        while True:
            while i < n and value[i] in " \t":
                i += 1
            if i >= n or value[i] == ",":
                break
            if value[i] != ";":
                raise bad("expected ';' or ','")
            i += 1
            while i < n and value[i] in " \t":
                i += 1
            m = _TOKEN.match(value, i)
            if m is None:
                raise bad("expected a parameter name")
            name, i = m.group().lower(), m.end()
            while i < n and value[i] in " \t":
                i += 1
            param = ""
            if i < n and value[i] == "=":
                i += 1
                while i < n and value[i] in " \t":
                    i += 1
                if i < n and value[i] == '"':
                    i += 1
                    chars: list[str] = []
                    while i < n and value[i] != '"':
                        if value[i] == "\\" and i + 1 < n:
                            i += 1
                        chars.append(value[i])
                        i += 1
                    if i >= n:
                        raise bad("unterminated quoted string")
                    param, i = "".join(chars), i + 1
                else:
                    m = _TOKEN.match(value, i)
                    if m is None:
                        raise bad(f"bad value of {name}")
                    param, i = m.group(), m.end()
            params.setdefault(name, param)  # RFC 8288: the first occurrence wins
        if not target:
            raise bad("empty target URL")
        out.append((target, params))
