"""The device model: which codec, which fPorts, which quantities go where.

The same shape comes from a built-in ``manifest.toml`` or from a ``DeviceModel``
entity created through the admin API, so it is parsed here, once, strictly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from bocage.domain.errors import BadRequestData

ASSET: Final = "asset"
DEVICE: Final = "device"
#: codec id meaning "use the object the network server decoded"
NETWORK_DECODED: Final = "network-server"


@dataclass(frozen=True, slots=True)
class Quantity:
    """One decoded value: where it lands, in which unit, within which physical range."""

    #: key in the decoder's output
    key: str
    #: attribute of the target entity (a Smart Data Model term)
    attribute: str
    #: UN/CEFACT common code of the attribute's value (None: a state, no unit)
    unit: str | None = None
    #: physical range of the decoder's value; outside it the reading is refused
    minimum: float | None = None
    maximum: float | None = None
    #: factor from the decoder's unit to the attribute's (percent -> ratio: 0.01)
    scale: float = 1.0
    #: ``asset`` (the equipment entity) or ``device`` (the Device entity)
    target: str = ASSET

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"key": self.key, "attribute": self.attribute}
        for name, value in (("unit", self.unit), ("min", self.minimum),
                            ("max", self.maximum)):
            if value is not None:
                out[name] = value
        if self.scale != 1.0:
            out["scale"] = self.scale
        if self.target != ASSET:
            out["target"] = self.target
        return out


@dataclass(frozen=True, slots=True)
class ModelSpec:
    id: str
    vendor: str
    model: str
    codec: str
    target_type: str
    f_ports: tuple[int, ...] = ()
    quantities: tuple[Quantity, ...] = ()
    description: str = ""
    #: configuration defaults handed to the decoder (a device may override them)
    defaults: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "vendor": self.vendor, "model": self.model, "codec": self.codec,
            "targetType": self.target_type, "fPorts": list(self.f_ports),
            "description": self.description, "defaults": self.defaults,
            "quantities": [q.to_json() for q in self.quantities],
        }


def spec_from_json(data: object) -> ModelSpec:
    """A model from its JSON (API) or TOML (manifest) form; BadRequestData when wrong."""
    if not isinstance(data, dict):
        raise BadRequestData("a device model must be a JSON object")
    ident = _text(data, "id")
    if not all(c.isalnum() or c in "-_." for c in ident):
        raise BadRequestData(f"device model id {ident!r} may hold letters, digits, - _ . only")
    ports = data.get("fPorts", [])
    if not isinstance(ports, list) or not all(
            isinstance(p, int) and not isinstance(p, bool) and 0 <= p <= 255 for p in ports):
        raise BadRequestData("fPorts must be a list of integers in [0, 255]")
    raw_q = data.get("quantities", [])
    if not isinstance(raw_q, list) or not raw_q:
        raise BadRequestData("quantities must be a non-empty list")
    defaults = data.get("defaults", {})
    if not isinstance(defaults, dict):
        raise BadRequestData("defaults must be a JSON object")
    return ModelSpec(
        id=ident, vendor=_text(data, "vendor"), model=_text(data, "model"),
        codec=_text(data, "codec"), target_type=_text(data, "targetType"),
        f_ports=tuple(ports), quantities=tuple(_quantity(q) for q in raw_q),
        description=str(data.get("description", "")), defaults=defaults,
    )


def _quantity(q: object) -> Quantity:
    if not isinstance(q, dict):
        raise BadRequestData("each quantity must be a JSON object")
    target = q.get("target", ASSET)
    if target not in (ASSET, DEVICE):
        raise BadRequestData(f"quantity target must be {ASSET!r} or {DEVICE!r}")
    unit = q.get("unit")
    if unit is not None and (not isinstance(unit, str) or not unit):
        raise BadRequestData("quantity unit must be a UN/CEFACT code string")
    scale = _num(q, "scale")
    return Quantity(key=_text(q, "key"), attribute=_text(q, "attribute"), unit=unit,
                    minimum=_num(q, "min"), maximum=_num(q, "max"),
                    scale=1.0 if scale is None else scale, target=target)


def _text(d: dict[str, Any], key: str) -> str:
    value = d.get(key)
    if not isinstance(value, str) or not value.strip():
        raise BadRequestData(f"device model field {key!r} must be a non-empty string")
    return value


def _num(d: dict[str, Any], key: str) -> float | None:
    value = d.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadRequestData(f"quantity field {key!r} must be a number")
    return float(value)
