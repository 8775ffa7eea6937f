"""The pure reduction of an entity to what the UI shows: domain, status, place, values."""

from __future__ import annotations

import datetime as dt

from bocage.web.equipment import by_domain, local_name, place_of, summarize, tally

NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(hours=24)
V = "https://example.org/v/"


def compact(iri: str) -> str:
    return iri.removeprefix(V)


def light(**attrs: object) -> dict[str, object]:
    entity: dict[str, object] = {
        "id": "urn:ngsi-ld:Streetlight:1", "type": [V + "Streetlight"],
        "scope": ["/FR/01/240100883/01004"],
        V + "location": [{"type": "GeoProperty",
                          "value": {"type": "Point", "coordinates": [5.36, 45.95]}}],
        V + "powerState": [{"type": "Property", "value": "on",
                            "observedAt": "2026-11-26T11:50:00.000Z"}],
    }
    for name, instance in attrs.items():
        entity[V + name] = [instance]
    return entity


def test_a_working_light_is_ok_and_placed_in_its_commune() -> None:
    item = summarize(light(), compact, NOW, DAY)
    assert (item.type, item.domain, item.status, item.reason) == ("Streetlight", "lighting",
                                                                  "ok", "")
    assert (item.place.departement, item.place.epci, item.place.commune) == (
        "01", "240100883", "01004")
    assert (item.lon, item.lat) == (5.36, 45.95)
    assert item.last_seen == "2026-11-26T11:50:00.000Z"
    assert [v.name for v in item.values] == ["powerState"]


def test_a_defective_lamp_is_an_alarm_with_its_reason() -> None:
    item = summarize(light(status={"type": "Property", "value": "defectiveLamp"}), compact,
                     NOW, DAY)
    assert item.status == "alarm"
    assert item.reason == "status = defectiveLamp"


def test_maintenance_wins_over_silence() -> None:
    old = light(status={"type": "Property", "value": "underMaintenance"})
    old[V + "powerState"] = [{"type": "Property", "value": "off",
                              "observedAt": "2026-11-20T00:00:00.000Z"}]
    assert summarize(old, compact, NOW, DAY).status == "maintenance"


def test_silence_beyond_the_threshold_is_offline_but_not_before() -> None:
    entity = light()
    entity[V + "powerState"] = [{"type": "Property", "value": "on",
                                 "observedAt": "2026-11-25T11:00:00.000Z"}]
    assert summarize(entity, compact, NOW, DAY).status == "offline"
    assert summarize(entity, compact, NOW, dt.timedelta(hours=30)).status == "ok"


def test_a_bin_above_its_threshold_is_an_alarm() -> None:
    def bin_(level: float) -> dict[str, object]:
        return {"id": "urn:b", "type": [V + "WasteContainer"],
                V + "fillingLevel": [{"type": "Property", "value": level,
                                      "observedAt": "2026-11-26T11:00:00.000Z"}],
                V + "binFullnessThreshold": [{"type": "Property", "value": 80}]}

    assert summarize(bin_(0.85), compact, NOW, DAY).status == "alarm"
    assert summarize(bin_(0.5), compact, NOW, DAY).status == "ok"


def test_a_leak_flag_raises_an_alarm() -> None:
    meter = {"id": "urn:w", "type": [V + "WaterConsumptionObserved"],
             V + "leakDetected": [{"type": "Property", "value": True}]}
    item = summarize(meter, compact, NOW, DAY)
    assert (item.domain, item.status) == ("water", "alarm")


def test_tallies_and_operating_rate() -> None:
    items = [summarize(light(), compact, NOW, DAY),
             summarize(light(status={"type": "Property", "value": "faulty"}), compact, NOW, DAY),
             summarize({"id": "urn:x", "type": [V + "Mystery"]}, compact, NOW, DAY)]
    total = tally(items)
    assert (total.total, total.ok, total.alarm) == (3, 2, 1)
    assert total.operating_rate == 2 / 3
    assert list(by_domain(items)) == ["lighting", "other"]
    assert tally([]).operating_rate is None


def test_place_takes_the_deepest_territorial_scope() -> None:
    assert place_of(["/FR/01", "/FR/01/240100883/01004", "/other/x/y/z/w"]).commune == "01004"
    assert place_of(["/FR/01/240100883"]).commune is None
    assert place_of([]).departement is None
    assert local_name("https://smartdatamodels.org/dataModel.Parking/ParkingSpot") == "ParkingSpot"
    assert local_name("urn:ngsi-ld:Thing") == "Thing"


def test_a_camera_device_is_video_equipment() -> None:
    import datetime as dt

    from bocage.web.equipment import is_equipment, summarize

    base = "https://smartdatamodels.org/dataModel.Device/"
    camera = {"id": "urn:ngsi-ld:Device:cam", "type": [base + "Device"],
              base + "category": [{"type": "Property", "value": ["multimedia"]}]}
    sensor = {"id": "urn:ngsi-ld:Device:s", "type": [base + "Device"],
              base + "category": [{"type": "Property", "value": ["sensor"]}]}
    assert is_equipment(camera) and not is_equipment(sensor)
    item = summarize(camera, lambda iri: iri.rsplit("/", 1)[-1], dt.datetime.now(dt.UTC),
                     dt.timedelta(hours=24))
    assert (item.type, item.domain) == ("Camera", "video")
