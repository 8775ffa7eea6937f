"""Discovery answers (``/types``, ``/attributes``) from the writers' counters.

Both backends keep the same ``stats`` rows ``(kind, type, name, attr_type, n)``
(``T``: entities per type, ``TA``: per type x attribute x attribute type,
``A``: per attribute); these pure functions turn them into the Store's answers.
"""

from __future__ import annotations

from collections.abc import Iterable

from bocage.storage.base import AttributeInfo, TypeInfo

StatsRow = tuple[str, str, str, str, int]


def type_infos(rows: Iterable[StatsRow]) -> list[TypeInfo]:
    """From the ``T`` and ``TA`` rows: each type, its count and attributes."""
    counts: dict[str, int] = {}
    attributes: dict[str, dict[str, set[str]]] = {}
    for kind, type_, name, attr_type, n in rows:
        if kind == "T":
            counts[type_] = n
        else:
            attributes.setdefault(type_, {}).setdefault(name, set()).add(attr_type)
    return [TypeInfo(t, counts[t], attributes.get(t, {})) for t in sorted(counts)]


def attribute_infos(rows: Iterable[StatsRow]) -> list[AttributeInfo]:
    """From the ``A`` and ``TA`` rows: each attribute, its count, kinds and types."""
    counts: dict[str, int] = {}
    attr_types: dict[str, set[str]] = {}
    type_names: dict[str, set[str]] = {}
    for kind, type_, name, attr_type, n in rows:
        if kind == "A":
            counts[name] = n
        else:
            attr_types.setdefault(name, set()).add(attr_type)
            type_names.setdefault(name, set()).add(type_)
    return [
        AttributeInfo(a, counts[a], attr_types.get(a, set()), type_names.get(a, set()))
        for a in sorted(counts)
    ]
