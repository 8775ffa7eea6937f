"""The territory is built from the bundled commune data, in proportion to population."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest

from bocage.simulator import communes as cm
from bocage.simulator import geography as geo
from bocage.simulator import territory as tr

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "communes"
AIN = cm.select("01")


def test_the_ain_is_bundled_with_its_391_communes_and_their_epci() -> None:
    assert len(AIN) == 391
    amberieu = next(c for c in AIN if c.insee == "01004")
    assert (amberieu.name, amberieu.population, amberieu.epci) == (
        "Ambérieu-en-Bugey", 15934, "240100883")
    assert cm.all_epci()["240100883"].name == "CC de la Plaine de l'Ain"
    assert len(cm.departements()) == 101  # 96 metropolitan + 5 overseas departments


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data/communes not mounted")
def test_the_bundle_matches_the_reference_data() -> None:
    source = json.loads((SHARED / "communes.json").read_text("utf-8"))
    current = {c["code"]: c for c in source if c["type"] == "commune-actuelle"
               and c["zone"] in ("metro", "drom")}
    bundled = {c.insee: c for c in cm.all_communes()}
    assert bundled.keys() == current.keys()
    for code, c in current.items():
        assert (bundled[code].name, bundled[code].population) == (c["nom"], c.get("population", 0))


def test_bundle_is_compact() -> None:
    data = Path(cm.__file__).parent / "data"
    assert (data / "communes.tsv.gz").stat().st_size < 600_000
    assert gzip.decompress((data / "communes.tsv.gz").read_bytes()).startswith(b"insee\t")


def test_every_bundled_department_has_an_extent() -> None:
    assert all(geo.known(d) for d in cm.departements())


def test_unknown_department_and_epci_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="no bundled commune in department '99'"):
        cm.select("99")
    with pytest.raises(ValueError, match="unknown EPCI SIREN: 123"):
        cm.select(epci=("123",))


def test_equipment_follows_population() -> None:
    plans = sorted(((c.population, tr.plan(c, 1)) for c in AIN if c.population > 0),
                   key=lambda x: x[0])
    for kind in ("streetlight", "cabinet", "water", "bin", "classroom", "parking", "ev",
                 "camera", "pv"):
        counts = [p.get(kind, 0) for _, p in plans]
        assert counts == sorted(counts), f"{kind} does not grow with population"
    for pop, p in plans:
        if 240 <= pop <= 9000:  # between the floor and the cap: one light per 60 people
            assert abs(p["streetlight"] - pop / 60) <= 0.5
        assert p["cabinet"] * 25 >= p["streetlight"]
        assert bool(p["school"]) == (pop >= 250)
        assert bool(p["gym"]) == (pop >= 1500)
    assert tr.plan(cm.Commune("55039", "Beaumont-en-Verdunois", "55", 0, ""), 1) == {}


def test_the_territory_holds_what_the_plan_says_per_commune() -> None:
    t = tr.build(AIN, cm.all_epci(), seed=7)
    lights = tr.counts_by_commune(t.equipment, "Streetlight")
    meters = tr.counts_by_commune(t.devices, "water")
    rooms = tr.counts_by_commune(t.devices, "classroom")
    for c in AIN:
        p = tr.plan(c, 7)
        assert lights.get(c.insee, 0) == p.get("streetlight", 0)
        assert meters.get(c.insee, 0) == p.get("water", 0)
        assert rooms.get(c.insee, 0) == p.get("classroom", 0)
    by_pop = sorted(AIN, key=lambda c: c.population)
    assert lights[by_pop[-1].insee] > lights[by_pop[len(by_pop) // 2].insee] > 0


def test_ids_euis_and_scopes_are_unique_and_well_formed() -> None:
    t = tr.build(AIN, cm.all_epci(), seed=1)
    ids = [e.id for e in t.equipment]
    euis = [d.dev_eui for d in t.devices]
    assert len(set(ids)) == len(ids) and len(set(euis)) == len(euis)
    assert all(re.fullmatch(r"[0-9A-F]{16}", e) for e in euis)
    assert all(re.fullmatch(r"/FR/01/\d{9}/01\d{3}", e.scope) for e in t.equipment)
    assert {d.asset_id for d in t.devices if not d.sends_as} <= set(ids)
    assert sum(1 for d in t.devices if d.sends_as) == 1  # the misconfigured one


def test_positions_are_simulated_inside_the_department_and_near_the_commune() -> None:
    t = tr.build(AIN, cm.all_epci(), seed=1)
    box = geo.departement_box("01")
    centres = {p.commune.insee: p.at for p in t.places}
    assert all(box.contains(*at) for at in centres.values())
    for e in t.equipment:
        assert geo.distance_m(e.at, centres[e.insee]) < 3_000, e.id


def test_same_seed_same_territory_other_seed_other_places() -> None:
    few = cm.select(epci=("200029999",))
    a, b = tr.build(few, cm.all_epci(), 3), tr.build(few, cm.all_epci(), 3)
    assert a == b
    c = tr.build(few, cm.all_epci(), 4)
    assert [p.at for p in a.places] != [p.at for p in c.places]
    # identities do not depend on the seed nor on which other communes are simulated
    whole = {d.dev_eui for d in tr.build(AIN, cm.all_epci(), 3).devices}
    assert {d.dev_eui for d in a.devices if not d.sends_as} <= whole


def test_other_departments_work_too() -> None:
    t = tr.build(cm.select("2A"), cm.all_epci(), 1)
    box = geo.departement_box("2A")
    assert t.devices and all(box.contains(*p.at) for p in t.places)
    assert all(d.dev_eui.startswith("B0CA2A") for d in t.devices)
