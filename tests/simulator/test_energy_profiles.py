"""The gym's programme and the school's gas boiler: what the elected officials' energy
dashboards (questions 11 and 15) read from the simulated territory."""

from __future__ import annotations

import datetime as dt

from bocage.codecs.registry import builtin_registry
from bocage.simulator import communes as cm
from bocage.simulator import energy
from bocage.simulator import profiles as pr
from bocage.simulator import territory as tr
from bocage.simulator.encoding import encoders

MODELS = tr.available_models(set(encoders(builtin_registry())))
TERRITORY = tr.build(cm.select(epci=("200029999",)), cm.all_epci(), 5, MODELS)
WORLD = pr.World(5)


def utc(*args: int) -> float:
    return dt.datetime(*args, tzinfo=dt.UTC).timestamp()


def test_the_gym_meter_and_the_school_gas_meter_belong_to_their_buildings() -> None:
    gyms = [e for e in TERRITORY.equipment if e.id.startswith("urn:ngsi-ld:Building:")
            and e.id.endswith("-G001")]
    schools = [e for e in TERRITORY.equipment if e.id.endswith("-S001")
               and e.type == "Building"]
    assert gyms and schools
    meters = {d.asset_id: d for d in TERRITORY.devices}
    gym_meters = TERRITORY.devices_of("gymmeter")
    assert len(gym_meters) == len(gyms)
    for dev in gym_meters:
        assert dev.model == "bocage-em1"
        asset = next(e for e in TERRITORY.equipment if e.id == dev.asset_id)
        assert asset.type == "ACMeasurement" and asset.refs["refBuilding"] in {
            g.id for g in gyms}
    gas = TERRITORY.devices_of("gas")
    assert len(gas) == len(schools)
    for dev in gas:
        asset = next(e for e in TERRITORY.equipment if e.id == dev.asset_id)
        assert asset.type == "DeviceMeasurement" and asset.id.endswith("-F001")
        assert asset.refs["refBuilding"].endswith("-S001")
        assert meters[asset.id].model == "bocage-gm1"


def test_gym_programme_runs_weekdays_7_to_22_and_saturday_8_to_18_local_time() -> None:
    # Tuesday 10 March 2026 (UTC+1): 06:30 UTC = 07:30 local
    assert energy.gym_programmed(utc(2026, 3, 10, 6, 30))
    assert not energy.gym_programmed(utc(2026, 3, 10, 5, 30))  # 06:30 local
    assert energy.gym_programmed(utc(2026, 3, 10, 20, 59))  # 21:59 local
    assert not energy.gym_programmed(utc(2026, 3, 10, 21, 0))  # 22:00 local
    assert energy.gym_programmed(utc(2026, 3, 14, 16, 30))  # Saturday 17:30
    assert not energy.gym_programmed(utc(2026, 3, 14, 17, 0))  # Saturday 18:00
    assert not energy.gym_programmed(utc(2026, 3, 15, 11))  # Sunday


def test_the_gym_is_heated_and_lit_while_programmed_even_when_empty() -> None:
    meter = TERRITORY.devices_of("gymmeter")[0]
    counter = next(d for d in TERRITORY.devices if d.kind == "people"
                   and d.insee == meter.insee)
    morning = utc(2026, 1, 13, 6, 30)  # Tuesday 07:30 local: programmed, nobody in
    night = utc(2026, 1, 13, 2)
    assert pr.values(counter, morning, WORLD)["occupancy"] == 0  # type: ignore[index]
    on = pr.values(meter, morning, WORLD)["power"]  # type: ignore[index]
    standby = pr.values(meter, night, WORLD)["power"]  # type: ignore[index]
    assert 300 <= standby <= 800 and on > standby + 3000


def test_gym_and_gas_indexes_only_grow_and_gas_burns_more_in_winter() -> None:
    for kind, key in (("gymmeter", "energy"), ("gas", "index")):
        dev = TERRITORY.devices_of(kind)[0]
        indexes = [pr.values(dev, utc(2025, 1, 1) + h * 3600, WORLD)[key]  # type: ignore[index]
                   for h in range(0, 24 * 500, 13)]
        assert indexes == sorted(indexes), kind
    boiler = TERRITORY.devices_of("gas")[0]

    def burnt(a: float, b: float) -> float:
        return float(pr.values(boiler, b, WORLD)["index"]  # type: ignore[index]
                     - pr.values(boiler, a, WORLD)["index"])  # type: ignore[index]

    january = burnt(utc(2026, 1, 1), utc(2026, 2, 1))
    july = burnt(utc(2026, 7, 1), utc(2026, 8, 1))
    assert january > 3 * july > 0
