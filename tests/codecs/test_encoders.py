"""Every built-in codec has an encoder that is the decoder's exact inverse.

Three properties, for every model: the examples encode to their bytes; any
payload the decoder accepts comes back byte for byte from ``encode(decode(p))``;
any values within the format's fields survive ``decode(encode(v))`` within half
a resolution step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bocage.codecs.registry import (
    Codec,
    CodecError,
    EncodeError,
    builtin_folders,
    builtin_registry,
    encoder_for,
)

REGISTRY = builtin_registry()
CODECS = list(REGISTRY)


@dataclass(frozen=True)
class Num:
    lo: float
    hi: float
    step: float = 1.0


@dataclass(frozen=True)
class Choice:
    options: tuple[Any, ...]


@dataclass(frozen=True)
class Subset:
    """A list of distinct options, in the options' order (a missing list is empty)."""

    options: tuple[Any, ...]


Field = Num | Choice | Subset
BOOL = Choice((False, True))
PCT = Num(0, 100)
U8 = Num(0, 255)
PV_STATUS = (
    "00-On sector", "01-Power failure / On battery", "02-Loss of communication",
    "03-Battery fault", "04-System shutdown", "05-Tension dip", "06-Overvoltage",
    "07-Voltage drop", "08-Voltage increase", "09-Line noise", "10-Frequency variation",
    "11-Transient distortion", "12-Harmonic distortion",
)

#: the values each model's frame carries: what its encoder accepts
FIELDS: dict[str, dict[str, Field]] = {
    "bocage-sl1": {"powerState": Choice(("on", "off")),
                   "lampStatus": Choice(("ok", "defectiveLamp")),
                   "dimmingLevel": U8, "power": Num(0, 6553.5, 0.1),
                   "energy": Num(0, 4294967.295, 0.001)},
    "bocage-wm1": {"index": Num(0, 4294967.295, 0.001), "flow": Num(0, 65535),
                   "leak": BOOL, "tamper": BOOL, "battery": U8},
    "bocage-us1": {"distance": Num(0, 65.534, 0.001), "temperature": Num(-128, 127),
                   "battery": U8},
    "bocage-ce1": {"co2": Num(0, 65535), "temperature": Num(-327.68, 327.67, 0.01),
                   "humidity": U8, "battery": U8},
    "bocage-ps1": {"status": Choice(("free", "occupied")), "battery": PCT},
    "bocage-aq1": {"pm25": Num(0, 6553.4, 0.1), "pm10": Num(0, 6553.4, 0.1),
                   "no2": Num(0, 65534), "temperature": Num(-327.68, 327.67, 0.01),
                   "humidity": U8, "battery": U8},
    "bocage-wl1": {"measuredDistance": Num(0, 65.534, 0.001), "battery": U8},
    "bocage-em1": {"phaseType": Choice(("singlePhase", "threePhase")),
                   "energy": Num(0, 4294967.295, 0.001), "power": Num(0, 2**32 - 1)},
    "bocage-gm1": {"index": Num(0, 4294967.295, 0.001), "flow": Num(0, 65.535, 0.001),
                   "tamper": BOOL, "battery": U8},
    "bocage-hm1": {"energy": Num(0, 2**32 - 1), "power": Num(0, 2**32 - 1),
                   "flowTemperature": Num(-327.68, 327.67, 0.01),
                   "returnTemperature": Num(-327.68, 327.67, 0.01), "battery": U8},
    "bocage-pv1": {"inverterStatus": Subset(PV_STATUS), "power": Num(0, 2**32 - 1),
                   "current": Num(0, 655.35, 0.01), "energy": Num(0, 4294967.295, 0.001),
                   "temperature": Num(-128, 127)},
    "bocage-pc1": {"occupancy": Num(0, 65535), "entries": Num(0, 65535),
                   "exits": Num(0, 65535), "battery": U8},
    "bocage-vc1": {"state": Choice(("ok", "videoLoss", "recordingFault", "storageFull",
                                    "tampered", "onBattery")),
                   "battery": U8, "uptime": Num(0, 65535)},
}


def _strategy(f: Field) -> st.SearchStrategy[Any]:
    if isinstance(f, Subset):
        return st.sets(st.sampled_from(f.options)).map(
            lambda chosen: [o for o in f.options if o in chosen])
    if isinstance(f, Choice):
        return st.sampled_from(f.options)
    if f.step == 1.0:
        return st.integers(int(f.lo), int(f.hi))
    return st.floats(f.lo, f.hi, allow_nan=False)


