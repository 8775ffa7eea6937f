"""The NGSI-LD query language ``q`` (ETSI GS CIM 009 v1.8, clause 4.9).

``parse_q`` turns the (already URL-decoded) text into the AST of
:mod:`bocage.domain.query`; ``matches`` evaluates it exactly on an internal
entity. Both are pure. Decisions beyond the letter of the spec:

* Strings should be quoted; an unquoted token that is not a number, boolean,
  date, time or datetime is accepted as a string (URIs, ``name==Bob``), like
  most brokers do. ``attr==1..5`` is a range only when both bounds are typed
  (number, date/time or quoted string); ``http://a/../b`` stays a string.
* DateTime and Date values become aware UTC ``datetime`` objects (a Date is
  midnight UTC); Time values stay strings, compared lexicographically.
* Parentheses may nest (up to ``MAX_DEPTH``); whitespace between tokens is
  ignored. ``~=`` patterns may be quoted; unquoted, they end at a ``;``, ``|``
  or unbalanced ``)`` outside a regex group (write ``(a|b)`` or quote them)
  and lose trailing spaces. Patterns use ``re.search`` semantics (anchor with
  ``^...$`` for a full match). Errors name a 0-based character position.
* A full IRI may be used as an attribute name; a ``.`` inside its authority or
  followed by a ``/`` belongs to the IRI, any other ``.`` separates a
  sub-attribute (so an IRI whose last segment holds a dot cannot be used).
* ``!=`` and ``!~=`` are the negation of ``==`` / ``~=`` over the existing
  values: true iff the path has at least one value and none matches. A
  missing attribute makes every term false; a type mismatch never matches
  (``5`` never equals ``"5"``, ``1`` never equals ``true``).
* VocabProperty values are stored expanded while the q value is a raw term:
  a term without ``:`` also equals an IRI ending in ``/term`` or ``#term``.
"""

from __future__ import annotations

import datetime as dt
import operator
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any, Final

from bocage.domain.entity import VALUE_KEY, Entity
from bocage.domain.errors import InvalidRequest
from bocage.domain.query import And, AttrPath, Comparison, Op, Or, QNode, QScalar, Range

__all__ = ["MAX_DEPTH", "MAX_LENGTH", "SPECIAL_MEMBERS", "compile_q", "matches", "parse_q"]

MAX_LENGTH: Final = 8192  # characters; a URL longer than this is abuse, not a query
MAX_DEPTH: Final = 32  # parenthesis nesting; also bounds the evaluator's recursion
MAX_PATTERN: Final = 1024  # regex length

#: Members a ``.`` path may address inside an instance; never expanded.
SPECIAL_MEMBERS: Final = frozenset(
    {"observedAt", "unitCode", "datasetId", "createdAt", "modifiedAt"}
)

_OPS: Final[tuple[Op, ...]] = ("==", "!=", ">=", "<=", "!~=", "~=", ">", "<")
_NAME = r"[^\s=!<>~;|()\[\]\",'.]"
_PATH_RE: Final = re.compile(rf"(?:{_NAME}|\.)+")
_KEYS_RE: Final = re.compile(rf"\[((?:{_NAME}|\.)+)\]")
_BARE_RE: Final = re.compile(r'[^\s,;|()"]+')
_INT_RE: Final = re.compile(r"[+-]?[0-9]+")
_FLOAT_RE: Final = re.compile(r"[+-]?(?:[0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)(?:[eE][+-]?[0-9]+)?")
_TZ = r"(?:Z|[+-][0-9]{2}(?::?[0-9]{2})?)?"
_DATETIME_RE: Final = re.compile(
    rf"[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}(?:T[0-9]{{2}}:[0-9]{{2}}(?::[0-9]{{2}}(?:\.[0-9]+)?)?{_TZ})?"
)
_TIME_RE: Final = re.compile(rf"[0-9]{{2}}:[0-9]{{2}}(?::[0-9]{{2}}(?:\.[0-9]+)?)?{_TZ}")
_QUOTED_RE: Final = re.compile(r'"((?:[^"\\]|\\.)*)"', re.DOTALL)
_ESCAPE_RE: Final = re.compile(r"\\(u[0-9a-fA-F]{4}|.)", re.DOTALL)
_ESCAPES: Final = {'"': '"', "\\": "\\", "/": "/", "n": "\n", "t": "\t", "r": "\r", "b": "\b",
                   "f": "\f"}  # fmt: skip
