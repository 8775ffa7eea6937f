"""``bocage import-readings``: a readings CSV through the pipeline into the store, whole.

Why the store and not the inbox: the inbox exists so that a radio message,
which cannot be asked for again, is kept the moment it arrives. A file is kept
by whoever holds it: the useful answer is a complete report of what is wrong in
it, and nothing written until it is right. So every row is parsed, every record
is run through the same pipeline as an uplink (device, model, quantity ranges,
units, scaling, older-reading rule), and only when all pass is everything
written in one store transaction. Importing the same file twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bocage.codecs.registry import CodecRegistry
from bocage.devices.catalogue import TENANT, Catalogue
from bocage.domain.errors import BocageError
from bocage.domain.terms import Terms
from bocage.ingest.apply import to_mutation
from bocage.ingest.pipeline import Rejected, process
from bocage.ingest.readings_csv import LineError, parse_readings
from bocage.storage.base import Mutation, Store


class ReadingsRejected(Exception):
    """The file has errors: nothing was written; every error is listed."""

    def __init__(self, errors: list[LineError]) -> None:
        super().__init__(f"{len(errors)} error(s); nothing was imported")
        self.errors = errors


@dataclass(frozen=True, slots=True)
class Summary:
    readings: int
    devices: int
    lines: int


def plan_readings(data: bytes, name: str, catalogue: Catalogue, codecs: CodecRegistry,
                  terms: Terms, now: str) -> tuple[list[Mutation], Summary]:
    readings, errors = parse_readings(data, name)
    mutations: list[Mutation] = []
    for reading in readings:
        record = reading.record
        first, rest = reading.lines[0], reading.lines[1:]
        also = f" (the reading of lines {', '.join(map(str, reading.lines))})" if rest else ""
        device = catalogue.device(record.dev_eui)
        model = catalogue.model(device.model) if device is not None else None
        try:
            patches = process(record, device, model, codecs)
            mutations.extend(to_mutation(p, terms, now) for p in patches)
        except Rejected as exc:
            errors.append(LineError(first, f"{exc.reason}: {exc.detail}{also}"))
        except BocageError as exc:
            errors.append(LineError(first, f"store-rejected: {exc.detail}{also}"))
    if errors:
        raise ReadingsRejected(sorted(errors, key=lambda e: e.line))
    return mutations, Summary(readings=len(readings),
                              devices=len({r.record.dev_eui for r in readings}),
                              lines=sum(len(r.lines) for r in readings))


def import_readings(store: Store, data: bytes, name: str, catalogue: Catalogue,
                    codecs: CodecRegistry, terms: Terms, now: Callable[[], str]) -> Summary:
    """Check every line, then write all in one store call; ReadingsRejected otherwise."""
    mutations, summary = plan_readings(data, name, catalogue, codecs, terms, now())
    for result in store.apply(TENANT, mutations):
        if isinstance(result, BocageError):  # every entity was parsed before: unexpected
            raise ReadingsRejected([LineError(0, f"store-rejected: {result.detail}")])
    return summary
