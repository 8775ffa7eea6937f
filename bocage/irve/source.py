"""Read a feed from a file or an HTTP(S) URL, within a time and a size limit."""

from __future__ import annotations

import time
from pathlib import Path

import httpx


class SourceError(Exception):
    """The feed could not be read (the message says where and why)."""


def is_url(location: str) -> bool:
    return location.startswith(("http://", "https://"))


def read_source(location: str, *, timeout: float, max_bytes: int) -> bytes:
    """The bytes at ``location``; SourceError when unreachable, too slow or too big."""
    if is_url(location):
        return _fetch(location, timeout, max_bytes)
    path = Path(location)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise SourceError(f"{location}: {size} bytes, more than the {max_bytes} allowed")
        return path.read_bytes()
    except OSError as exc:
        raise SourceError(f"{location}: {exc.strerror or exc}") from None


def _fetch(url: str, timeout: float, max_bytes: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    deadline = time.monotonic() + timeout  # for the whole fetch, not each read
    try:
        with httpx.Client(timeout=timeout, follow_redirects=True, max_redirects=3) as client, \
                client.stream("GET", url, headers={"Accept": "text/csv, */*"}) as response:
            if response.status_code != 200:
                raise SourceError(f"{url}: HTTP {response.status_code}")
            declared = response.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise SourceError(f"{url}: {declared} bytes, more than the {max_bytes} allowed")
            for chunk in response.iter_bytes():
                size += len(chunk)
                if time.monotonic() > deadline:
                    raise SourceError(f"{url}: no complete answer within {timeout:g} s")
                if size > max_bytes:
                    raise SourceError(f"{url}: more than the {max_bytes} bytes allowed")
                chunks.append(chunk)
    except httpx.TimeoutException:
        raise SourceError(f"{url}: no complete answer within {timeout:g} s") from None
    except httpx.HTTPError as exc:
        raise SourceError(f"{url}: {type(exc).__name__}: {exc}") from None
    return b"".join(chunks)
