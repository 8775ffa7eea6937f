"""The pipeline's own expansion of its patches equals the NGSI-LD parser's, exactly."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from bocage.codecs.registry import builtin_folders, builtin_registry
from bocage.devices.records import DeviceRecord
from bocage.domain.errors import BadRequestData
from bocage.ingest.apply import expand_patch
from bocage.ingest.pipeline import process
from bocage.ingest.record import Radio, Uplink
from bocage.ngsild.context_loader import ContextResolver
from bocage.ngsild.parse import parse_entity

REGISTRY = builtin_registry()
TERMS = ContextResolver(lambda url: None, lambda url, body, kind: None, 2.0, 100_000).core_term_map


def _patches() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for folder in builtin_folders():
        codec = next(c for c in REGISTRY if c.folder == folder)
        assert codec.model is not None
        for i, ex in enumerate(orjson.loads((folder / "examples.json").read_bytes())):
            if "output" not in ex:
                continue
            eui = f"{i + 1:016X}"
            device = DeviceRecord(dev_eui=eui, model=codec.model.id,
                                  asset_id=f"urn:ngsi-ld:{codec.model.target_type}:{eui}",
                                  configuration=ex.get("config", {}))
            record = Uplink(source="chirpstack", event="up", dev_eui=eui, application="a",
                            dedup_key=f"k{i}", received_at="2026-01-02T03:04:05.678Z",
                            f_port=ex["fPort"], f_cnt=i,
                            payload=bytes.fromhex(ex["bytes"].replace(" ", "")),
                            radio=Radio(-80.0, 7.5, 1))
            for p in process(record, device, codec.model, REGISTRY):
                out.append((f"{folder.name}[{i}] {p.entity_id}", p.body))
    return out


PATCHES = _patches()
ODD: list[tuple[str, dict[str, Any]]] = [
    ("geo", {"id": "urn:ngsi-ld:Device:1", "type": "Device",
             "location": {"type": "GeoProperty", "value": {"type": "Point",
                                                           "coordinates": [1, 2]},
                          "observedAt": "2026-01-02T03:04:05Z"}}),
    ("structured value", {"id": "urn:x:1", "type": "T",
                          "a": {"type": "Property", "value": {"k": [1, 2]}}}),
    ("list value", {"id": "urn:x:1", "type": ["T", "U"],
                    "a": {"type": "Property", "value": [1, 2], "unitCode": "C62"}}),
    ("offset time", {"id": "urn:x:1", "type": "T",
                     "a": {"type": "Property", "value": 1,
                           "observedAt": "2026-01-02T05:04:05+02:00"}}),
    ("unit then time", {"id": "urn:x:1", "type": "T",
                        "a": {"type": "Property", "unitCode": "CEL", "value": 1,
                              "observedAt": "2026-01-02T03:04:05.1Z"}}),
    ("scope", {"id": "urn:x:1", "type": "T", "scope": "/FR/01", "a": 1}),
    ("concise", {"id": "urn:x:1", "type": "T", "a": 1, "b": "text", "c": True}),
    ("sub-attribute", {"id": "urn:x:1", "type": "T",
                       "a": {"type": "Property", "value": 1,
                             "quality": {"type": "Property", "value": "good"}}}),
    ("relationship", {"id": "urn:x:1", "type": "T",
                      "refDevice": {"type": "Relationship", "object": "urn:x:2"}}),
    ("system members", {"id": "urn:x:1", "type": "T", "createdAt": "x", "a": 1}),
]


@pytest.mark.parametrize("name,body", PATCHES + ODD, ids=[n for n, _ in PATCHES + ODD])
def test_expansion_equals_the_parser(name: str, body: dict[str, Any]) -> None:
    expected = parse_entity(body, TERMS)
    got = expand_patch(body, TERMS)
    assert got == expected
    assert orjson.dumps(got) == orjson.dumps(expected)  # member order too


def test_there_are_patches_of_every_builtin_model() -> None:
    assert len({n.split("[")[0] for n, _ in PATCHES}) == len(list(builtin_folders()))


@pytest.mark.parametrize("body", [
    {"id": "not a uri", "type": "T", "a": 1},
    {"id": "urn:x:1", "type": "T", "bad name": {"type": "Property", "value": 1}},
    {"id": "urn:x:1", "type": "T", "a": {"type": "Property", "value": 1, "unitCode": ""}},
    {"id": "urn:x:1", "type": "T", "a": {"type": "Property", "value": 1,
                                         "observedAt": "yesterday"}},
    {"id": "urn:x:1", "type": "T", "a": {"type": "Relationship", "object": "nope"}},
    {"id": "urn:x:1", "type": "T", "a": {"type": "Property", "value": 1,
                                         "observedAt": "2023-02-29T00:00:00.000Z"}},
    {"id": "urn:x:1", "type": "T", "a": {"type": "Property", "value": None}},
])
def test_what_the_parser_refuses_is_refused(body: dict[str, Any]) -> None:
    with pytest.raises(BadRequestData):
        parse_entity(body, TERMS)
    with pytest.raises(BadRequestData):
        expand_patch(body, TERMS)
