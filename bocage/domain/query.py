"""Queries as value objects.

A query string (``type=...&q=...&geoQ...``) is parsed once at the edge into an
:class:`EntityQuery`; storage backends and renderers receive that object only.
Every name inside is already expanded to its IRI.

The q-language AST (``QNode``) is shared by the parser (``bocage.ngsild.q``),
the pure evaluator (``bocage.ngsild.q.matches``) and the storage backends, which
translate the parts they can into SQL as a *prefilter*; the exact answer always
comes from the pure evaluator, so a backend may over-select but never decide.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

# --------------------------------------------------------------------------- q

QScalar = str | int | float | bool | dt.datetime | None
Op = Literal["==", "!=", ">", ">=", "<", "<=", "~=", "!~="]


@dataclass(frozen=True, slots=True)
class Range:
    """``attr==1..5`` (inclusive bounds)."""

    low: QScalar
    high: QScalar


@dataclass(frozen=True, slots=True)
class AttrPath:
    """What a q term points at.

    ``attr`` is the expanded attribute name; ``sub`` the expanded names of
    sub-attributes (``attr.subattr`` in q), ``keys`` the keys inside a compound
    value (``attr[k1.k2]``), kept literal. ``special`` is set for the
    system/meta members a term may address as a sub-attribute
    (``observedAt``, ``unitCode``, ``datasetId``, ``createdAt``, ``modifiedAt``).
    """

    attr: str
    sub: tuple[str, ...] = ()
    keys: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Comparison:
    """One q term. ``op is None`` means existence (``q=attr``)."""

    path: AttrPath
    op: Op | None = None
    #: a scalar, a tuple of scalars (``attr==1,2,3`` = any of) or a Range
    value: QScalar | tuple[QScalar, ...] | Range = None


@dataclass(frozen=True, slots=True)
class And:
    terms: tuple[QNode, ...]


@dataclass(frozen=True, slots=True)
class Or:
    terms: tuple[QNode, ...]


QNode = Comparison | And | Or

# ------------------------------------------------------------------------ geoQ

GeoRel = Literal["near", "within", "contains", "intersects", "equals", "disjoint", "overlaps"]


@dataclass(frozen=True, slots=True)
class GeoQuery:
    """A parsed geoQ. ``geometry`` is a GeoJSON geometry dict (lon, lat)."""

    georel: GeoRel
    geometry: dict[str, object]
    #: expanded name of the GeoProperty to test (default: NGSI-LD ``location``)
    geoproperty: str
    max_distance: float | None = None  # metres, for near
    min_distance: float | None = None  # metres, for near


# ----------------------------------------------------------------------- type

#: ``type=A,B`` is ``((A,), (B,))``; ``type=(A;B)|C`` is ``((A, B), (C,))``:
#: an OR of AND-groups of expanded type IRIs.
TypeExpr = tuple[tuple[str, ...], ...]


# ---------------------------------------------------------------------- query


@dataclass(frozen=True, slots=True)
class EntityQuery:
    """Everything that selects entities (projection is the renderer's job)."""

    ids: tuple[str, ...] = ()
    id_pattern: str | None = None
    types: TypeExpr = ()
    #: entities must hold at least one of these attributes (expanded names)
    attrs: tuple[str, ...] = ()
    q: QNode | None = None
    geo: GeoQuery | None = None
    #: scopeQ as an OR of AND-groups of scope patterns (``/a/b``, ``/a/#``, ``/a/+``)
    scope_q: tuple[tuple[str, ...], ...] = ()
    limit: int = 20
    offset: int = 0
    count: bool = False


@dataclass(frozen=True, slots=True)
class QueryPage:
    entities: list[dict[str, object]]
    count: int | None = None