# value kinds that may bound a Range, by comparison family
_FAMILY: Final = {"num": "num", "dt": "dt", "time": "str", "str": "str"}


# ------------------------------------------------------------------ parsing


def parse_q(text: str, expand: Callable[[str], str]) -> QNode:
    """Parse a q expression; attribute and sub-attribute names go through ``expand``.

    Raises :class:`InvalidRequest` (and nothing else) on any syntax problem.
    """
    if not isinstance(text, str) or not text.strip():
        raise InvalidRequest("Invalid q: empty expression")
    if len(text) > MAX_LENGTH:
        raise InvalidRequest(f"Invalid q: longer than {MAX_LENGTH} characters")
    return _Parser(text, expand).parse()


@lru_cache(maxsize=512)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _convert(raw: str) -> tuple[QScalar, str]:
    """Type an unquoted token: (value, kind). Raises ValueError on a bad date."""
    if raw in ("true", "false"):
        return raw == "true", "bool"
    if _INT_RE.fullmatch(raw):
        return int(raw), "num"  # ValueError past 4300 digits: reported as invalid
    if _FLOAT_RE.fullmatch(raw):
        return float(raw), "num"
    if _DATETIME_RE.fullmatch(raw):
        value = dt.datetime.fromisoformat(raw)
        if value.tzinfo is None:  # NGSI-LD times are UTC unless stated
            return value.replace(tzinfo=dt.UTC), "dt"
        return value.astimezone(dt.UTC), "dt"
    if _TIME_RE.fullmatch(raw):
        return raw, "time"
    return raw, "bare"


def _unescape(match: re.Match[str]) -> str:
    code = match.group(1)
    if len(code) == 5:  # uXXXX
        return chr(int(code[1:], 16))
    return _ESCAPES.get(code, match.group())  # JSON escapes; any other is kept as written


def _typed(raw: str) -> bool:
    try:
        return _convert(raw)[1] != "bare"
    except ValueError:
        return False


def _split_path(raw: str) -> list[str]:
    """Split ``a.b.c`` on dots, keeping the dots that belong to a full IRI."""
    pieces = raw.split(".")
    if "://" not in raw:
        return pieces
    segments: list[str] = []
    for piece in pieces:
        if segments and "://" in segments[-1] and "://" not in piece:
            rest = segments[-1].split("://", 1)[1]
            if "/" not in rest or "/" in piece:  # still in the authority, or a path follows
                segments[-1] += "." + piece
                continue
        segments.append(piece)
    return segments


