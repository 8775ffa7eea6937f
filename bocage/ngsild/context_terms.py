"""``TermMap``: term <-> IRI for one resolved @context, as plain dict look-ups.

Expansion and compaction run once per attribute name on the hot path, so a TermMap
precomputes both directions for every defined term when it is built (once per
distinct @context, see ``context_loader``) and memoises every other answer
(undefined terms, compact IRIs, vocab-relative IRIs) on first use: after that each
call is one ``dict.get``.

Precedence (documented NGSI-LD broker practice): the core context is conceptually
appended *last*, so its terms always win - a user context may not redefine
``location`` or ``observedAt`` - silently, without the JSON-LD "protected term
redefinition" error. User terms win over core terms only for *compaction*, when both
name the same IRI (the client chose its name). The default vocabulary is the user
context's ``@vocab`` when it sets one, else the core's
``https://uri.etsi.org/ngsi-ld/default-context/``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

#: memoised answers kept per TermMap beyond the defined terms (bounds memory when
#: clients send endless distinct attribute names)
MEMO_LIMIT: Final = 20_000


@dataclass(frozen=True, slots=True)
class TermDef:
    """The part of a JSON-LD term definition NGSI-LD needs."""

    iri: str
    #: the definition has ``"@type": "@vocab"`` (values are IRIs, expanded like terms)
    vocab_type: bool = False
    #: usable as the prefix of a compact IRI (JSON-LD 1.1 prefix flag)
    prefix: bool = False
    #: defined by the user context (not the core)
    user: bool = False


class TermMap:
    """Immutable term <-> IRI mapping of one @context (core + user terms).

    Thread-safe: the only mutation after construction is adding memoised answers, a
    single dict item assignment (atomic under the GIL) of a deterministic value.
    """

    __slots__ = ("_cmp", "_exp", "_prefixes", "_vocab", "_vocab_iris", "terms", "urls")

    def __init__(self, terms: Mapping[str, TermDef], vocab: str, urls: Iterable[str] = ()) -> None:
        #: the effective term definitions (read-only by convention)
        self.terms: Final = dict(terms)
        #: remote contexts this map was built from (for cache eviction and hit counts)
        self.urls: Final = frozenset(urls)
        self._vocab = vocab
        self._exp: dict[str, str] = {t: d.iri for t, d in self.terms.items()}
        self._prefixes: dict[str, str] = {
            t: d.iri for t, d in self.terms.items() if d.prefix and ":" not in t
        }
        self._vocab_iris = frozenset(d.iri for d in self.terms.values() if d.vocab_type)
        # inverse: user terms first, then the shortest, then the smallest term
        best: dict[str, tuple[bool, int, str]] = {}
        for term, d in self.terms.items():
            rank = (not d.user, len(term), term)
            if d.iri not in best or rank < best[d.iri]:
                best[d.iri] = rank
        self._cmp: dict[str, str] = {iri: rank[2] for iri, rank in best.items()}

    @property
    def vocab(self) -> str:
        return self._vocab

    # ---------------------------------------------------------------- expansion
    def expand(self, term: str) -> str:
        """Term -> IRI: defined term, compact IRI, absolute IRI, else ``@vocab`` + term."""
        iri = self._exp.get(term)
        if iri is None:
            iri = self._expand_new(term)
            if len(self._exp) < len(self.terms) + MEMO_LIMIT:
                self._exp[term] = iri
        return iri

    def _expand_new(self, term: str) -> str:
        colon = term.find(":")
        if colon > 0:
            prefix, suffix = term[:colon], term[colon + 1 :]
            if prefix == "_" or suffix.startswith("//"):
                return term  # blank node or hierarchical IRI (https://...)
            base = self._prefixes.get(prefix)
            return term if base is None else base + suffix  # urn:..., or prefix:suffix
        if term.startswith("@"):
            return term  # keywords stay
        return self._vocab + term

    # --------------------------------------------------------------- compaction
    def compact(self, iri: str) -> str:
        """IRI -> the term a client of this context expects (inverse of ``expand``).

        A defined term (user terms first, then the shortest), else the ``@vocab``-relative
        name, else a compact IRI ``prefix:suffix`` (shortest), else the IRI itself. Every
        candidate is checked to expand back to ``iri``. The vocab-relative form is tried
        before compact IRIs, as in the JSON-LD IRI compaction algorithm, otherwise
        default-context IRIs would come out as ``ngsi-ld:default-context/foo``.
        """
        term = self._cmp.get(iri)
        if term is None:
            term = self._compact_new(iri)
            if len(self._cmp) < len(self.terms) + MEMO_LIMIT:
                self._cmp[iri] = term
        return term

    def _compact_new(self, iri: str) -> str:
        vocab = self._vocab
        if iri.startswith(vocab) and len(iri) > len(vocab):
            suffix = iri[len(vocab) :]
            if self.expand(suffix) == iri:
                return suffix
        candidates = [
            f"{p}:{iri[len(base) :]}"
            for p, base in self._prefixes.items()
            if iri.startswith(base) and len(iri) > len(base)
        ]
        for candidate in sorted(candidates, key=lambda c: (len(c), c)):
            if self.expand(candidate) == iri:
                return candidate
        return iri

    # ------------------------------------------------------------ vocab values
    def is_vocab_term(self, iri: str) -> bool:
        """Whether a term defined for ``iri`` has ``"@type": "@vocab"``."""
        return iri in self._vocab_iris

    def expand_vocab(self, value: Any) -> Any:
        """Expand a VocabProperty value (a string or a list of strings).

        JSON-LD expands ``@type: @vocab`` values exactly like terms (vocab-relative IRI
        expansion), so this is ``expand`` mapped over the value; non-strings pass.
        """
        if isinstance(value, str):
            return self.expand(value)
        if isinstance(value, list):
            return [self.expand(v) if isinstance(v, str) else v for v in value]
        return value

    def compact_vocab(self, value: Any) -> Any:
        """Inverse of ``expand_vocab``."""
        if isinstance(value, str):
            return self.compact(value)
        if isinstance(value, list):
            return [self.compact(v) if isinstance(v, str) else v for v in value]
        return value

    def __repr__(self) -> str:
        return f"<TermMap {len(self.terms)} terms, vocab={self._vocab!r}>"


def term_defs(mappings: Mapping[str, Any], *, user: bool) -> dict[str, TermDef]:
    """TermDefs from the ``mappings`` of a pyld active context (null mappings dropped)."""
    out: dict[str, TermDef] = {}
    for term, m in mappings.items():
        if not isinstance(m, Mapping) or m.get("reverse"):
            continue  # @reverse properties have no place in NGSI-LD attribute names
        iri = m.get("@id")
        if not isinstance(iri, str):
            continue  # "term": null - explicitly undefined: falls back to @vocab
        out[term] = TermDef(
            iri=iri,
            vocab_type=m.get("@type") == "@vocab",
            prefix=bool(m.get("_prefix")),
            user=user,
        )
    return out
