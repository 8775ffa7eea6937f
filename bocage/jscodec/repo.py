"""Reading a local checkout of a LoRaWAN device repository (TTN lorawan-devices layout).

::

    vendor/index.yaml                 vendors: [{id, name, ...}]
    vendor/<vendor>/index.yaml        endDevices: [<device>, ...]
    vendor/<vendor>/<device>.yaml     name, description, firmwareVersions[].profiles.<region>.codec
    vendor/<vendor>/<codec>.yaml      uplinkDecoder / downlinkEncoder / downlinkDecoder:
                                        {fileName, examples: [{description, input, output}]}
    vendor/<vendor>/<file>.js         the codec's JavaScript

Codecs are those the devices name plus every ``*-codec.yaml`` of the vendor's
folder. What cannot be read is collected as a problem (file and reason) and
the rest is still read: one broken vendor must not hide a thousand good ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bocage.jscodec.sandbox import ROLES


class RepoError(Exception):
    """The folder is not a device repository at all."""


@dataclass(frozen=True, slots=True)
class RepoCodec:
    vendor: str
    #: the codec's name in the repository (its YAML file's stem)
    name: str
    #: role -> file name
    roles: dict[str, str]
    #: file name -> JavaScript text
    files: dict[str, str]
    #: role -> examples as written
    examples: dict[str, list[dict[str, Any]]]

    @property
    def id(self) -> str:
        """Its bocage codec id: ``<vendor>.<codec>``."""
        return f"{self.vendor}.{self.name}"


@dataclass(frozen=True, slots=True)
class RepoDevice:
    vendor: str
    id: str
    name: str
    description: str
    #: codec names its firmware versions' profiles refer to, in order of appearance
    codecs: tuple[str, ...]


@dataclass(slots=True)
class RepoVendor:
    id: str
    name: str
    devices: list[RepoDevice] = field(default_factory=list)
    codecs: dict[str, RepoCodec] = field(default_factory=dict)
    #: (file, reason) for what could not be read
    problems: list[tuple[str, str]] = field(default_factory=list)


def _load(path: Path) -> Any:
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def vendor_root(path: Path) -> Path:
    """``path`` or its ``vendor/`` folder, whichever holds ``index.yaml``."""
    for candidate in (path / "vendor", path):
        if (candidate / "index.yaml").is_file():
            return candidate
    raise RepoError(f"{path} is not a device repository: no vendor/index.yaml")


def read_repo(path: Path, only: set[str] | None = None) -> list[RepoVendor]:
    """Every vendor (or those in ``only``) of the checkout at ``path``."""
    root = vendor_root(path)
    try:
        index = _load(root / "index.yaml")
    except (OSError, yaml.YAMLError) as exc:
        raise RepoError(f"{root / 'index.yaml'}: {exc}") from None
    entries = index.get("vendors") if isinstance(index, dict) else None
    if not isinstance(entries, list):
        raise RepoError(f"{root / 'index.yaml'}: no 'vendors' list")
    vendors: list[RepoVendor] = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
            continue
        vid = entry["id"]
        if only is not None and vid not in only:
            continue
        folder = root / vid
        if not (folder / "index.yaml").is_file():
            continue  # vendors listed without devices (a common case)
        vendors.append(read_vendor(folder, vid, str(entry.get("name") or vid)))
    return vendors


def read_vendor(folder: Path, vid: str, name: str) -> RepoVendor:
    vendor = RepoVendor(id=vid, name=name)
    rel = folder.parent.parent

    def problem(path: Path, reason: str) -> None:
        vendor.problems.append((str(path.relative_to(rel)), reason))

    try:
        index = _load(folder / "index.yaml") or {}
    except (OSError, yaml.YAMLError) as exc:
        problem(folder / "index.yaml", f"unreadable: {exc}")
        return vendor
    wanted: list[str] = []
    for device_id in index.get("endDevices") or []:
        path = folder / f"{device_id}.yaml"
        try:
            device = _read_device(vid, str(device_id), _load(path))
        except (OSError, yaml.YAMLError, ValueError) as exc:
            problem(path, str(exc))
            continue
        vendor.devices.append(device)
        wanted.extend(c for c in device.codecs if c not in wanted)
    wanted.extend(p.stem for p in sorted(folder.glob("*-codec.yaml")) if p.stem not in wanted)
    for codec_name in wanted:
        path = folder / f"{codec_name}.yaml"
        try:
            vendor.codecs[codec_name] = _read_codec(folder, vid, codec_name, _load(path))
        except (OSError, yaml.YAMLError, ValueError, UnicodeDecodeError) as exc:
            problem(path, str(exc))
    return vendor


def _read_device(vid: str, device_id: str, body: Any) -> RepoDevice:
    if not isinstance(body, dict):
        raise ValueError("not a YAML mapping")
    codecs: list[str] = []
    for firmware in body.get("firmwareVersions") or []:
        profiles = firmware.get("profiles") if isinstance(firmware, dict) else None
        for profile in (profiles or {}).values():
            codec = profile.get("codec") if isinstance(profile, dict) else None
            if isinstance(codec, str) and codec and codec not in codecs:
                codecs.append(codec)
    return RepoDevice(vendor=vid, id=device_id, name=str(body.get("name") or device_id),
                      description=str(body.get("description") or ""), codecs=tuple(codecs))


def _read_codec(folder: Path, vid: str, name: str, body: Any) -> RepoCodec:
    if not isinstance(body, dict):
        raise ValueError("not a YAML mapping")
    roles: dict[str, str] = {}
    files: dict[str, str] = {}
    examples: dict[str, list[dict[str, Any]]] = {}
    for role in ROLES:
        section = body.get(role)
        if section is None:
            continue
        file_name = section.get("fileName") if isinstance(section, dict) else None
        if not isinstance(file_name, str) or not file_name:
            raise ValueError(f"{role} has no fileName")
        path = (folder / file_name).resolve()
        if folder.resolve() not in path.parents:
            raise ValueError(f"{role} fileName {file_name!r} points outside the vendor folder")
        if file_name not in files:
            try:
                files[file_name] = path.read_text(encoding="utf-8")
            except FileNotFoundError:
                raise ValueError(f"{role} names {file_name}, which does not exist") from None
        roles[role] = file_name
        examples[role] = [e for e in section.get("examples") or [] if isinstance(e, dict)]
    if not roles:
        raise ValueError("names no uplinkDecoder, downlinkEncoder or downlinkDecoder")
    return RepoCodec(vendor=vid, name=name, roles=roles, files=files, examples=examples)


def example_bytes(value: Any) -> bytes:
    """An example's ``bytes``: a list of integers (or, leniently, a hex string)."""
    if isinstance(value, str):
        return bytes.fromhex(value.replace(" ", ""))
    if isinstance(value, list) and all(isinstance(b, int) and not isinstance(b, bool)
                                       and 0 <= b <= 255 for b in value):
        return bytes(value)
    raise ValueError(f"bytes must be a list of integers in [0, 255], got {value!r}")
