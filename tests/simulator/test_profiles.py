"""Profiles: plausible behaviour, and payloads that decode back to the simulated values."""

from __future__ import annotations

import datetime as dt
import itertools
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bocage.codecs.model import NETWORK_DECODED
from bocage.codecs.registry import builtin_registry
from bocage.simulator import communes as cm
from bocage.simulator import profiles as pr
from bocage.simulator import scenario as sc
from bocage.simulator import sun
from bocage.simulator import territory as tr
from bocage.simulator.encoding import DECODED_BY_NETWORK, encoders
from bocage.simulator.schedule import Schedule
from bocage.simulator.seeding import EV_MODEL

CODECS = builtin_registry()
ENCODERS = encoders(CODECS)
MODELS = tr.available_models(set(ENCODERS))
TERRITORY = tr.build(cm.select(epci=("200029999", "240100883")), cm.all_epci(), 1, MODELS)
WORLD = pr.World(1)
#: one device of each simulated kind
SAMPLE = {d.kind: d for d in reversed(TERRITORY.devices) if not d.sends_as}
TIMES = st.floats(min_value=1.70e9, max_value=1.83e9)


def utc(*args: int) -> float:
    return dt.datetime(*args, tzinfo=dt.UTC).timestamp()


def close(decoded: Any, simulated: Any, tol: float) -> bool:
    if isinstance(simulated, bool) or not isinstance(simulated, int | float):
        return bool(decoded == simulated)
    return bool(abs(decoded - simulated) <= tol)


#: decoded key -> tolerance (the frame's resolution)
TOLERANCE = {"energy": 0.0011, "power": 0.051, "index": 0.0011, "fillingLevel": 0.002,
             "temperature": 0.0051, "current": 0.0051, "pm25": 0.051, "pm10": 0.051,
             "measuredDistance": 0.0011, "flowTemperature": 0.0051,
             "returnTemperature": 0.0051}


def test_every_kind_with_a_model_is_sampled() -> None:
    assert set(tr.DEFAULT_MODELS) <= set(MODELS)
    assert set(SAMPLE) == set(MODELS)


@pytest.mark.parametrize("kind", sorted(SAMPLE))
@settings(max_examples=60, deadline=None)
@given(t=TIMES)
def test_payload_decodes_back_to_the_simulated_values(kind: str, t: float) -> None:
    dev = SAMPLE[kind]
    values = pr.values(dev, t, WORLD)
    assert values is not None
    if dev.model in DECODED_BY_NETWORK:  # travels as the network server's object
        assert EV_MODEL.codec == NETWORK_DECODED
        assert {q.key for q in EV_MODEL.quantities} == set(values)
        return
    codec = CODECS.get(dev.model)
    assert codec is not None
    f_port, payload = ENCODERS[dev.model](values)
    assert f_port in codec.model.f_ports
    decoded = codec.decode(payload, f_port, {**codec.model.defaults, **dev.configuration})
    for key, got in decoded.items():
        if key in values:
            assert close(got, values[key], TOLERANCE.get(key, 0)), (key, got, values[key])
    assert set(values) - set(decoded) <= {"depth", "offset"}  # the bin's configuration
    for q in codec.model.quantities:  # and every value is within the model's range
        got = decoded.get(q.key)
        if q.minimum is not None and isinstance(got, int | float):
            assert q.minimum <= got <= (q.maximum or math.inf), (q.key, got)


def test_sun_times_at_amberieu() -> None:
    rise, sett = sun.crossings(5.36, 45.96, utc(2026, 6, 21))
    assert rise is not None and sett is not None
    # published for Ambérieu-en-Bugey on 21 June: about 05:48 and 21:33 CEST
    assert abs(rise - utc(2026, 6, 21, 3, 48)) < 300
    assert abs(sett - utc(2026, 6, 21, 19, 33)) < 300
    assert sun.paris_offset(utc(2026, 3, 29, 0, 59)) == 3600
    assert sun.paris_offset(utc(2026, 3, 29, 1, 0)) == 7200
    assert sun.paris_offset(utc(2026, 10, 25, 1, 0)) == 3600