class _Parser:
    """Recursive descent: or := and ('|' and)*; and := primary (';' primary)*."""

    __slots__ = ("depth", "expand", "pos", "text")

    def __init__(self, text: str, expand: Callable[[str], str]) -> None:
        self.text = text
        self.expand = expand
        self.pos = 0
        self.depth = 0

    def error(self, problem: str, pos: int | None = None) -> InvalidRequest:
        at = self.pos if pos is None else pos
        return InvalidRequest(f"Invalid q at position {at}: {problem}", position=at)

    def ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def eat(self, token: str) -> bool:
        self.ws()
        if self.text.startswith(token, self.pos):
            self.pos += len(token)
            return True
        return False

    def parse(self) -> QNode:
        node = self.or_()
        self.ws()
        if self.pos < len(self.text):
            char = self.text[self.pos]
            raise self.error("unbalanced ')'" if char == ")" else f"unexpected {char!r}")
        return node

    def or_(self) -> QNode:
        return self.join(Or, "|", self.and_)

    def and_(self) -> QNode:
        return self.join(And, ";", self.primary)

    def join(self, kind: type[And | Or], sep: str, operand: Callable[[], QNode]) -> QNode:
        terms = [operand()]
        while self.eat(sep):
            terms.append(operand())
        if len(terms) == 1:
            return terms[0]
        # (a;b);c is a;b;c: flat nodes are cheaper to evaluate and to translate to SQL
        return kind(tuple(t for n in terms for t in (n.terms if isinstance(n, kind) else (n,))))

    def primary(self) -> QNode:
        self.ws()
        if not self.eat("("):
            return self.term()
        opened = self.pos - 1
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"parentheses nested deeper than {MAX_DEPTH}")
        node = self.or_()
        if not self.eat(")"):
            raise self.error(f"missing ')' for the '(' at position {opened}")
        self.depth -= 1
        return node

    def term(self) -> Comparison:
        path = self.path()
        self.ws()
        op = next((o for o in _OPS if self.text.startswith(o, self.pos)), None)
        if op is None:
            if self.pos < len(self.text) and self.text[self.pos] in "=!<>~":
                raise self.error("unknown operator (use ==, !=, >, >=, <, <=, ~= or !~=)")
            return Comparison(path)
        self.pos += len(op)
        self.ws()
        if op in ("~=", "!~="):
            return Comparison(path, op, self.pattern())
        start = self.pos
        value, kind = self.values()
        if op not in ("==", "!=") and kind in ("bool", "list", "range"):
            raise self.error(f"{op} needs a number, string, date or time value", start)
        return Comparison(path, op, value)

    def path(self) -> AttrPath:
        start = self.pos
        match = _PATH_RE.match(self.text, self.pos)
        if match is None:
            found = repr(self.text[self.pos]) if self.pos < len(self.text) else "end of input"
            raise self.error(f"expected an attribute name, found {found}")
        self.pos = match.end()
        keys: list[str] = []
        while self.text.startswith("[", self.pos):
            key_match = _KEYS_RE.match(self.text, self.pos)
            if key_match is None or "" in key_match.group(1).split("."):
                raise self.error("malformed compound key, expected [key] or [key1.key2]")
            keys.extend(key_match.group(1).split("."))
            self.pos = key_match.end()
        segments = _split_path(match.group())
        if "" in segments:
            raise self.error(f"empty name in attribute path {match.group()!r}", start)
        sub: list[str] = []
        for i, name in enumerate(segments[1:], start=1):
            if name in SPECIAL_MEMBERS:
                if i != len(segments) - 1 or keys:
                    raise self.error(f"{name} must end the attribute path", start)
                sub.append(name)  # a member of the instance, not a term to expand
            else:
                sub.append(self.name(name, start))
        return AttrPath(self.name(segments[0], start), tuple(sub), tuple(keys))

    def name(self, term: str, pos: int) -> str:
        try:
            return self.expand(term)
        except (ValueError, KeyError, TypeError) as exc:
            raise self.error(f"cannot expand {term!r}: {exc}", pos) from exc

    def values(self) -> tuple[QScalar | tuple[QScalar, ...] | Range, str]:
        """A value, a value list ``a,b,c`` or a range ``a..b``: (value, kind)."""
        start = self.pos
        first, kind = self.atom()
        if self.text.startswith("..", self.pos):
            self.pos += 2
            high, high_kind = self.atom()
            family = _FAMILY.get(kind)
            if family is None or family != _FAMILY.get(high_kind):
                raise self.error("range bounds must be two numbers, dates or strings", start)
            return Range(first, high), "range"
        if not self.text.startswith(",", self.pos):
            return first, kind
        items = [first]
        while self.text.startswith(",", self.pos):
            self.pos += 1
            items.append(self.atom()[0])
        return tuple(items), "list"

    def atom(self) -> tuple[QScalar, str]:
        start = self.pos
        if self.text.startswith('"', self.pos):
            return self.quoted(), "str"
        match = _BARE_RE.match(self.text, self.pos)
        if match is None:
            raise self.error("expected a value")
        raw = match.group()
        if raw.startswith("'"):
            raise self.error("strings must be double-quoted")
        cut = raw.find("..")
        if cut > 0 and _typed(raw[:cut]):  # "1..5": stop before the range dots
            raw = raw[:cut]
        self.pos = start + len(raw)
        try:
            return _convert(raw)
        except ValueError as exc:
            raise self.error(f"invalid value {raw[:40]!r}: {exc}", start) from exc

    def quoted(self, raw: bool = False) -> str:
        match = _QUOTED_RE.match(self.text, self.pos)
        if match is None:
            raise self.error("unterminated string")
        self.pos = match.end()
        if raw:  # a regex: \" means " there too, every other escape is the regex's own
            return match.group(1).replace('\\"', '"')
        return _ESCAPE_RE.sub(_unescape, match.group(1))

    def pattern(self) -> str:
        start, text = self.pos, self.text
        if text.startswith('"', start):
            pattern = self.quoted(raw=True)
        else:
            end, depth, in_class = start, 0, False
            while end < len(text):
                char = text[end]
                if char == "\\":
                    end += 2
                    continue
                if in_class:
                    in_class = char != "]"
                elif char == "[":
                    in_class = True
                elif char == "(":
                    depth += 1
                elif char == ")":
                    if depth == 0:
                        break
                    depth -= 1
                elif char in ";|" and depth == 0:
                    break
                end += 1
            self.pos = min(end, len(text))
            pattern = text[start : self.pos].rstrip()  # like elsewhere, spaces around are noise
        if not pattern or len(pattern) > MAX_PATTERN:
            raise self.error(f"a pattern must have 1 to {MAX_PATTERN} characters", start)
        try:
            _regex(pattern)
        except (re.error, RecursionError, OverflowError, ValueError) as exc:
            raise self.error(f"invalid regular expression: {exc}", start) from exc
        return pattern


