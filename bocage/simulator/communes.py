"""The bundled communes and EPCI (``data/``, written by scripts/bundle_data.py)."""

from __future__ import annotations

import gzip
from functools import cache
from importlib import resources

from bocage.simulator.admin import Commune, Epci

__all__ = ["Commune", "Epci", "all_communes", "all_epci", "departements", "select"]


def _data(name: str) -> bytes:
    return resources.files("bocage.simulator").joinpath("data", name).read_bytes()


@cache
def all_communes() -> tuple[Commune, ...]:
    text = gzip.decompress(_data("communes.tsv.gz")).decode("utf-8")
    out = []
    for line in text.splitlines()[1:]:
        insee, name, dep, pop, epci = line.split("\t")
        out.append(Commune(insee, name, dep, int(pop), epci))
    return tuple(out)


@cache
def by_insee() -> dict[str, Commune]:
    """Every commune by its INSEE code."""
    return {c.insee: c for c in all_communes()}


@cache
def all_epci() -> dict[str, Epci]:
    text = _data("epci.tsv").decode("utf-8")
    out = {}
    for line in text.splitlines()[1:]:
        siren, name, kind = line.split("\t")
        out[siren] = Epci(siren, name, kind)
    return out


def departements() -> list[str]:
    return sorted({c.departement for c in all_communes()})


def select(departement: str | None = None, epci: tuple[str, ...] = ()) -> list[Commune]:
    """Communes of a department, or members of the given EPCI; ValueError when none."""
    communes = all_communes()
    if epci:
        unknown = [e for e in epci if e not in all_epci()]
        if unknown:
            raise ValueError(f"unknown EPCI SIREN: {', '.join(unknown)}")
        chosen = set(epci)
        picked = [c for c in communes if c.epci in chosen
                  and (departement is None or c.departement == departement)]
    elif departement is not None:
        picked = [c for c in communes if c.departement == departement]
    else:
        raise ValueError("choose a department or EPCI")
    if not picked:
        raise ValueError(f"no bundled commune in department {departement!r}; bundled: "
                         + ", ".join(departements()))
    return picked
