"""Pure NGSI-LD write semantics: parsing, mutations and rendering, without any I/O."""

from __future__ import annotations

from typing import Any

import pytest

from bocage.domain.errors import AlreadyExists, BadRequestData, ResourceNotFound
from bocage.ngsild import mutations as mut
from bocage.ngsild.parse import parse_entity
from bocage.ngsild.render import View, render_entity, render_feature
from bocage.storage.base import DELETE

NS = "https://ex.org/"
T0, T1 = "2026-01-01T00:00:00.000Z", "2026-01-02T00:00:00.000Z"


class Prefix:
    """A Terms implementation: every bare term lives under one namespace."""

    def expand(self, term: str) -> str:
        return term if ":" in term else NS + term

    def compact(self, iri: str) -> str:
        return iri.removeprefix(NS)

    def expand_vocab(self, value: Any) -> Any:
        return [self.expand(v) for v in value] if isinstance(value, list) else self.expand(value)

    def compact_vocab(self, value: Any) -> Any:
        return [self.compact(v) for v in value] if isinstance(value, list) else self.compact(value)


TERMS = Prefix()


def parsed(body: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return parse_entity(body, TERMS, **kw)


def test_parse_expands_names_and_keeps_core_keywords() -> None:
    e = parsed({"id": "urn:a:1", "type": "Lamp", "p": {"type": "Property", "value": 1,
                                                         "unitCode": "W", "q": {"value": 2}}})
    assert e["type"] == [NS + "Lamp"]
    inst = e[NS + "p"][0]
    assert inst["unitCode"] == "W" and inst[NS + "q"] == {"type": "Property", "value": 2}


@pytest.mark.parametrize("body", [
    {"id": "urn:a:1", "type": ""},
    {"id": "urn:a:1", "type": ["A", 3]},
    {"id": "urn:a:1", "type": "A", "bad name": 1},
    {"id": "urn:a:1", "type": "A", "p": {"type": "Property", "value": 1, "datasetId": "x y"}},
    {"id": "urn:a:1", "type": "A", "r": {"type": "Relationship", "object": "not uri"}},
    {"id": "urn:a:1", "type": "A", "p": {"type": "Property", "value": 1, "object": "urn:x:1"}},
    {"id": "urn:a:1", "type": "A", "scope": "no-slash"},
    {"id": "urn:a:1", "type": "A", "l": {"type": "LanguageProperty", "languageMap": "fr"}},
])
def test_parse_rejects_bad_entities(body: dict[str, Any]) -> None:
    with pytest.raises(BadRequestData):
        parsed(body)


def test_create_stamps_and_refuses_existing() -> None:
    new = parsed({"id": "urn:a:1", "type": "A", "p": 1})
    created = mut.create(new, T0)(None)
    assert created["createdAt"] == T0 and created[NS + "p"][0]["modifiedAt"] == T0
    with pytest.raises(AlreadyExists):
        mut.create(new, T1)(created)
    assert "createdAt" not in new  # the input is not modified


def test_merge_patch_semantics() -> None:
    current = mut.create(parsed({"id": "urn:a:1", "type": "A",
                                 "p": {"type": "Property", "value": 1, "unitCode": "W"},
                                 "gone": 5}), T0)(None)
    patch = parsed({"id": "urn:a:1", "p": {"value": 2}, "gone": None, "new": 3},
                   require_type=False, nulls=True)
    out = mut.merge(patch, T1)(current)
    assert out[NS + "p"][0] == {"type": "Property", "value": 2, "unitCode": "W",
                                "createdAt": T0, "modifiedAt": T1}
    assert NS + "gone" not in out and out[NS + "new"][0]["value"] == 3
    assert out["createdAt"] == T0 and out["modifiedAt"] == T1
    with pytest.raises(ResourceNotFound):
        mut.merge(patch, T1)(None)


def test_append_update_delete_attr() -> None:
    current = mut.create(parsed({"id": "urn:a:1", "type": "A", "p": 1}), T0)(None)
    outcome = mut.Outcome()
    out = mut.append_attrs("urn:a:1", parsed({"p": 5, "q": 6}, require_id=False,
                                             require_type=False), T1, outcome,
                           overwrite=False)(current)
    assert out[NS + "p"][0]["value"] == 1 and out[NS + "q"][0]["value"] == 6
    assert outcome.updated == [NS + "q"] and outcome.not_updated[0][0] == NS + "p"
    outcome = mut.Outcome()
    out2 = mut.update_attrs("urn:a:1", parsed({"p": 7, "z": 1}, require_id=False,
                                              require_type=False), T1, outcome)(out)
    assert out2[NS + "p"][0]["value"] == 7 and NS + "z" not in out2
    out3 = mut.delete_attr("urn:a:1", NS + "p", T1)(out2)
    assert NS + "p" not in out3
    with pytest.raises(ResourceNotFound):
        mut.delete_attr("urn:a:1", NS + "p", T1)(out3)
    assert mut.delete_entity("urn:a:1")(out3) is DELETE


def test_render_formats() -> None:
    e = mut.create(parsed({"id": "urn:a:1", "type": ["A", "B"],
                           "p": {"type": "Property", "value": 3, "unitCode": "W"},
                           "g": {"type": "Point", "coordinates": [1, 2]},
                           "v": {"type": "VocabProperty", "vocab": "On"},
                           "m": [{"type": "Property", "value": 1},
                                 {"type": "Property", "value": 2, "datasetId": "urn:d:2"}]}),
                   T0)(None)
    normal = render_entity(e, TERMS, View())
    assert normal["type"] == ["A", "B"] and normal["v"] == {"type": "VocabProperty",
                                                              "vocab": "On"}
    assert isinstance(normal["m"], list) and "createdAt" not in normal
    kv = render_entity(e, TERMS, View(format="keyValues"))
    assert kv["p"] == 3 and kv["m"] == 1 and kv["v"] == "On"
    concise = render_entity(e, TERMS, View(format="concise"))
    assert concise["p"] == {"value": 3, "unitCode": "W"}
    assert concise["g"] == {"type": "Point", "coordinates": [1, 2]}
    sys_ = render_entity(e, TERMS, View(sys_attrs=True))
    assert sys_["createdAt"] == T0 and sys_["p"]["modifiedAt"] == T0
    feature = render_feature(e, TERMS, View(), NS + "g")
    assert feature["geometry"] == {"type": "Point", "coordinates": [1, 2]}
    assert feature["properties"]["type"] == ["A", "B"]
