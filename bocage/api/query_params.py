"""Query strings -> value objects (EntityQuery, View), parsed once at the edge."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from bocage.domain.errors import BadRequestData, InvalidRequest, TooManyResults
from bocage.domain.query import EntityQuery, TypeExpr
from bocage.domain.terms import Terms
from bocage.ngsild.geo import parse_geoq
from bocage.ngsild.parse import check_uri
from bocage.ngsild.q import parse_q
from bocage.ngsild.render import Format, View
from bocage.ngsild.scopeq import parse_scope_q

_MEMBERS = frozenset({"id", "type", "scope"})
_FORMATS: dict[str, Format] = {
    "keyValues": "keyValues",
    "simplified": "keyValues",
    "concise": "concise",
    "normalized": "normalized",
}
_OPTIONS = frozenset(
    {"keyValues", "simplified", "concise", "normalized", "sysAttrs", "noOverwrite", "replace",
     "update", "temporalValues", "audit", "aggregatedValues", "count"}
)


def _split(raw: str | None) -> list[str]:
    if raw is None:
        return []
    return [p.strip() for p in raw.split(",") if p.strip()]


def parse_type_expr(raw: str, terms: Terms) -> TypeExpr:
    """``A,B`` / ``A|B`` OR, ``A;B`` AND, parentheses; returned in disjunctive normal form."""
    pos = 0
    text = raw.replace(" ", "")

    def parse_or() -> list[list[str]]:
        nonlocal pos
        groups = parse_and()
        while pos < len(text) and text[pos] in ",|":
            pos += 1
            groups = groups + parse_and()
        return groups

    def parse_and() -> list[list[str]]:
        nonlocal pos
        groups = parse_atom()
        while pos < len(text) and text[pos] == ";":
            pos += 1
            right = parse_atom()
            groups = [a + b for a in groups for b in right]
        return groups

    def parse_atom() -> list[list[str]]:
        nonlocal pos
        if pos < len(text) and text[pos] == "(":
            pos += 1
            groups = parse_or()
            if pos >= len(text) or text[pos] != ")":
                raise InvalidRequest(f"unbalanced parentheses in type expression {raw!r}")
            pos += 1
            return groups
        match = re.compile(r"[^,|;()]+").match(text, pos)
        if match is None:
            raise InvalidRequest(f"invalid type expression {raw!r} at position {pos}")
        pos = match.end()
        return [[terms.expand(match.group())]]

    if not text or len(text) > 2000:
        raise InvalidRequest("invalid type expression")
    groups = parse_or()
    if pos != len(text):
        raise InvalidRequest(f"invalid type expression {raw!r} at position {pos}")
    return tuple(tuple(dict.fromkeys(g)) for g in groups)


@dataclass(frozen=True, slots=True)
class ListRequest:
    query: EntityQuery
    view: View
    geometry_property: str
    options: frozenset[str]


def parse_options(params: Mapping[str, str]) -> tuple[frozenset[str], Format]:
    options = frozenset(_split(params.get("options")))
    unknown = options - _OPTIONS
    if unknown:
        raise BadRequestData(f"unknown option(s): {', '.join(sorted(unknown))}")
    fmt: Format = "normalized"
    for opt in ("concise", "keyValues", "simplified"):
        if opt in options:
            fmt = _FORMATS[opt]
    raw_format = params.get("format")
    if raw_format is not None:
        if raw_format not in _FORMATS:
            raise BadRequestData(f"unknown format {raw_format!r}")
        fmt = _FORMATS[raw_format]
    return options, fmt


def parse_view(params: Mapping[str, str], terms: Terms) -> View:
    options, fmt = parse_options(params)
    attrs = _split(params.get("attrs"))
    pick = _split(params.get("pick"))
    omit = _split(params.get("omit"))
    if pick and omit:
        raise BadRequestData("pick and omit cannot be used together")
    keep: frozenset[str] | None = None
    members = set(_MEMBERS)
    if attrs:
        keep = frozenset(terms.expand(a) for a in attrs)
    if pick:
        members = {p for p in pick if p in _MEMBERS}
        picked = frozenset(terms.expand(p) for p in pick if p not in _MEMBERS)
        keep = picked if keep is None else keep & picked
    omit_attrs = frozenset(terms.expand(o) for o in omit if o not in _MEMBERS)
    members -= set(omit)
    return View(
        format=fmt,
        sys_attrs="sysAttrs" in options,
        attrs=keep,
        omit=omit_attrs,
        members=frozenset(members),
        lang=params.get("lang"),
    )


def _int(params: Mapping[str, str], name: str, default: int) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    if not re.fullmatch(r"\d{1,9}", raw):
        raise BadRequestData(f"{name} must be a non-negative integer, got {raw!r}")
    return int(raw)


def parse_list_request(params: Mapping[str, str], terms: Terms, max_limit: int) -> ListRequest:
    """GET /entities parameters."""
    view = parse_view(params, terms)
    options, _ = parse_options(params)
    ids = tuple(check_uri(i, "id") for i in _split(params.get("id")))
    id_pattern = params.get("idPattern")
    if id_pattern is not None:
        try:
            re.compile(id_pattern)
        except re.error as exc:
            raise BadRequestData(f"invalid idPattern: {exc}") from None
    types = parse_type_expr(params["type"], terms) if params.get("type") else ()
    q = parse_q(params["q"], terms.expand) if params.get("q") else None
    geoproperty = terms.expand(params.get("geoproperty") or "location")
    geo = parse_geoq(
        params.get("georel"), params.get("geometry"), params.get("coordinates"), geoproperty
    )
    scope_q = parse_scope_q(params["scopeQ"]) if params.get("scopeQ") else ()
    limit = _int(params, "limit", 20)
    if limit > max_limit:
        raise TooManyResults(f"limit {limit} exceeds the maximum of {max_limit}")
    count = params.get("count", "false").lower()
    if count not in ("true", "false"):
        raise BadRequestData("count must be true or false")
    attrs = tuple(terms.expand(a) for a in _split(params.get("attrs")))
    query = EntityQuery(
        ids=ids,
        id_pattern=id_pattern,
        types=types,
        attrs=attrs,
        q=q,
        geo=geo,
        scope_q=scope_q,
        limit=limit,
        offset=_int(params, "offset", 0),
        count=count == "true" or "count" in options,
    )
    return ListRequest(
        query=query,
        view=view,
        geometry_property=terms.expand(params.get("geometryProperty") or "location"),
        options=options,
    )
