"""The seam between the pure core and JSON-LD: how names are expanded and compacted."""

from __future__ import annotations

from typing import Any, Protocol


class Terms(Protocol):
    """Term <-> IRI mapping for one @context (``bocage.ngsild.context.TermMap``)."""

    def expand(self, term: str) -> str: ...

    def compact(self, iri: str) -> str: ...

    def expand_vocab(self, value: Any) -> Any: ...

    def compact_vocab(self, value: Any) -> Any: ...
