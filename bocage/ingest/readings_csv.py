"""The readings CSV (``bocage import-readings``): rows -> one record per device and time. Pure.

Format (UTF-8, header required, comma or semicolon separated)::

    devEui,time,key,value
    70B3D57ED0001A2B,2026-11-02T07:30:00+01:00,index,1523.456
    70B3D57ED0001A2B,2026-11-02T07:30:00+01:00,battery,97

``devEui`` names a device of the catalogue (16 hex digits); ``time`` is ISO 8601
(no offset means UTC) and becomes ``observedAt``; ``key`` is a quantity of the
device's model, by its key (``index``) or its attribute (``waterConsumption``);
``value`` is a number (``12.5``, or ``12,5`` in a semicolon file), ``true`` /
``false``, or text. The rows of one device at one time make one record, which the
ingestion pipeline normalises like a decoded uplink (ranges, units, scaling).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from typing import Any, Final

from bocage.domain.errors import BadRequestData
from bocage.domain.timefmt import normalise_datetime
from bocage.ingest.record import UP, Uplink

SOURCE: Final = "csv"
COLUMNS: Final = ("devEui", "time", "key", "value")
_EUI = re.compile(r"^[0-9A-Fa-f]{16}$")
_INT = re.compile(r"^[+-]?\d+$")
_FLOAT = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


@dataclass(frozen=True, slots=True)
class LineError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


@dataclass(frozen=True, slots=True)
class Reading:
    """One record to process, and the file lines it came from."""

    record: Uplink
    lines: tuple[int, ...]


def parse_readings(data: bytes, name: str = "") -> tuple[list[Reading], list[LineError]]:
    """(readings, errors): every line is checked; a file with errors must not be applied."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return [], [LineError(0, f"not UTF-8 text (byte {exc.start})")]
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        return [], [LineError(0, "the file is empty")]
    except csv.Error as exc:
        return [], [LineError(1, f"not CSV: {exc}")]
    if sorted(header) != sorted(COLUMNS):
        return [], [LineError(1, f"the header must be {','.join(COLUMNS)} (any order), "
                                 f"got {','.join(header)}")]
    errors: list[LineError] = []
    #: (devEui, time) -> key -> (value, line)
    groups: dict[tuple[str, str], dict[str, tuple[Any, int]]] = {}
    line = reader.line_num + 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            errors.append(LineError(line, f"not CSV: {exc}"))
            break
        if any(c.strip() for c in cells):
            try:
                eui, at, key, value = _row(dict(zip(header, cells, strict=False)), len(cells),
                                           delimiter)
                values = groups.setdefault((eui, at), {})
                if key in values and values[key][0] != value:
                    raise ValueError(f"{key} of {eui} at {at} is already given, differently, "
                                     f"on line {values[key][1]}")
                values.setdefault(key, (value, line))
            except ValueError as exc:
                errors.append(LineError(line, str(exc)))
        line = reader.line_num + 1
    if not groups and not errors:
        errors.append(LineError(0, "no readings in the file"))
    readings = []
    for (eui, at), values in groups.items():
        lines = tuple(sorted(line for _, line in values.values()))
        readings.append(Reading(
            Uplink(source=SOURCE, event=UP, dev_eui=eui, application=name,
                   dedup_key=f"{SOURCE}:{eui}:{at}", received_at=at,
                   decoded={k: v for k, (v, _) in values.items()},
                   raw={"file": name, "lines": list(lines)}),
            lines))
    return readings, errors


def _row(row: dict[str, str], cells: int, delimiter: str) -> tuple[str, str, str, Any]:
    if cells != len(COLUMNS):
        raise ValueError(f"{cells} cells, expected {len(COLUMNS)} ({','.join(COLUMNS)})")
    eui = row["devEui"].strip()
    if not _EUI.match(eui):
        raise ValueError(f"devEui must be 16 hex digits, got {eui!r}")
    try:
        at = normalise_datetime(row["time"].strip(), "time")
    except BadRequestData as exc:
        raise ValueError(exc.detail) from None
    key = row["key"].strip()
    if not key:
        raise ValueError("key is empty")
    return eui.upper(), at, key, parse_value(row["value"], decimal_comma=delimiter == ";")


def parse_value(cell: str, decimal_comma: bool = False) -> Any:
    """A number, a boolean or text; an empty cell is an error."""
    text = cell.strip()
    if not text:
        raise ValueError("value is empty")
    if text in ("true", "false"):
        return text == "true"
    number = text.replace(",", ".") if decimal_comma and text.count(",") == 1 else text
    if _INT.match(number):
        return int(number)
    if _FLOAT.match(number):
        return float(number)
    return text
