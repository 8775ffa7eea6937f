"""The codec registry: codec id -> a pure decoder (built-ins found by their folders)."""

from __future__ import annotations

import importlib
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bocage.codecs.model import ModelSpec, spec_from_json

#: decode(payload, fPort, configuration) -> decoded values; raises CodecError
Decoder = Callable[[bytes, int, Mapping[str, Any]], dict[str, Any]]
_HERE = Path(__file__).parent


class CodecError(Exception):
    """The payload does not follow the codec's format (the detail says how)."""


@dataclass(frozen=True, slots=True)
class Codec:
    id: str
    decode: Decoder
    #: the built-in device model shipped with the codec
    model: ModelSpec
    folder: Path


class CodecRegistry:
    def __init__(self, codecs: Mapping[str, Codec]) -> None:
        self._codecs = dict(codecs)

    def get(self, codec_id: str) -> Codec | None:
        return self._codecs.get(codec_id)

    def __iter__(self) -> Iterator[Codec]:
        return iter(sorted(self._codecs.values(), key=lambda c: c.id))

    def __len__(self) -> int:
        return len(self._codecs)


def load_folder(folder: Path, module: str) -> Codec:
    with open(folder / "manifest.toml", "rb") as fh:
        manifest = tomllib.load(fh)
    spec = spec_from_json(manifest)
    decode = getattr(importlib.import_module(module), "decode")  # noqa: B009
    return Codec(id=spec.codec, decode=decode, model=spec, folder=folder)


def builtin_folders() -> list[Path]:
    return sorted(p.parent for p in _HERE.glob("*/manifest.toml"))


def builtin_registry() -> CodecRegistry:
    """Every folder of ``bocage/codecs`` that holds a manifest."""
    codecs = [load_folder(f, f"bocage.codecs.{f.name}.decoder") for f in builtin_folders()]
    return CodecRegistry({c.id: c for c in codecs})
