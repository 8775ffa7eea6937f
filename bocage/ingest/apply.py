"""Entity patches -> Store mutations that never let an older reading win.

Uplinks can arrive out of order (a gateway backhaul catching up, a dead letter
replayed days later); the latest value of an attribute must stay the latest
observed one, so an attribute whose stored ``observedAt`` is newer is left out
of the merge. Pure: the clock comes in as ``now``.
"""

from __future__ import annotations

from typing import Any

from bocage.domain.entity import ENTITY_KEYS, Entity
from bocage.domain.terms import Terms
from bocage.ingest.pipeline import Patch
from bocage.ngsild import mutations as mut
from bocage.ngsild.parse import parse_entity
from bocage.storage.base import Mutation, MutationFn, _Delete


def to_mutation(patch: Patch, terms: Terms, now: str) -> Mutation:
    return Mutation(patch.entity_id, merge_newer(parse_entity(patch.body, terms), now))


def merge_newer(patch: Entity, now: str) -> MutationFn:
    def fn(current: Entity | None) -> Entity | _Delete:
        if current is None:
            return mut.merge(patch, now, upsert=True)(None)
        kept = {k: v for k, v in patch.items()
                if k in ENTITY_KEYS or not _older(v, current.get(k))}
        return mut.merge(kept, now, upsert=True)(current)

    return fn


def _older(new: list[dict[str, Any]], stored: list[dict[str, Any]] | None) -> bool:
    if not stored:
        return False
    new_at = next((i.get("observedAt") for i in new if "datasetId" not in i), None)
    old_at = next((i.get("observedAt") for i in stored if "datasetId" not in i), None)
    return isinstance(new_at, str) and isinstance(old_at, str) and new_at < old_at
