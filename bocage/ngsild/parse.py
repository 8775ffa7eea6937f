"""Request bodies -> internal entities (see ``bocage.domain.entity``).

Accepts the normalized and the concise NGSI-LD representations (clause 4.5),
validates them and expands every user term through a :class:`Terms`. Pure.
"""

from __future__ import annotations

import re
from typing import Any, Final

from bocage.domain.entity import ATTRIBUTE_TYPES, VALUE_KEY, Entity, Instance
from bocage.domain.errors import BadRequestData
from bocage.domain.terms import Terms
from bocage.domain.timefmt import normalise_datetime
from bocage.ngsild.geo import validate_geometry
from bocage.ngsild.scopeq import validate_scope

_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:\S+$")
# Characters the spec forbids in attribute and type names (clause 4.6.2).
_BAD_NAME = re.compile(r"[<>\"'=;()\s&?/#\\]")
#: Attribute names that are GeoProperties by definition.
GEO_NAMES: Final = frozenset({"location", "observationSpace", "operationSpace"})
_META_IN = frozenset({"observedAt", "unitCode", "datasetId", "lang", "objectType"})
_SYSTEM = frozenset({"createdAt", "modifiedAt", "deletedAt", "instanceId"})
_GEO_TYPES = frozenset(
    {"Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon",
     "GeometryCollection"}
)
MAX_DEPTH: Final = 8


def check_uri(value: object, what: str) -> str:
    if not isinstance(value, str) or not _URI.match(value) or len(value) > 2048:
        raise BadRequestData(f"{what} must be a URI, got {value!r}")
    return value


#: names already found valid: bodies repeat the same few names over and over
_GOOD_NAMES: set[str] = set()
_GOOD_NAMES_MAX: Final = 4096


def check_name(name: str, what: str = "attribute name") -> str:
    if name in _GOOD_NAMES:
        return name
    if not name or (_BAD_NAME.search(name) is not None and not _URI.match(name)):
        raise BadRequestData(f"invalid {what}: {name!r}")
    if len(_GOOD_NAMES) >= _GOOD_NAMES_MAX:
        _GOOD_NAMES.clear()
    _GOOD_NAMES.add(name)
    return name


def parse_types(value: object, terms: Terms) -> list[str]:
    raw = [value] if isinstance(value, str) else value
    if not isinstance(raw, list) or not raw or not all(isinstance(t, str) and t for t in raw):
        raise BadRequestData("entity type must be a non-empty string or list of strings")
    out: list[str] = []
    for t in raw:
        iri = terms.expand(check_name(t, "entity type"))
        if iri not in out:
            out.append(iri)
    return out


def parse_scopes(value: object) -> list[str]:
    raw = [value] if isinstance(value, str) else value
    if not isinstance(raw, list) or not all(isinstance(s, str) for s in raw):
        raise BadRequestData("scope must be a string or a list of strings")
    for s in raw:
        validate_scope(s)
    return list(dict.fromkeys(raw))


def parse_entity(
    body: object,
    terms: Terms,
    *,
    require_id: bool = True,
    require_type: bool = True,
    nulls: bool = False,
) -> Entity:
    """Validate and expand one entity body (its @context already removed)."""
    if not isinstance(body, dict):
        raise BadRequestData("an entity must be a JSON object")
    entity: Entity = {}
    if "id" in body or "@id" in body:
        entity["id"] = check_uri(body.get("id", body.get("@id")), "entity id")
    elif require_id:
        raise BadRequestData("entity id is missing")
    if "type" in body or "@type" in body:
        entity["type"] = parse_types(body.get("type", body.get("@type")), terms)
    elif require_type:
        raise BadRequestData("entity type is missing")
    if "scope" in body:
        entity["scope"] = parse_scopes(body["scope"])
    for key, value in body.items():
        if key in ("id", "@id", "type", "@type", "scope", "@context") or key in _SYSTEM:
            continue
        name = check_name(key)
        entity[terms.expand(name)] = parse_attribute(name, value, terms, nulls=nulls)
    return entity


def parse_attribute(
    name: str, value: object, terms: Terms, *, nulls: bool = False
) -> list[Instance]:
    """One top-level attribute: a list of instances, unique by datasetId.

    ``nulls`` admits null values, which mean "delete" in merge-patch operations.
    """
    items = value if isinstance(value, list) and value and all(
        isinstance(v, dict) and ("type" in v or _value_key_of(v)) for v in value
    ) else [value]
    instances = [parse_instance(name, item, terms, 0, nulls) for item in items]
    if len(instances) == 1:
        return instances
    seen: set[str | None] = set()
    for inst in instances:
        ds = inst.get("datasetId")
        if ds in seen:
            raise BadRequestData(f"attribute {name!r} has two instances with datasetId {ds!r}")
        seen.add(ds)
    return instances


def _value_key_of(raw: dict[str, Any]) -> str | None:
    for key in ("value", "object", "languageMap", "json", "vocab", "valueList", "objectList"):
        if key in raw:
            return key
    return None


_KEY_TYPE = {
    "value": "Property",
    "object": "Relationship",
    "languageMap": "LanguageProperty",
    "json": "JsonProperty",
    "vocab": "VocabProperty",
    "valueList": "ListProperty",
    "objectList": "ListRelationship",
}


