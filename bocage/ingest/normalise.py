"""Decoded values -> Smart Data Model attributes with units. Pure.

The decoder speaks the model's canonical units; here each manifest quantity is
range-checked (a reading outside physical bounds is refused, not stored: one
bad frame must not draw a 4 GW spike on an official's dashboard), scaled to the
attribute's unit and stamped with the network server's time.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from bocage.codecs.model import DEVICE, ModelSpec


class OutOfRange(ValueError):
    """A decoded value outside the physical range its quantity allows."""


Attributes = dict[str, dict[str, Any]]


def normalise(values: Mapping[str, Any], model: ModelSpec,
              observed_at: str) -> tuple[Attributes, Attributes]:
    """(equipment attributes, device attributes) as NGSI-LD normalized members."""
    asset: Attributes = {}
    device: Attributes = {}
    for q in model.quantities:
        raw = values.get(q.key)
        if raw is None:
            continue  # frames may carry a subset of the quantities
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            if not math.isfinite(raw) or (q.minimum is not None and raw < q.minimum) or (
                    q.maximum is not None and raw > q.maximum):
                raise OutOfRange(f"{q.key} = {raw} is outside [{q.minimum}, {q.maximum}]")
            value: Any = raw if q.scale == 1.0 else round(raw * q.scale, 9)
        else:
            value = raw
        attr: dict[str, Any] = {"type": "Property", "value": value, "observedAt": observed_at}
        if q.unit:
            attr["unitCode"] = q.unit
        (device if q.target == DEVICE else asset)[q.attribute] = attr
    return asset, device