# --------------------------------------------------------------- evaluation

_Pred = Callable[[Any], bool]
Matcher = Callable[[Entity], bool]
_NUMBER: Final = (int, float)  # bool excluded on purpose: checks use type(), not isinstance
_ORDER: Final[dict[str, Callable[[Any, Any], bool]]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le
}  # fmt: skip
_COMPILED: dict[int, tuple[QNode, Matcher]] = {}
_COMPILED_MAX: Final = 4096


def matches(node: QNode, entity: Entity) -> bool:
    """Whether ``entity`` (internal shape) satisfies the q expression ``node``.

    The compiled form of ``node`` is cached by identity (the cache holds the node,
    so its id cannot be reused while cached): a query parsed once and evaluated
    on many entities compiles once.
    """
    entry = _COMPILED.get(id(node))
    if entry is None or entry[0] is not node:
        if len(_COMPILED) >= _COMPILED_MAX:
            _COMPILED.clear()
        entry = (node, compile_q(node))
        _COMPILED[id(node)] = entry
    return entry[1](entity)


def compile_q(node: QNode) -> Matcher:
    """Compile ``node`` into a predicate on internal entities (never raises on data)."""
    if not isinstance(node, And | Or):
        return _compile_term(node)
    parts = tuple(compile_q(t) for t in node.terms)
    short = not isinstance(node, And)  # the result that stops the loop: True for Or

    def either(entity: Entity) -> bool:  # plain loop: any()/all() on a genexpr cost ~0.5 µs
        for part in parts:
            if part(entity) is short:
                return short
        return not short

    return either


