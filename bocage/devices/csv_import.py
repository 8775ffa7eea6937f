"""Devices from a CSV file (one row per device). Pure: rows in, records or errors out.

Columns (header required; only ``devEui`` and ``model`` are mandatory):
``devEui,model,name,assetId,longitude,latitude,commune,reportingInterval``
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any

from bocage.domain.errors import BadRequestData

COLUMNS = ("devEui", "model", "name", "assetId", "longitude", "latitude", "commune",
           "reportingInterval")


def rows_to_devices(lines: Iterable[str]) -> list[tuple[int, dict[str, Any] | BadRequestData]]:
    """(line number, device JSON for ``device_from_json`` or the row's error)."""
    reader = csv.DictReader(lines)
    missing = {"devEui", "model"} - set(reader.fieldnames or ())
    if missing:
        raise BadRequestData(f"the CSV header lacks {', '.join(sorted(missing))}")
    out: list[tuple[int, dict[str, Any] | BadRequestData]] = []
    for row in reader:
        line = reader.line_num
        try:
            out.append((line, _row(row)))
        except BadRequestData as exc:
            out.append((line, exc))
    return out


def _row(row: dict[str, str | None]) -> dict[str, Any]:
    def cell(name: str) -> str:
        return (row.get(name) or "").strip()

    data: dict[str, Any] = {k: cell(k) for k in ("devEui", "model", "name", "assetId",
                                                 "commune") if cell(k)}
    lon, lat = cell("longitude"), cell("latitude")
    if lon or lat:
        try:
            data["location"] = {"longitude": float(lon), "latitude": float(lat)}
        except ValueError:
            raise BadRequestData(f"longitude/latitude must be numbers: {lon!r}, {lat!r}") from None
    if cell("reportingInterval"):
        if not cell("reportingInterval").isdigit():
            raise BadRequestData("reportingInterval must be a number of seconds")
        data["reportingInterval"] = int(cell("reportingInterval"))
    return data
