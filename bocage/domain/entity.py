"""The internal shape of an NGSI-LD entity.

bocage keeps entities in the *normalized* NGSI-LD form with every user term
(entity types, attribute names, sub-attribute names, VocabProperty values)
**expanded to its full IRI**, so that stored data never depends on the
@context a client happened to use. Core NGSI-LD keywords stay short.

An internal entity is a plain ``dict`` (cheap to serialise with orjson)::

    {
      "id": "urn:ngsi-ld:WasteContainer:1",              # IRI, unchanged
      "type": ["https://smartdatamodels.org/.../WasteContainer"],   # list, expanded
      "scope": ["/FR/01/200071751/01004"],               # optional, list of str
      "createdAt": "2026-11-25T22:00:00.000Z",           # system attributes, UTC
      "modifiedAt": "2026-11-25T22:00:00.000Z",
      "<attribute IRI>": [ <instance>, ... ],            # ALWAYS a list, one item
    }                                                    # per datasetId

An *instance* (attribute value) is a dict::

    {
      "type": "Property",        # Property | Relationship | GeoProperty |
                                 # LanguageProperty | JsonProperty |
                                 # VocabProperty | ListProperty | ListRelationship
      "value": 80,               # Property, GeoProperty (GeoJSON geometry)
      # "object": "urn:..."      # Relationship (str or list of str)
      # "languageMap": {"fr": "..."}   LanguageProperty
      # "json": {...}                  JsonProperty (never expanded)
      # "vocab": "<IRI>" | [..]        VocabProperty (expanded)
      # "valueList": [...]             ListProperty
      # "objectList": [...]            ListRelationship
      "observedAt": "2026-...Z",  # optional
      "unitCode": "CEL",          # optional
      "datasetId": "urn:...",     # optional; absent = the default instance
      "createdAt": "...Z", "modifiedAt": "...Z",
      "<sub-attribute IRI>": <instance>,   # sub-attributes: a single dict each
    }

Values of a Property are kept as sent (compound values are not expanded).
"""

from __future__ import annotations

from typing import Any, Final

Entity = dict[str, Any]
Instance = dict[str, Any]

#: Keys of an entity that are not attributes.
ENTITY_KEYS: Final = frozenset({"id", "type", "scope", "createdAt", "modifiedAt", "deletedAt"})

#: Keys of an instance that are not sub-attributes.
INSTANCE_KEYS: Final = frozenset(
    {
        "type",
        "value",
        "object",
        "languageMap",
        "json",
        "vocab",
        "valueList",
        "objectList",
        "observedAt",
        "unitCode",
        "datasetId",
        "createdAt",
        "modifiedAt",
        "deletedAt",
        "lang",
        "objectType",
        "entity",
    }
)

#: Attribute type -> the key holding its value.
VALUE_KEY: Final = {
    "Property": "value",
    "GeoProperty": "value",
    "Relationship": "object",
    "LanguageProperty": "languageMap",
    "JsonProperty": "json",
    "VocabProperty": "vocab",
    "ListProperty": "valueList",
    "ListRelationship": "objectList",
}

ATTRIBUTE_TYPES: Final = frozenset(VALUE_KEY)


def attribute_names(entity: Entity) -> list[str]:
    """The (expanded) attribute names of an entity, in insertion order."""
    return [k for k in entity if k not in ENTITY_KEYS]


def instance_value(instance: Instance) -> Any:
    """The value of an instance, whatever its attribute type."""
    return instance.get(VALUE_KEY.get(instance.get("type", "Property"), "value"))