def test_street_lights_follow_the_night_and_dim_after_23h() -> None:
    light = SAMPLE["streetlight"]
    noon, evening, late = utc(2026, 1, 14, 11), utc(2026, 1, 14, 18), utc(2026, 1, 15, 0, 30)
    assert pr.streetlight(light, noon, WORLD)["powerState"] == "off"
    on = pr.streetlight(light, evening, WORLD)
    dimmed = pr.streetlight(light, late, WORLD)
    assert (on["powerState"], on["dimmingLevel"]) == ("on", 100)
    assert (dimmed["powerState"], dimmed["dimmingLevel"]) == ("on", 40)
    assert on["power"] > dimmed["power"] > pr.streetlight(light, noon, WORLD)["power"]
    energies = [pr.streetlight(light, utc(2026, 1, 1) + h * 3600, WORLD)["energy"]
                for h in range(0, 24 * 400, 7)]
    assert energies == sorted(energies)


def test_water_meter_index_only_grows_and_nights_are_quiet() -> None:
    meter = SAMPLE["water"]
    indexes = [pr.water(meter, utc(2025, 1, 1) + h * 3600, WORLD)["index"]
               for h in range(0, 24 * 365, 5)]
    assert indexes == sorted(indexes)
    night = pr.water(meter, utc(2026, 2, 3, 2), WORLD)
    morning = pr.water(meter, utc(2026, 2, 3, 7), WORLD)
    if not night["leak"]:
        assert night["flow"] < morning["flow"]


def test_a_leak_is_flagged_once_the_flow_never_stopped_for_24h() -> None:
    meter = SAMPLE["water"]
    start = utc(2026, 3, 10, 9)
    world = pr.World.of(1, sc.Scenario(start, (sc.Incident(sc.LEAK, meter.dev_eui,
                                                             start + 600),)))
    before, after = pr.water(meter, start + 590, world), pr.water(meter, start + 610, world)
    assert not before["leak"] and after["leak"]
    assert pr.water(meter, utc(2026, 3, 10, 2), world)["flow"] >= 45  # the night before
    assert after["index"] > pr.water(meter, start + 610, WORLD)["index"]


def test_bins_fill_up_and_are_emptied_by_the_weekly_round() -> None:
    b = SAMPLE["bin"]
    t0 = utc(2026, 5, 4)
    fills = [pr.bin_fill(b, t0 + h * 3600, WORLD) for h in range(24 * 21)]
    drops = [i for i in range(1, len(fills)) if fills[i] < fills[i - 1]]
    assert len(drops) == 3  # one round a week
    for i in drops:
        assert fills[i] < 0.02  # emptied
        stamp = sun.local(t0 + i * 3600)
        assert stamp.hour == 6 and stamp.weekday() < 5


def test_classroom_co2_rises_during_lessons_on_school_days() -> None:
    room = SAMPLE["classroom"]
    tuesday_11h, tuesday_7h = utc(2026, 3, 10, 10), utc(2026, 3, 10, 6)
    saturday_11h, july = utc(2026, 3, 14, 10), utc(2026, 7, 7, 10)
    assert pr.co2(room, tuesday_11h, WORLD) > 1000
    assert pr.co2(room, tuesday_7h, WORLD) < 450
    assert pr.co2(room, saturday_11h, WORLD) < 450
    assert pr.co2(room, july, WORLD) < 450


def test_carpool_is_busy_on_weekday_hours_only() -> None:
    spots = TERRITORY.devices_of("parking")
    def share(t: float) -> float:
        return sum(pr.parking(s, t, WORLD)["status"] == "occupied" for s in spots) / len(spots)
    assert share(utc(2026, 3, 10, 9)) > 0.6
    assert share(utc(2026, 3, 14, 9)) < 0.35
    assert share(utc(2026, 3, 10, 1)) < 0.3


def test_batteries_drain_and_the_scripted_one_is_nearly_flat() -> None:
    dev = SAMPLE["bin"]
    assert pr.battery(dev, utc(2026, 1, 1), WORLD) >= pr.battery(dev, utc(2027, 1, 1), WORLD)
    start = utc(2026, 3, 10)
    world = pr.World.of(1, sc.Scenario(start, (sc.Incident(sc.BATTERY, dev.dev_eui, start),)))
    assert pr.battery(dev, start, world) <= 7


