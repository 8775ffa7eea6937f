"""Pure parts: the key mapping, the example comparison, reading a repository."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bocage.codecs.model import DEVICE
from bocage.jscodec.check import differs
from bocage.jscodec.mapping import BATTERY_VOLTS, HUMIDITY, TEMPERATURE, map_decoded, recognise
from bocage.jscodec.repo import RepoError, example_bytes, read_repo

REPO = Path(__file__).parent.parent / "fixtures" / "lorawan-repo"


@pytest.mark.parametrize("key", ["temperature", "Temperature", "temp", "TempC_SHT",
                                 "air_temperature", "AMBIENT-TEMPERATURE"])
def test_temperature_spellings_are_recognised(key: str) -> None:
    assert recognise(key) is TEMPERATURE


def test_unknown_and_ambiguous_keys_are_not() -> None:
    for key in ("distance", "relay1", "count", "tempo", "status"):
        assert recognise(key) is None, key
    assert recognise("RH") is HUMIDITY


def test_battery_as_percent_or_volts_from_the_samples() -> None:
    assert recognise("battery", [95, 80]).attribute == "batteryLevel"  # type: ignore[union-attr]
    assert recognise("battery", [3.6, 3.1]) is BATTERY_VOLTS
    assert recognise("battery", [3, 4]).attribute == "batteryLevel"  # type: ignore[union-attr]


def test_map_decoded_keeps_recognised_keys_and_reports_others() -> None:
    m = map_decoded([{"temp": 20.5, "hum": 40, "bat": 3.0, "mode": 2},
                     {"temp": 21.0, "batteryLevel": 50, "extra": True}])
    by_key = {q.key: q for q in m.quantities}
    assert set(by_key) == {"temp", "hum", "batteryLevel"}
    assert by_key["temp"].attribute == "temperature" and by_key["temp"].unit == "CEL"
    assert by_key["batteryLevel"].target == DEVICE and by_key["batteryLevel"].scale == 0.01
    assert m.unmapped == ("bat", "extra", "mode")


def test_two_keys_for_one_attribute_keep_the_first() -> None:
    m = map_decoded([{"temperature": 1, "temp": 2}])
    assert [q.key for q in m.quantities] == ["temp"] and m.unmapped == ("temperature",)


def test_differs() -> None:
    assert differs({"a": 22, "b": [1, 2.0]}, {"a": 22.0, "b": [1, 2]}) is None
    assert differs({"a": 1}, {"a": True}) == "a: expected 1, got True"
    assert differs({"a": {"b": 1}}, {"a": {"b": 2}}) == "a.b: expected 1, got 2"
    assert differs({"a": 1}, {}) == "a: missing"
    assert differs({}, {"z": 1}) == "z: not expected"
    assert differs([1], [1, 2], "errors") == "errors: expected 1 items, got 2"
    assert differs(0.1 + 0.2, 0.3) is None


def test_example_bytes() -> None:
    assert example_bytes([0, 255]) == b"\x00\xff"
    assert example_bytes("00 ff") == b"\x00\xff"
    for bad in ([256], [True], "zz", 3):
        with pytest.raises(ValueError):
            example_bytes(bad)


def test_read_repo() -> None:
    vendors = read_repo(REPO)
    assert [v.id for v in vendors] == ["acme", "oldco"]
    acme = vendors[0]
    assert acme.name == "Acme Field Sensors" and acme.problems == []
    assert [d.id for d in acme.devices] == ["th1", "co2-box", "relay2"]
    assert acme.devices[0].codecs == ("th1-codec",)
    th1 = acme.codecs["th1-codec"]
    assert th1.id == "acme.th1-codec"
    assert th1.roles == {"uplinkDecoder": "th1.js", "downlinkEncoder": "th1.js",
                         "downlinkDecoder": "th1.js"}
    assert list(th1.files) == ["th1.js"] and len(th1.examples["uplinkDecoder"]) == 4
    assert [v.id for v in read_repo(REPO / "vendor", {"oldco"})] == ["oldco"]


def test_read_repo_collects_problems_and_goes_on(tmp_path: Path) -> None:
    copy = tmp_path / "repo"
    shutil.copytree(REPO, copy)
    (copy / "vendor" / "acme" / "th1.js").unlink()
    (copy / "vendor" / "acme" / "relay2.yaml").write_text("name: [unclosed\n")
    (copy / "vendor" / "acme" / "evil-codec.yaml").write_text(
        "uplinkDecoder:\n  fileName: ../oldco/pulse.js\n")
    [acme] = read_repo(copy, {"acme"})
    problems = dict(acme.problems)
    assert "th1.js, which does not exist" in problems["vendor/acme/th1-codec.yaml"]
    assert "vendor/acme/relay2.yaml" in problems
    assert "outside the vendor folder" in problems["vendor/acme/evil-codec.yaml"]
    # every readable *-codec.yaml is kept, even when no readable device names it
    assert sorted(acme.codecs) == ["co2-codec", "relay-codec"]
    assert [d.id for d in acme.devices] == ["th1", "co2-box"]
    with pytest.raises(RepoError, match="not a device repository"):
        read_repo(tmp_path)
