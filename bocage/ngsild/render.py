"""Internal entities -> response bodies: normalized, concise, keyValues, GeoJSON.

One :class:`View` carries the projection and format asked for, so the same
query result feeds every representation. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from bocage.domain.entity import ENTITY_KEYS, INSTANCE_KEYS, VALUE_KEY, Entity, Instance
from bocage.domain.terms import Terms

Format = Literal["normalized", "concise", "keyValues"]
_SYS = ("createdAt", "modifiedAt")
_GEO_TYPES = frozenset(
    {"Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon",
     "GeometryCollection"}
)


@dataclass(frozen=True, slots=True)
class View:
    """How to show entities. Attribute names are expanded IRIs."""

    format: Format = "normalized"
    sys_attrs: bool = False
    #: keep only these attributes (``attrs`` / ``pick``); None = all
    attrs: frozenset[str] | None = None
    #: drop these attributes (``omit``)
    omit: frozenset[str] = frozenset()
    #: entity members ``id``/``type``/``scope`` kept (``pick``/``omit`` may drop them)
    members: frozenset[str] = frozenset({"id", "type", "scope"})
    #: LanguageProperty: render the value in this language (``lang``)
    lang: str | None = None


def render_entity(entity: Entity, terms: Terms, view: View) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "id" in view.members:
        out["id"] = entity["id"]
    if "type" in view.members:
        types = [terms.compact(t) for t in entity["type"]]
        out["type"] = types[0] if len(types) == 1 else types
    if "scope" in entity and "scope" in view.members:
        scopes = entity["scope"]
        out["scope"] = scopes[0] if len(scopes) == 1 else list(scopes)
    if view.sys_attrs and view.format != "keyValues":
        for key in _SYS:
            if key in entity:
                out[key] = entity[key]
    for key, insts in entity.items():
        if key in ENTITY_KEYS or key in view.omit:
            continue
        if view.attrs is not None and key not in view.attrs:
            continue
        name = terms.compact(key)
        if view.format == "keyValues":
            out[name] = _key_value(insts, terms, view)
        else:
            shown = [_instance(i, terms, view) for i in insts]
            out[name] = shown[0] if len(shown) == 1 else shown
    return out


def _key_value(insts: list[Instance], terms: Terms, view: View) -> Any:
    chosen = next((i for i in insts if "datasetId" not in i), insts[0])
    kind = chosen.get("type", "Property")
    value = chosen.get(VALUE_KEY.get(kind, "value"))
    if kind == "VocabProperty":
        return terms.compact_vocab(value)
    if kind == "LanguageProperty" and view.lang is not None and isinstance(value, dict):
        return _pick_lang(value, view.lang)[0]
    if kind == "LanguageProperty":
        return {"languageMap": value}
    return value


def _pick_lang(lang_map: dict[str, Any], lang: str) -> tuple[Any, str]:
    for wanted in [p.split(";")[0].strip() for p in lang.split(",")]:
        if wanted in lang_map:
            return lang_map[wanted], wanted
        if wanted == "*" and lang_map:
            first = next(iter(lang_map))
            return lang_map[first], first
    if "@none" in lang_map:
        return lang_map["@none"], "@none"
    first = next(iter(lang_map), "@none")
    return lang_map.get(first), first


def render_instance(inst: Instance, terms: Terms, view: View) -> Any:
    """One attribute instance as ``view`` shows it (normalized or concise)."""
    return _instance(inst, terms, view)


def _instance(inst: Instance, terms: Terms, view: View) -> Any:
    kind = inst.get("type", "Property")
    vkey = VALUE_KEY.get(kind, "value")
    out: dict[str, Any] = {"type": kind}
    for key, val in inst.items():
        if key == "type":
            continue
        if key in INSTANCE_KEYS:
            if key in _SYS and not view.sys_attrs:
                continue
            if key == vkey and kind == "VocabProperty":
                val = terms.compact_vocab(val)
            out[key] = val
        else:
            out[terms.compact(key)] = _instance(val, terms, view)
    if kind == "LanguageProperty" and view.lang is not None:
        value, lang = _pick_lang(out.pop("languageMap"), view.lang)
        out["type"] = "Property"
        out["value"] = value
        out["lang"] = lang
        kind, vkey = "Property", "value"
    if view.format == "concise":
        del out["type"]
        if len(out) == 1 and kind in ("Property", "GeoProperty") and _bare_ok(out[vkey], kind):
            return out[vkey]
    return out


def _bare_ok(value: Any, kind: str) -> bool:
    """A bare concise value must not be mistaken for an attribute object."""
    if kind == "GeoProperty":
        return True
    if isinstance(value, dict):
        return not (
            "type" in value
            or set(value) & {"value", "object", "languageMap", "json", "vocab", "valueList"}
        )
    return not isinstance(value, list)


def render_feature(
    entity: Entity, terms: Terms, view: View, geometry_property: str
) -> dict[str, Any]:
    """One GeoJSON Feature (clause 4.5.16): geometry from ``geometry_property``."""
    body = render_entity(entity, terms, view)
    insts = entity.get(geometry_property) or []
    geometry = insts[0].get("value") if insts and insts[0].get("type") == "GeoProperty" else None
    props = {k: v for k, v in body.items() if k != "id"}
    return {"id": entity["id"], "type": "Feature", "geometry": geometry, "properties": props}


def is_geometry(value: Any) -> bool:
    kind = value.get("type") if isinstance(value, dict) else None
    return isinstance(kind, str) and kind in _GEO_TYPES
