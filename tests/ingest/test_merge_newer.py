"""merge_newer's direct merge of plain patches equals the generic merge, exactly."""

from __future__ import annotations

import copy
import itertools
import random
from typing import Any

import orjson
import pytest

from bocage.domain.entity import ENTITY_KEYS, Entity
from bocage.domain.errors import ResourceNotFound
from bocage.ingest.apply import _is_plain, _older, merge_newer, restated
from bocage.ngsild import mutations as mut

NOW = "2026-01-01T00:00:00.000Z"
A, B, C = "https://x/a", "https://x/b", "https://x/c"


def reference(patch: Entity, current: Entity) -> Any:
    """The generic merge of what merge_newer keeps of a patch: neither older than the
    stored attribute nor the stored attribute restated."""
    kept = {k: v for k, v in patch.items() if k in ENTITY_KEYS or not (
        _older(v, current.get(k)) or restated(v, current.get(k)))}
    return mut.merge(kept, NOW, upsert=True)(current)


STORED: list[Any] = [
    None,
    [],
    [{"type": "Property", "value": 1, "observedAt": "2025-06-01T00:00:00.000Z",
      "createdAt": "2025-01-01T00:00:00.000Z", "modifiedAt": "2025-06-01T00:00:00.000Z"}],
    [{"type": "Property", "value": 1, "observedAt": "2027-06-01T00:00:00.000Z",
      "createdAt": "2025-01-01T00:00:00.000Z", "modifiedAt": "2025-06-01T00:00:00.000Z"}],
    [{"type": "Property", "value": {"deep": [1, 2]}, "unitCode": "CEL",
      "createdAt": "2025-01-01T00:00:00.000Z"}],
    [{"type": "Relationship", "object": "urn:x:9", "createdAt": "2025-01-01T00:00:00.000Z",
      "modifiedAt": "2025-01-01T00:00:00.000Z"}],
    [{"type": "Property", "value": 5, "datasetId": "urn:ds:1",
      "createdAt": "2025-01-01T00:00:00.000Z", "modifiedAt": "2025-01-01T00:00:00.000Z"}],
    [{"type": "Property", "value": 5, "datasetId": "urn:ds:1"},
     {"type": "Property", "value": 6, "observedAt": "2025-06-01T00:00:00.000Z",
      "quality": {"type": "Property", "value": "good"}},
     {"type": "Property", "value": 7, "datasetId": None}],
]
NEW: list[dict[str, Any]] = [
    {"type": "Property", "value": 2, "observedAt": "2026-06-01T00:00:00.000Z"},
    {"type": "Property", "value": "occupied", "observedAt": "2026-06-01T00:00:00.000Z",
     "unitCode": "C62"},
    {"type": "Property", "value": [1, {"k": "v"}]},
    {"type": "Relationship", "object": "urn:x:1"},
    {"type": "Property", "value": 3, "observedAt": "2020-01-01T00:00:00.000Z"},
]


def cases() -> list[tuple[Entity, Entity]]:
    out = []
    for a, b in itertools.product(STORED, STORED):
        for n1, n2 in itertools.product(NEW, NEW):
            current: Entity = {"id": "urn:x:1", "type": ["https://x/T"],
                               "createdAt": "2025-01-01T00:00:00.000Z",
                               "modifiedAt": "2025-01-01T00:00:00.000Z"}
            for key, stored in ((A, a), (B, b)):
                if stored is not None:
                    current[key] = copy.deepcopy(stored)
            patch: Entity = {"id": "urn:x:1", "type": ["https://x/U"],
                             A: [copy.deepcopy(n1)], C: [copy.deepcopy(n2)]}
            if b is not None:
                patch[B] = [copy.deepcopy(n2)]
            out.append((patch, current))
    return out


CASES = cases()


def test_every_case_merges_as_the_generic_merge() -> None:
    assert len(CASES) > 1000
    for patch, current in CASES:
        assert _is_plain(patch)
        before = copy.deepcopy(current)
        frozen_patch = copy.deepcopy(patch)
        got = merge_newer(patch, NOW)(current)
        expected = reference(frozen_patch, copy.deepcopy(before))
        assert orjson.dumps(got) == orjson.dumps(expected), (patch, before)
        assert current == before  # the stored entity is not modified in place
        assert patch == frozen_patch


@pytest.mark.parametrize("patch", [
    {"id": "urn:x:1", "type": ["T"], "scope": ["/a"], A: [{"type": "Property", "value": 1}]},
    {"id": "urn:x:1", A: [{"type": "Property", "value": 1}, {"type": "Property", "value": 2,
                                                            "datasetId": "urn:d"}]},
    {"id": "urn:x:1", A: [{"type": "Property", "value": 1, "datasetId": "urn:d"}]},
    {"id": "urn:x:1", A: [{"type": "Property", "value": None}]},
    {"id": "urn:x:1", A: [{"type": "Relationship", "object": "urn:ngsi-ld:null"}]},
    {"id": "urn:x:1", A: [{"type": "Property", "value": 1,
                           B: {"type": "Property", "value": 2}}]},
])
def test_other_patches_take_the_generic_merge(patch: Entity) -> None:
    assert not _is_plain(patch)
    rng = random.Random(1)
    for _ in range(20):
        current = {"id": "urn:x:1", "type": ["T"], **{
            k: copy.deepcopy(v) for k, v in zip((A, B), rng.sample(STORED[2:], 2), strict=True)}}
        assert orjson.dumps(merge_newer(copy.deepcopy(patch), NOW)(copy.deepcopy(current))) \
            == orjson.dumps(reference(copy.deepcopy(patch), copy.deepcopy(current)))


def test_a_missing_entity_is_created_unless_told_not_to() -> None:
    patch: Entity = {"id": "urn:x:1", "type": ["T"], A: [{"type": "Property", "value": 1}]}
    assert merge_newer(patch, NOW)(None) == mut.merge(patch, NOW, upsert=True)(None)
    with pytest.raises(ResourceNotFound):
        merge_newer(patch, NOW, create=False)(None)


def test_a_restated_relationship_or_static_value_is_not_a_change() -> None:
    rel = {"type": "Relationship", "object": "urn:x:9"}
    stored = {**rel, "createdAt": "2025-01-01T00:00:00.000Z",
              "modifiedAt": "2025-01-01T00:00:00.000Z"}
    current: Entity = {"id": "urn:x:1", "type": ["https://x/T"], A: [stored],
                       B: [{"type": "Property", "value": 1,
                            "observedAt": "2025-06-01T00:00:00.000Z",
                            "createdAt": "2025-01-01T00:00:00.000Z",
                            "modifiedAt": "2025-06-01T00:00:00.000Z"}]}
    reading = {"type": "Property", "value": 1, "observedAt": "2026-06-01T00:00:00.000Z"}
    got = merge_newer({"id": "urn:x:1", "type": ["https://x/T"], A: [dict(rel)],
                       B: [reading]}, NOW)(copy.deepcopy(current))
    assert isinstance(got, dict)
    assert got[A] == [stored]  # as stored: same modifiedAt, so no history instance
    # the same value observed again is a new observation
    assert got[B][0]["observedAt"] == reading["observedAt"] and got[B][0]["modifiedAt"] == NOW
    assert restated([dict(rel)], [stored])
    assert not restated([{**rel, "object": "urn:x:8"}], [stored])   # another target
    assert not restated([reading], current[B])                        # observed: never
    assert not restated([dict(rel)], [stored, {**rel, "datasetId": "urn:d"}])
    assert not restated([{**rel, "datasetId": "urn:d"}], [{**stored, "datasetId": "urn:d"}])
