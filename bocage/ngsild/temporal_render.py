"""History records -> NGSI-LD temporal representations (clause 4.5.7 & co.). Pure.

* normalized: every attribute is an array of instances, each with its
  ``instanceId`` and its time members (``createdAt``/``modifiedAt`` with
  ``sysAttrs`` only, as for entities);
* temporalValues (simplified): one object per attribute instance series with
  ``values`` (``objects``, ``languageMaps``... after the attribute type) as
  ``[value, time]`` pairs, time on the requested ``timeproperty``;
* aggregatedValues: one object per series with ``[value, start, end]``
  triples per method (the values come from ``bocage.history.aggregate``).
"""

from __future__ import annotations

from typing import Any, Final

from bocage.domain.entity import VALUE_KEY, Entity, Instance
from bocage.domain.temporal import History, Record, Series, TimeProperty
from bocage.domain.terms import Terms
from bocage.domain.timefmt import from_ms
from bocage.history.aggregate import aggregate_series
from bocage.history.duration import Duration
from bocage.ngsild.render import View, render_instance

#: attribute type -> the member holding its [value, time] pairs (temporalValues)
VALUES_KEY: Final = {
    "Property": "values",
    "GeoProperty": "values",
    "Relationship": "objects",
    "LanguageProperty": "languageMaps",
    "JsonProperty": "jsons",
    "VocabProperty": "vocabs",
    "ListProperty": "valueLists",
    "ListRelationship": "objectLists",
}


def full_instance(record: Record) -> Instance:
    """The stored instance with its time members put back."""
    inst = dict(record.instance)
    if record.observed is not None:
        inst["observedAt"] = from_ms(record.observed)
    inst["createdAt"] = from_ms(record.created)
    inst["modifiedAt"] = from_ms(record.modified)
    return inst


def entity_head(entity: Entity, terms: Terms) -> dict[str, Any]:
    out: dict[str, Any] = {"id": entity["id"]}
    types = [terms.compact(t) for t in entity.get("type", [])]
    if types:
        out["type"] = types[0] if len(types) == 1 else types
    scopes = entity.get("scope")
    if scopes:
        out["scope"] = scopes[0] if len(scopes) == 1 else list(scopes)
    return out


def render_temporal(
    head: Entity, history: History, terms: Terms, view: View, timeproperty: TimeProperty,
    simplified: bool,
) -> dict[str, Any]:
    out = entity_head(head, terms)
    for attr, records in history.items():
        if not records:
            continue
        name = terms.compact(attr)
        if simplified:
            out[name] = _simplified(records, terms, timeproperty)
        else:
            out[name] = [render_record(r, terms, view) for r in records]
    return out


#: the member a record read from a downsampling tier carries (see storage.history_tiers)
SUMMARY_KEY: Final = "bocage:summary"


def render_record(record: Record, terms: Terms, view: View) -> Any:
    """One history record as an attribute instance of the temporal representation."""
    inst = full_instance(record)
    summary = inst.pop(SUMMARY_KEY, None)
    shown = render_instance(inst, terms, view)
    if isinstance(shown, dict):
        shown["instanceId"] = record.instance_id
        if summary is not None:
            shown[SUMMARY_KEY] = summary
    return shown


def _simplified(records: list[Record], terms: Terms, prop: TimeProperty) -> Any:
    series: dict[str, dict[str, Any]] = {}
    for rec in records:
        kind = rec.instance.get("type", "Property")
        out = series.get(rec.dataset)
        if out is None:
            out = series[rec.dataset] = {"type": kind, VALUES_KEY.get(kind, "values"): []}
            if rec.dataset:
                out["datasetId"] = rec.dataset
        value = rec.instance.get(VALUE_KEY.get(kind, "value"))
        if kind == "VocabProperty":
            value = terms.compact_vocab(value)
        t = rec.time(prop)
        out[VALUES_KEY.get(kind, "values")].append([value, from_ms(rec.t if t is None else t)])
    shown = list(series.values())
    return shown[0] if len(shown) == 1 else shown


def render_aggregated(
    head: Entity, series: list[Series], terms: Terms, methods: tuple[str, ...],
    start: int | None, end: int | None, period: Duration | None,
) -> dict[str, Any]:
    """aggregatedValues: per series ``{"type": ..., method: [[value, start, end], ...]}``
    over ``[start, end)`` (by default from the series' first instant to just after
    its last one), periods of ``period`` aligned on ``start``."""
    out = entity_head(head, terms)
    by_attr: dict[str, list[dict[str, Any]]] = {}
    for s in series:
        if not s.times and not s.buckets:
            continue
        firsts = [t for t in (s.times[:1] + [b[0] for b in s.buckets[:1]])]
        lasts = [t + 1 for t in s.times[-1:]] + [b[1] for b in s.buckets[-1:]]
        lo = min(firsts) if start is None else start
        hi = max(lasts) if end is None else end
        # summaries (downsampled tiers, compacted chunks) merged with the raw points
        result = aggregate_series(s.times, s.values, s.buckets, methods, lo, hi, period)
        shown: dict[str, Any] = {"type": s.kind}
        if s.dataset:
            shown["datasetId"] = s.dataset
        for method in methods:
            shown[method] = [[value, from_ms(a), from_ms(b)]
                             for value, a, b in result.get(method, [])]
        by_attr.setdefault(terms.compact(s.attr), []).append(shown)
    for name, shown_list in by_attr.items():
        out[name] = shown_list[0] if len(shown_list) == 1 else shown_list
    return out