def test_a_silent_device_sends_nothing_after_it_went_silent() -> None:
    dev = SAMPLE["bin"]
    world = pr.World.of(1, sc.Scenario(0, (sc.Incident(sc.SILENT, dev.dev_eui, 1000.0),)))
    assert pr.values(dev, 999.0, world) is not None
    assert pr.values(dev, 1000.0, world) is None


def test_schedule_keeps_each_device_on_its_grid() -> None:
    devices = TERRITORY.devices[:50]
    start = utc(2026, 3, 10)
    s = Schedule(devices, 1, start, prime=20)
    due = s.due(start + 3 * 3600)
    first = {d.dev_eui for t, d in due if t < start + 20}
    assert first == {d.dev_eui for d in devices}  # primed: everyone within 20 s
    for d in devices:
        times = [t for t, x in due if x is d and t >= start + 20]
        gaps = {round(b - a, 6) for a, b in itertools.pairwise(times)}
        assert gaps <= {float(d.interval)}
        assert len(times) >= 3 * 3600 // d.interval - 1
    again = Schedule(devices, 1, start + 1800).due(start + 3 * 3600)
    assert {(round(t, 6), d.dev_eui) for t, d in again} <= {
        (round(t, 6), d.dev_eui) for t, d in due}  # same grid after a restart


def _sample(kind: str) -> tr.SimDevice:
    assert kind in SAMPLE, f"no built-in device model simulates {kind}"
    return SAMPLE[kind]


def test_pv_follows_the_sun_and_its_index_only_grows() -> None:
    panel = _sample("pv")
    assert pr.values(panel, utc(2026, 6, 21, 1), WORLD)["power"] == 0  # type: ignore[index]
    noon = pr.values(panel, utc(2026, 6, 21, 11), WORLD)
    assert noon is not None and noon["power"] > 1000
    energies = [pr.values(panel, utc(2026, 1, 1) + h * 3600, WORLD)["energy"]  # type: ignore[index]
                for h in range(0, 24 * 400, 11)]
    assert energies == sorted(energies)


def test_meters_indexes_only_grow() -> None:
    for kind in ("energy", "cabinet", "heat"):
        if kind not in SAMPLE:
            continue
        dev = SAMPLE[kind]
        indexes = [pr.values(dev, utc(2025, 1, 1) + h * 3600, WORLD)["energy"]  # type: ignore[index]
                   for h in range(0, 24 * 500, 13)]
        assert indexes == sorted(indexes), kind


def test_a_cabinet_draws_power_at_night_only() -> None:
    cab = _sample("cabinet")
    assert pr.values(cab, utc(2026, 1, 14, 11), WORLD)["power"] == 0  # type: ignore[index]
    assert pr.values(cab, utc(2026, 1, 14, 18), WORLD)["power"] > 500  # type: ignore[index]


def test_a_flood_rises_above_the_danger_level() -> None:
    gauge = _sample("level")
    start = utc(2026, 3, 10, 9)
    world = pr.World.of(1, sc.Scenario(start, (sc.Incident(sc.FLOOD, gauge.dev_eui,
                                                             start + 1800),)))
    reference = gauge.configuration["referenceLevel"]

    def height(t: float, w: pr.World) -> float:
        v = pr.values(gauge, t, w)
        assert v is not None
        return float(reference - v["measuredDistance"])

    assert height(start, world) == height(start, WORLD)
    assert height(start + 3600, world) > height(start, world) + 0.2
    assert height(start + 12 * 3600, world) > gauge.configuration["dangerLevel"]


def test_gym_is_empty_at_night_and_busy_on_weekday_evenings() -> None:
    counter = _sample("people")
    assert pr.values(counter, utc(2026, 3, 10, 2), WORLD)["occupancy"] == 0  # type: ignore[index]
    assert pr.values(counter, utc(2026, 3, 10, 18), WORLD)["occupancy"] > 10  # type: ignore[index]


def test_camera_heartbeat_uptime_restarts_monthly() -> None:
    cam = _sample("camera")
    uptimes = [pr.values(cam, utc(2026, 1, 1) + h * 3600, WORLD)["uptime"]  # type: ignore[index]
               for h in range(0, 24 * 90)]
    assert max(uptimes) <= 31 * 24 and sum(b < a for a, b in itertools.pairwise(uptimes)) >= 2
