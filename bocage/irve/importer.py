"""Check both IRVE files whole, then write every station in one transaction."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from bocage.domain.errors import BocageError
from bocage.domain.terms import Terms
from bocage.ingest.apply import merge_newer
from bocage.irve.csvtable import Problem, decode_text, read_table
from bocage.irve.stations import (
    DYNAMIC,
    STATIC,
    availability,
    station_body,
    station_scopes,
    stations,
)
from bocage.irve.tableschema import TableSchema, schema_from_json
from bocage.ngsild import mutations as mut
from bocage.ngsild.parse import parse_entity
from bocage.storage.base import Mutation, Store

SCHEMAS = Path(__file__).parent / "schemas"
TENANT = ""  # with the device catalogue, in the default tenant until tenancy per commune


class Rejected(Exception):
    """The files break the schema: nothing was written; every problem is listed."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} problem(s); nothing was imported")
        self.problems = problems


@dataclass(frozen=True, slots=True)
class Summary:
    stations: int
    charging_points: int
    #: stations whose availability the dynamic file updated
    updated: int
    #: dynamic rows about charging points the static file does not describe
    skipped: int = 0


@cache
def schema(name: str) -> TableSchema:
    """``statique`` or ``dynamique``, from the bundled copy of etalab/schema-irve."""
    with open(SCHEMAS / f"schema-{name}.json", encoding="utf-8") as fh:
        return schema_from_json(json.load(fh))


def plan(static: bytes, dynamic: bytes | None, terms: Terms,
         now: str, open_scope: str = "/open") -> tuple[list[Mutation], Summary]:
    """The mutations importing both files, or Rejected listing every problem. Stations
    carry their commune's scope and ``open_scope`` (see ``stations.station_scopes``)."""
    text, problems = decode_text(static, STATIC)
    static_rows, found = ([], []) if problems else read_table(text, schema("statique"), STATIC)
    problems += found
    known, points, found = stations(static_rows)
    problems += found
    patches: list[dict[str, Any]] = []
    skipped: list[int] = []
    if dynamic is not None:
        text, undecoded = decode_text(dynamic, DYNAMIC)
        dyn_rows, found = ([], undecoded) if undecoded else read_table(
            text, schema("dynamique"), DYNAMIC)
        problems += found
        patches, skipped, found = availability(dyn_rows, points, known)
        problems += found
    if problems:
        raise Rejected(sorted(problems, key=lambda p: (p.source != STATIC, p.line)))
    mutations: list[Mutation] = []
    try:
        for station in known.values():
            scopes = station_scopes(station.first.get("code_insee_commune"), open_scope)
            entity = parse_entity(station_body(station, scopes), terms)
            mutations.append(Mutation(station.entity_id, mut.merge(entity, now, upsert=True)))
        for body in patches:
            mutations.append(Mutation(body["id"], merge_newer(parse_entity(body, terms), now)))
    except BocageError as exc:  # a value the NGSI-LD parser refuses: still nothing written
        raise Rejected([Problem(STATIC, 0, exc.detail)]) from None
    summary = Summary(stations=len(known), charging_points=sum(
        len(s.points) for s in known.values()), updated=len(patches), skipped=len(skipped))
    return mutations, summary


def run(store: Store, static: bytes, dynamic: bytes | None, terms: Terms,
        now: str, open_scope: str = "/open") -> Summary:
    """Check, then apply in one store call (one transaction); every entity was parsed
    before, so a store refusal is not expected and would be raised."""
    mutations, summary = plan(static, dynamic, terms, now, open_scope)
    if mutations:
        for result in store.apply(TENANT, mutations):
            if isinstance(result, BocageError):
                raise result
    return summary
