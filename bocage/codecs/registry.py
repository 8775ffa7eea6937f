"""The codec registry: codec id -> a pure decoder, and for built-ins its encoder.

A built-in codec is a folder of ``bocage/codecs`` holding ``manifest.toml``,
``decoder.py`` (``decode``) and ``encoder.py`` (``encode``, the exact inverse of
``decode`` within the format's resolution, used by the simulator and the tests).

Other codecs -- JavaScript codecs kept in the catalogue -- are found by the
registry's optional resolver (``CodecRegistry(codecs, resolve)``).
"""

from __future__ import annotations

import importlib
import importlib.util
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bocage.codecs.model import ModelSpec, spec_from_json

#: decode(payload, fPort, configuration) -> decoded values; raises CodecError
Decoder = Callable[[bytes, int, Mapping[str, Any]], dict[str, Any]]
#: encode(values) -> (fPort, payload); raises EncodeError
Encoder = Callable[[Mapping[str, Any]], tuple[int, bytes]]
#: encode_downlink(data) -> (fPort, payload) of an order to the device; raises EncodeError
DownlinkEncoder = Callable[[Mapping[str, Any]], tuple[int, bytes]]
#: decode_downlink(payload, fPort) -> the order; raises CodecError
DownlinkDecoder = Callable[[bytes, int], dict[str, Any]]
#: the same, also given the network server's reception time (ISO UTC), for codecs that
#: read it (JavaScript ``decodeUplink`` gets it as ``recvTime``)
TimedDecoder = Callable[[bytes, int, Mapping[str, Any], str], dict[str, Any]]
_HERE = Path(__file__).parent


class CodecError(Exception):
    """The payload does not follow the codec's format (the detail says how)."""


class EncodeError(ValueError):
    """Values the codec's frame cannot carry (missing, wrong type, outside the field)."""


class CodecTimeout(CodecError):
    """The codec ran past its time limit and was stopped."""


@dataclass(frozen=True, slots=True)
class Codec:
    id: str
    decode: Decoder
    #: the built-in device model shipped with the codec (None: a JavaScript codec)
    model: ModelSpec | None = None
    folder: Path | None = None
    #: the inverse of ``decode`` (None: the codec cannot encode)
    encoder: Encoder | None = None
    #: preferred over ``decode`` when set: also receives the reception time
    decode_at: TimedDecoder | None = None
    #: orders to the device (``downlink.py`` of a built-in folder; None: it takes none)
    encode_downlink: DownlinkEncoder | None = None
    decode_downlink: DownlinkDecoder | None = None

    def encode(self, values: Mapping[str, Any]) -> tuple[int, bytes]:
        """(fPort, payload) a device of this model would send for ``values``."""
        if self.encoder is None:
            raise EncodeError(f"codec {self.id} has no encoder")
        return self.encoder(values)


class CodecRegistry:
    """Built-in codecs by id; ``resolve`` finds the others (JavaScript codecs).

    Iterating yields the built-ins only (those that ship a device model)."""

    def __init__(self, codecs: Mapping[str, Codec],
                 resolve: Callable[[str], Codec | None] | None = None) -> None:
        self._codecs = dict(codecs)
        self._resolve = resolve

    def get(self, codec_id: str) -> Codec | None:
        codec = self._codecs.get(codec_id)
        if codec is None and self._resolve is not None:
            return self._resolve(codec_id)
        return codec

    def with_resolver(self, resolve: Callable[[str], Codec | None]) -> CodecRegistry:
        return CodecRegistry(self._codecs, resolve)

    def add(self, codec: Codec) -> None:
        """Install one more codec (a codec imported at run time); ids are unique."""
        if codec.id in self._codecs:
            raise ValueError(f"codec {codec.id!r} is already installed")
        self._codecs[codec.id] = codec

    def __iter__(self) -> Iterator[Codec]:
        return iter(sorted(self._codecs.values(), key=lambda c: c.id))

    def __len__(self) -> int:
        return len(self._codecs)


def load_folder(folder: Path, module: str) -> Codec:
    """The codec in ``folder``; ``module`` is its decoder's module (``...decoder``)."""
    with open(folder / "manifest.toml", "rb") as fh:
        manifest = tomllib.load(fh)
    spec = spec_from_json(manifest)
    decode = getattr(importlib.import_module(module), "decode")  # noqa: B009
    encoder: Encoder | None = None
    encoder_module = module.rsplit(".", 1)[0] + ".encoder"
    if (folder / "encoder.py").is_file() and importlib.util.find_spec(encoder_module):
        encoder = getattr(importlib.import_module(encoder_module), "encode")  # noqa: B009
    down: Any = None
    downlink_module = module.rsplit(".", 1)[0] + ".downlink"
    if (folder / "downlink.py").is_file() and importlib.util.find_spec(downlink_module):
        down = importlib.import_module(downlink_module)
    return Codec(id=spec.codec, decode=decode, model=spec, folder=folder, encoder=encoder,
                 encode_downlink=getattr(down, "encode_downlink", None),
                 decode_downlink=getattr(down, "decode_downlink", None))


def builtin_folders() -> list[Path]:
    return sorted(p.parent for p in _HERE.glob("*/manifest.toml"))


_BUILTIN: CodecRegistry | None = None


def builtin_registry() -> CodecRegistry:
    """Every folder of ``bocage/codecs`` that holds a manifest."""
    codecs = [load_folder(f, f"bocage.codecs.{f.name}.decoder") for f in builtin_folders()]
    return CodecRegistry({c.id: c for c in codecs})


def encoder_for(codec_id: str) -> Encoder:
    """The encoder of a built-in codec (``bocage-sl1``...); KeyError when there is none.

    ``encoder_for("bocage-wm1")({"index": 12.5, "flow": 3, "leak": False,
    "tamper": False, "battery": 97})`` -> ``(2, b"...")``: the uplink a real
    device would send, for the simulator and for tests.
    """
    global _BUILTIN
    if _BUILTIN is None:
        _BUILTIN = builtin_registry()
    codec = _BUILTIN.get(codec_id)
    if codec is None or codec.encoder is None:
        raise KeyError(f"no built-in encoder for codec {codec_id!r}")
    return codec.encoder