def _as_datetime(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    # cheap shape check first: most strings are not dates, and exceptions are slow
    if type(value) is not str or len(value) < 10 or value[4] != "-":
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


_FAMILY_OF: Final = {bool: "bool", int: "num", float: "num", str: "str", dt.datetime: "dt"}


def _family(value: Any) -> str | None:
    return _FAMILY_OF.get(type(value))


def _order(test: Callable[[Any, Any], bool], bound: Any) -> _Pred:
    """``value <op> bound`` for a stored value of the same family as ``bound``."""
    family = _family(bound)
    if family == "num":
        return lambda v: type(v) in _NUMBER and test(v, bound)
    if family == "str":
        return lambda v: type(v) is str and test(v, bound)
    if family == "dt":
        aware = _as_datetime(bound)
        return lambda v: (d := _as_datetime(v)) is not None and test(d, aware)
    return lambda v: False


def _equal(query: Any, vocab: bool = False) -> _Pred:
    if isinstance(query, tuple):
        preds = tuple(_equal(q, vocab) for q in query)
        return lambda v: any(p(v) for p in preds)
    if isinstance(query, Range):
        if _family(query.low) != _family(query.high) or _family(query.low) in (None, "bool"):
            return lambda v: False
        low, high = _order(operator.ge, query.low), _order(operator.le, query.high)
        return lambda v: low(v) and high(v)
    family = _family(query)
    if family == "bool":
        return lambda v: v is query  # JSON true/false load as the singletons
    if family == "num":
        return lambda v: type(v) in _NUMBER and v == query
    if family == "dt":
        return _order(operator.eq, query)
    if family == "str" and vocab and ":" not in query:
        ends = ("/" + query, "#" + query)
        return lambda v: v == query or (type(v) is str and v.endswith(ends))
    if family == "str":
        return lambda v: v == query
    return lambda v: False


def _regex_pred(pattern: Any) -> _Pred:
    try:
        compiled = _regex(pattern)
    except (re.error, RecursionError, OverflowError, ValueError, TypeError):
        return lambda v: False
    return lambda v: type(v) is str and compiled.search(v) is not None


def _unwrap(value: Any) -> Any:
    # typed JSON-LD literals ({"@type": "DateTime", "@value": ...}) compare by value
    if type(value) is dict and "@value" in value:
        return value["@value"]
    return value


def _leaves(inst: Any, path: AttrPath) -> tuple[list[Any], bool]:
    """The scalar values ``path`` reaches in one instance, and whether they are vocab IRIs."""
    node = inst
    for name in path.sub:
        if type(node) is not dict or name not in node:
            return [], False
        if name in SPECIAL_MEMBERS:  # observedAt & co. end the path (checked by the parser)
            return [node[name]], False
        node = node[name]
    if type(node) is not dict:
        return [], False
    kind = node.get("type", "Property")
    key = VALUE_KEY.get(kind, "value")
    if key not in node:
        return [], False
    value = node[key]
    found = [value]
    for k in path.keys:  # navigate compound values; a list on the way means "any element"
        found = [
            x[k]
            for item in found
            for x in (item if type(item) is list else (item,))
            if type(x) is dict and k in x
        ]
    if key == "languageMap" and not path.keys and type(value) is dict:
        found = list(value.values())
    leaves: list[Any] = []
    for item in found:
        if type(item) is list:
            leaves.extend(_unwrap(x) for x in item)
        else:
            leaves.append(_unwrap(item))
    if key == "objectList":  # normalized ListRelationship items are {"object": iri}
        leaves = [x["object"] if type(x) is dict and "object" in x else x for x in leaves]
    return leaves, kind == "VocabProperty"


def _instances(entity: Entity, attr: str) -> list[Any]:
    found = entity.get(attr)
    if type(found) is list:
        return found
    return [found] if type(found) is dict else []


def _compile_term(term: Comparison) -> Matcher:
    path, op, query = term.path, term.op, term.value
    attr = path.attr
    if op is None:
        if not path.sub and not path.keys:
            return lambda entity: bool(_instances(entity, attr))
        return lambda entity: any(_leaves(i, path)[0] for i in _instances(entity, attr))
    if op in ("~=", "!~="):
        pred = vocab_pred = _regex_pred(query)
    elif op in ("==", "!="):
        pred, vocab_pred = _equal(query), _equal(query, vocab=True)
    elif isinstance(query, tuple | Range):
        return lambda entity: False
    else:
        pred = vocab_pred = _order(_ORDER[op], query)

    # != and !~= negate over the existing values: at least one value, and none matches
    negate = op in ("!=", "!~=")

    def run(entity: Entity) -> bool:
        seen = False
        for inst in _instances(entity, attr):
            leaves, vocab = _leaves(inst, path)
            test = vocab_pred if vocab else pred
            for value in leaves:
                if test(value):
                    return not negate
                seen = True
        return negate and seen

    return run
