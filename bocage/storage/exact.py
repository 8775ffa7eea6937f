"""The exact filters every backend applies after its SQL prefilter.

Backends may over-select in SQL; these pure checks decide, so SQLite and
PostgreSQL answer the same by construction.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

from bocage.domain.entity import Entity
from bocage.domain.errors import BadRequestData
from bocage.domain.query import EntityQuery
from bocage.ngsild.geo import geo_matches
from bocage.ngsild.q import matches
from bocage.ngsild.scopeq import scope_matches

Check = Callable[[Entity], bool]


def exact_checks(query: EntityQuery) -> list[Check]:
    """The exact filters, cheapest first (idPattern validated here, before any SQL)."""
    checks: list[Check] = []
    if query.id_pattern is not None:
        try:
            pattern = re.compile(query.id_pattern)
        except (re.error, RecursionError, OverflowError) as exc:
            raise BadRequestData(f"invalid idPattern: {exc}") from exc
        checks.append(lambda entity: pattern.fullmatch(entity["id"]) is not None)
    if query.q is not None:
        checks.append(functools.partial(matches, query.q))
    if query.geo is not None:
        checks.append(functools.partial(geo_matches, query.geo))
    if query.scope_q:
        scope_q = query.scope_q
        checks.append(lambda entity: scope_matches(scope_q, entity.get("scope") or ()))
    return checks
