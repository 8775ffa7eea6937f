"""OpenAPI descriptions of parameters and bodies the NGSI-LD routes read by hand.

The routes parse the raw request themselves (one query object, NGSI-LD errors),
so FastAPI cannot infer these; they are declared here for /docs and clients.
"""

from __future__ import annotations

from typing import Any


def _q(name: str, description: str, kind: str = "string") -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": {"type": kind}}


#: a documented query parameter (name, description[, JSON schema type])
query_param = _q

_TENANT = {"name": "NGSILD-Tenant", "in": "header", "required": False,
           "description": "Tenant; the default tenant when absent.", "schema": {"type": "string"}}
_LINK = {"name": "Link", "in": "header", "required": False,
         "description": 'User @context: <url>; rel="http://www.w3.org/ns/json-ld#context"',
         "schema": {"type": "string"}}

VIEW_PARAMS = [
    _q("attrs", "Comma-separated attributes to return (and to require, in queries)."),
    _q("pick", "Comma-separated entity members to keep (id, type, scope, attributes)."),
    _q("omit", "Comma-separated entity members to drop."),
    _q("options", "keyValues, concise, sysAttrs (comma-separated)."),
    _q("format", "normalized (default), concise, keyValues or simplified."),
    _q("lang", "Language of LanguageProperty values to return."),
    _q("geometryProperty", "GeoProperty used as geometry with Accept: application/geo+json."),
]

QUERY_PARAMS = [
    _q("id", "Comma-separated entity ids."),
    _q("idPattern", "Regular expression on entity ids."),
    _q("type", "Entity types: A,B or A|B (either), A;B (both), parentheses."),
    _q("q", 'NGSI-LD query language, e.g. fillingLevel>0.8;status=="ok".'),
    _q("georel", "near;maxDistance==M, near;minDistance==M, within, contains, intersects, "
                 "equals, disjoint, overlaps."),
    _q("geometry", "Point, MultiPoint, LineString, MultiLineString, Polygon, MultiPolygon."),
    _q("coordinates", "GeoJSON coordinates as JSON, e.g. [5.36,45.95]."),
    _q("geoproperty", "GeoProperty tested by the geo-query (default: location)."),
    _q("scopeQ", "Scope query: /a/b, /a/+, /a/#, with ; and |."),
    _q("limit", "Page size (default 20).", "integer"),
    _q("offset", "Entities to skip.", "integer"),
    _q("count", "true: total in the NGSILD-Results-Count header.", "boolean"),
    *VIEW_PARAMS,
]

_ENTITY_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": {"type": "object"}, "example": {
            "id": "urn:ngsi-ld:Streetlight:01004-0002", "type": "Streetlight",
            "powerState": {"type": "Property", "value": "on"},
            "location": {"type": "GeoProperty",
                         "value": {"type": "Point", "coordinates": [5.36, 45.95]}}}},
        "application/ld+json": {"schema": {"type": "object"}},
    },
}
_ARRAY_BODY = {"required": True, "content": {"application/json": {"schema": {"type": "array"}},
                                             "application/ld+json": {"schema": {"type": "array"}}}}


def doc(*params: dict[str, Any], body: str | None = None) -> dict[str, Any]:
    """``openapi_extra`` for a route: its parameters and, optionally, its body."""
    extra: dict[str, Any] = {"parameters": [_TENANT, _LINK, *params]}
    if body == "object":
        extra["requestBody"] = _ENTITY_BODY
    elif body == "array":
        extra["requestBody"] = _ARRAY_BODY
    return extra
