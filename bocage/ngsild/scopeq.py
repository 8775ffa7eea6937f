"""NGSI-LD scopes and the ``scopeQ`` language (ETSI GS CIM 009 v1.8, clause 4.19).

A scope is a hierarchical path ``/FR/01/200071751``. In a scopeQ pattern a
level ``+`` matches exactly one level and a final ``#`` any number of levels,
including none (``/FR/#`` matches ``/FR`` and everything under it; ``/#``
matches every scoped entity). Patterns combine with ``;`` (AND) and ``|``
(OR), with parentheses; ``,`` is accepted as OR too, as in ``type=A,B``.

A parsed scopeQ is flattened into disjunctive normal form, an OR of AND-groups
(``(/a;/b)|/c`` is ``(("/a", "/b"), ("/c",))``), the shape
:attr:`bocage.domain.query.EntityQuery.scope_q` carries.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from itertools import product
from typing import Final

from bocage.domain.errors import BadRequestData, InvalidRequest

__all__ = [
    "MAX_GROUPS", "ScopeQ", "and_scope_q", "parse_scope_q", "scope_matches", "validate_scope",
]

ScopeQ = tuple[tuple[str, ...], ...]

MAX_LENGTH: Final = 4096
MAX_DEPTH: Final = 16
#: AND distributed over OR multiplies groups: ``(a|b);(c|d);...`` grows as 2^n
MAX_GROUPS: Final = 256

# a scope level: anything but separators, wildcards, quotes, control and space
_LEVEL = r"[^\s\x00-\x1f/;|,()+#\"']+"
_LEVEL_RE: Final = re.compile(_LEVEL)
_SCOPE_RE: Final = re.compile(rf"(?:/{_LEVEL})+")
_PATTERN_RE: Final = re.compile(rf"(?:/(?:{_LEVEL}|\+))*(?:/#)?")


def validate_scope(value: object) -> None:
    """Check a scope value carried by an entity; raise :class:`BadRequestData`."""
    if not isinstance(value, str) or _SCOPE_RE.fullmatch(value) is None:
        raise BadRequestData(
            f"Invalid scope {str(value)[:80]!r}: expected /level/level... with non-empty "
            "levels, without '+', '#', spaces or ;|,()\"'"
        )


def parse_scope_q(text: str) -> ScopeQ:
    """Parse a scopeQ into an OR of AND-groups; raise :class:`InvalidRequest`."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidRequest("Invalid scopeQ: empty expression")
    if len(text) > MAX_LENGTH:
        raise InvalidRequest(f"Invalid scopeQ: longer than {MAX_LENGTH} characters")
    return _Parser(text).parse()


def scope_matches(scope_q: ScopeQ, scopes: Sequence[str]) -> bool:
    """Whether an entity with ``scopes`` satisfies ``scope_q``.

    An AND-group matches when each of its patterns matches at least one scope.
    An empty ``scope_q`` is "no scopeQ" and matches everything; otherwise an
    entity without scope matches nothing.
    """
    if not scope_q:
        return True
    if isinstance(scopes, str):  # a lone string is a Sequence[str] too: be forgiving
        scopes = (scopes,)
    if not scopes:
        return False
    levels = [_levels(s) for s in scopes if isinstance(s, str)]
    return any(
        all(any(_match(_levels(pattern), scope) for scope in levels) for pattern in group)
        for group in scope_q
    )


@lru_cache(maxsize=4096)
def _levels(path: str) -> tuple[str, ...]:
    return tuple(path.split("/")[1:])


def _match(pattern: tuple[str, ...], scope: tuple[str, ...]) -> bool:
    for i, level in enumerate(pattern):
        if level == "#":  # only ever last (checked by the parser): the rest, even nothing
            return True
        if i >= len(scope) or (level != "+" and level != scope[i]):
            return False
    return len(pattern) == len(scope)


def and_scope_q(a: ScopeQ, b: ScopeQ) -> ScopeQ:
    """``a AND b`` (an empty scopeQ is "no condition")."""
    if not a:
        return b
    if not b:
        return a
    return _and([a, b])


def _and(groups: list[ScopeQ]) -> ScopeQ:
    """Distribute AND over the operands' OR-groups, deduplicating patterns."""
    size = 1
    for operand in groups:
        size *= len(operand)
        if size > MAX_GROUPS:
            raise InvalidRequest(f"Invalid scopeQ: more than {MAX_GROUPS} alternatives")
    return tuple(
        tuple(dict.fromkeys(p for group in combo for p in group)) for combo in product(*groups)
    )


class _Parser:
    """or := and (('|' | ',') and)*; and := primary (';' primary)*."""

    __slots__ = ("depth", "pos", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.depth = 0

    def error(self, problem: str) -> InvalidRequest:
        return InvalidRequest(
            f"Invalid scopeQ at position {self.pos}: {problem}", position=self.pos
        )

    def eat(self, tokens: str) -> bool:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1
        if self.pos < len(self.text) and self.text[self.pos] in tokens:
            self.pos += 1
            return True
        return False

    def parse(self) -> ScopeQ:
        result = self.or_()
        self.eat("")
        if self.pos < len(self.text):
            char = self.text[self.pos]
            raise self.error("unbalanced ')'" if char == ")" else f"unexpected {char!r}")
        return result

    def or_(self) -> ScopeQ:
        groups = list(self.and_())
        while self.eat("|,"):
            groups.extend(self.and_())
            if len(groups) > MAX_GROUPS:
                raise self.error(f"more than {MAX_GROUPS} alternatives")
        return tuple(dict.fromkeys(groups))

    def and_(self) -> ScopeQ:
        operands = [self.primary()]
        while self.eat(";"):
            operands.append(self.primary())
        return operands[0] if len(operands) == 1 else _and(operands)

    def primary(self) -> ScopeQ:
        if self.eat("("):
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise self.error(f"parentheses nested deeper than {MAX_DEPTH}")
            result = self.or_()
            if not self.eat(")"):
                raise self.error("missing ')'")
            self.depth -= 1
            return result
        match = _PATTERN_RE.match(self.text, self.pos)
        if match is None or not match.group():
            found = repr(self.text[self.pos]) if self.pos < len(self.text) else "end of input"
            raise self.error(f"expected a scope pattern such as /a/+/b or /a/#, found {found}")
        self.pos = match.end()
        rest = self.text[self.pos : self.pos + 1]
        if rest and not rest.isspace() and rest not in ";|,()":
            raise self.error(
                f"unexpected {rest!r} in a scope pattern ('+' and '#' are whole levels, "
                "'#' only the last)"
            )
        return ((match.group(),),)