def _values(codec_id: str) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({k: _strategy(f) for k, f in FIELDS[codec_id].items()})


def _examples(codec: Codec) -> list[dict[str, Any]]:
    return list(orjson.loads((codec.folder / "examples.json").read_bytes()))


def test_every_builtin_codec_has_an_encoder_and_fields_here() -> None:
    assert len(CODECS) == len(builtin_folders())
    for codec in CODECS:
        assert (codec.folder / "encoder.py").is_file(), codec.id
        assert encoder_for(codec.id) is codec.encoder
        assert codec.id in FIELDS, f"add {codec.id}'s fields to FIELDS"


def test_encoder_for_an_unknown_codec() -> None:
    with pytest.raises(KeyError, match="no built-in encoder"):
        encoder_for("nope")


@pytest.mark.parametrize("codec", CODECS, ids=lambda c: c.id)
def test_examples_encode_to_their_bytes(codec: Codec) -> None:
    done = 0
    for ex in _examples(codec):
        if "output" in ex:
            values = {**ex["output"], **ex.get("config", {})}
            assert codec.encode(values) == (ex["fPort"], bytes.fromhex(
                ex["bytes"].replace(" ", ""))), ex["description"]
            done += 1
    assert done


@pytest.mark.parametrize("codec", CODECS, ids=lambda c: c.id)
@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_encode_is_the_inverse_of_decode_on_every_accepted_payload(
        codec: Codec, data: st.DataObject) -> None:
    ex = next(e for e in _examples(codec) if "output" in e)
    # each byte: the example's or any (a fully random frame rarely has valid flags)
    payload = bytes(data.draw(st.one_of(st.just(b), st.integers(0, 255)))
                    for b in bytes.fromhex(ex["bytes"].replace(" ", "")))
    config = {**codec.model.defaults, **ex.get("config", {})}
    try:
        values = codec.decode(payload, ex["fPort"], config)
    except CodecError:
        assume(False)
        return
    assert codec.encode(values) == (ex["fPort"], payload)


@pytest.mark.parametrize("codec", CODECS, ids=lambda c: c.id)
@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_decode_of_encode_gives_the_values_back_within_resolution(
        codec: Codec, data: st.DataObject) -> None:
    values = data.draw(_values(codec.id))
    port, payload = codec.encode(values)
    assert port in codec.model.f_ports
    decoded = codec.decode(payload, port, codec.model.defaults)
    for key, f in FIELDS[codec.id].items():
        if isinstance(f, Num):
            assert math.isclose(decoded[key], values[key], abs_tol=f.step / 2 + 1e-9), key
        else:
            assert decoded[key] == values[key], key


@pytest.mark.parametrize("codec", CODECS, ids=lambda c: c.id)
def test_values_the_frame_cannot_carry_are_refused(codec: Codec) -> None:
    good = {k: (f.options[0] if isinstance(f, Choice) else list(f.options[:1])
                if isinstance(f, Subset) else f.lo)
            for k, f in FIELDS[codec.id].items()}
    codec.encode(good)
    for key, f in FIELDS[codec.id].items():
        # a missing flag means false, a missing list empty; a missing anything else is
        # refused
        missing = {**good, key: "yes"} if f is BOOL or isinstance(f, Subset) else {
            k: v for k, v in good.items() if k != key}
        with pytest.raises(EncodeError, match=key):
            codec.encode(missing)
        bad: Any = ("nope" if isinstance(f, Choice) else ["nope"] if isinstance(f, Subset)
                    else f.hi + f.step)
        with pytest.raises(EncodeError, match=key):
            codec.encode({**good, key: bad})


def test_the_bin_encoder_turns_a_filling_level_back_into_a_distance() -> None:
    codec = REGISTRY.get("bocage-us1")
    assert codec is not None
    port, payload = codec.encode({"fillingLevel": 0.5, "temperature": 18, "battery": 90,
                                  "depth": 1.2, "offset": 0.05})
    assert codec.decode(payload, port, {"depth": 1.2, "offset": 0.05})["fillingLevel"] == 0.5


def test_the_water_level_encoder_turns_a_level_back_into_a_distance() -> None:
    codec = REGISTRY.get("bocage-wl1")
    assert codec is not None
    port, payload = codec.encode({"currentLevel": 2.7, "referenceLevel": 4.2, "battery": 77})
    out = codec.decode(payload, port, {"referenceLevel": 4.2})
    assert (out["measuredDistance"], out["currentLevel"]) == (1.5, 2.7)
