"""``q`` over past values: does an entity's history satisfy a query at some instant?

In a temporal query (``GET /temporal/entities?q=...``) the query language is
evaluated against the temporal evolution of the entities, not their current
state. The definition used here:

    an entity matches when, at some instant of the time window at which one of
    the attributes named in ``q`` was observed, the values of those attributes
    last observed within the window (up to and including that instant) satisfy
    ``q``.

For a query over one attribute (``q=co2>1000``) this is simply "some instance
of the window satisfies it". For a query over several (``q=co2>1000;occupancy>0``)
the attributes must hold their matching values *at the same time*, which is
what an elected official means by "CO2 above 1,000 while the classroom was
occupied": an entity whose CO2 peaked at night and whose occupancy rose in the
morning does not match. An attribute with no instance yet in the window counts
as absent at that instant (``!=`` and existence tests see it missing), as in
``/entities``.

The evaluation itself is the one of ``/entities`` (:func:`bocage.ngsild.q.matches`),
run on the successive states of the entity, so every operator, range, pattern,
sub-attribute (``co2.observedAt``) and compound key behaves identically.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import groupby

from bocage.domain.entity import Entity, Instance
from bocage.domain.query import And, Comparison, Or, QNode
from bocage.domain.temporal import History, Record
from bocage.ngsild.q import matches
from bocage.ngsild.temporal_render import full_instance


def q_attributes(node: QNode) -> frozenset[str]:
    """The (expanded) attributes a q expression reads."""
    if isinstance(node, Comparison):
        return frozenset((node.path.attr,))
    found: frozenset[str] = frozenset()
    for term in node.terms:
        found |= q_attributes(term)
    return found


def _by_time(history: History) -> list[Record]:
    records: Iterable[Record] = (r for series in history.values() for r in series)
    return sorted(records, key=lambda r: (r.t, r.nth))


def history_matches(node: QNode, history: History) -> bool:
    """Whether ``history`` (the records of the attributes ``node`` reads, within
    the window) satisfies ``node`` at some instant (see the module docstring)."""
    if not isinstance(node, Comparison | And | Or):
        raise TypeError(f"not a q expression: {node!r}")
    state: dict[str, dict[str, Instance]] = {}  # attr -> datasetId -> latest instance
    for _, same_time in groupby(_by_time(history), key=lambda r: r.t):
        for record in same_time:
            state.setdefault(record.attr, {})[record.dataset] = full_instance(record)
        entity: Entity = {attr: list(by_dataset.values()) for attr, by_dataset in state.items()}
        if matches(node, entity):
            return True
    return False


__all__ = ["history_matches", "q_attributes"]