def _is_geometry(value: object) -> bool:
    kind = value.get("type") if isinstance(value, dict) else None
    return isinstance(kind, str) and kind in _GEO_TYPES and isinstance(value, dict) and (
        "coordinates" in value or "geometries" in value
    )


def parse_instance(
    name: str, raw: object, terms: Terms, depth: int = 0, nulls: bool = False
) -> Instance:
    """One attribute instance (normalized or concise)."""
    if depth > MAX_DEPTH:
        raise BadRequestData(f"attribute {name!r} nests sub-attributes too deeply")
    declared = raw.get("type") if type(raw) is dict else None
    if type(declared) is str and declared in ATTRIBUTE_TYPES:
        pass  # normalized (the common case): no need to look for a concise form
    elif not isinstance(raw, dict) or (
        "type" not in raw and _value_key_of(raw) is None
    ) or _is_geometry(raw):
        # concise form: a bare value
        if raw is None:
            if nulls:
                return {"type": "Property", "value": None}
            raise BadRequestData(f"attribute {name!r} has a null value")
        concise = "GeoProperty" if name in GEO_NAMES or _is_geometry(raw) else "Property"
        raw = {"type": concise, "value": raw}
    assert isinstance(raw, dict)
    kind = raw.get("type")
    if kind is None:
        key = _value_key_of(raw)
        if key is None:
            raise BadRequestData(f"attribute {name!r} has a null type")
        kind = _KEY_TYPE[key]
        if kind == "Property" and (name in GEO_NAMES or _is_geometry(raw["value"])):
            kind = "GeoProperty"
    if not isinstance(kind, str) or kind not in ATTRIBUTE_TYPES:
        raise BadRequestData(f"attribute {name!r} has an unknown type {kind!r}")
    vkey = VALUE_KEY[kind]
    if nulls and vkey in raw and raw[vkey] is None:
        return {"type": kind, vkey: None, **({"datasetId": raw["datasetId"]}
                                           if "datasetId" in raw else {})}
    if vkey not in raw or raw[vkey] is None:
        raise BadRequestData(f"attribute {name!r} of type {kind} lacks its {vkey!r}")
    inst: Instance = {"type": kind, vkey: _parse_value(name, kind, raw[vkey], terms)}
    for key, val in raw.items():
        if key in ("type", vkey) or key in _SYSTEM:
            continue
        if key == "observedAt":
            inst["observedAt"] = _observed_at(val, name)
        elif key == "unitCode":
            if not isinstance(val, str) or not val:
                raise BadRequestData(f"{name}.unitCode must be a non-empty string")
            inst["unitCode"] = val
        elif key == "datasetId":
            inst["datasetId"] = check_uri(val, f"{name}.datasetId")
        elif key in ("lang", "objectType"):
            inst[key] = val
        elif key in VALUE_KEY.values():
            raise BadRequestData(f"attribute {name!r} mixes {vkey!r} and {key!r}")
        else:
            sub = check_name(key, "sub-attribute name")
            if isinstance(val, list) and len(val) == 1 and isinstance(val[0], dict):
                val = val[0]
            inst[terms.expand(sub)] = parse_instance(
                f"{name}.{sub}", val, terms, depth + 1, nulls
            )
    return inst


#: observedAt text -> its normal form. Sensors report the same instants over and
#: over (a batch often shares one), and parsing + formatting one costs more than
#: the rest of a small attribute. Bounded: cleared when full.
_INSTANTS: dict[str, str] = {}
_INSTANTS_MAX: Final = 4096


def _observed_at(value: object, name: str) -> str:
    if isinstance(value, str):
        known = _INSTANTS.get(value)
        if known is not None:
            return known
    normal = normalise_datetime(value, f"{name}.observedAt")
    if isinstance(value, str):
        if len(_INSTANTS) >= _INSTANTS_MAX:
            _INSTANTS.clear()
        _INSTANTS[value] = normal
    return normal


def _parse_value(name: str, kind: str, value: Any, terms: Terms) -> Any:
    if kind == "Property":
        return value
    if kind == "GeoProperty":
        return validate_geometry(value)
    if kind == "Relationship":
        if isinstance(value, list):
            return [check_uri(v, f"{name}.object") for v in value]
        return check_uri(value, f"{name}.object")
    if kind == "ListRelationship":
        if not isinstance(value, list):
            raise BadRequestData(f"{name}.objectList must be a list")
        return [
            check_uri(v.get("object") if isinstance(v, dict) else v, f"{name}.objectList")
            for v in value
        ]
    if kind == "LanguageProperty":
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str | list) for k, v in value.items()
        ):
            raise BadRequestData(f"{name}.languageMap must map language tags to strings")
        return value
    if kind == "VocabProperty":
        if not (isinstance(value, str) or (
            isinstance(value, list) and all(isinstance(v, str) for v in value)
        )):
            raise BadRequestData(f"{name}.vocab must be a string or a list of strings")
        return terms.expand_vocab(value)
    if kind == "ListProperty" and not isinstance(value, list):
        raise BadRequestData(f"{name}.valueList must be a list")
    return value
