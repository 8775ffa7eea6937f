"""Communes and EPCI as the territory sees them. Pure."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Commune:
    insee: str
    name: str
    departement: str
    population: int
    #: SIREN of the commune's EPCI ("" for the few communes in none)
    epci: str


@dataclass(frozen=True, slots=True)
class Epci:
    siren: str
    name: str
    #: CC, CA, CU, METRO, MET69
    kind: str
