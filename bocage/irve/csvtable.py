"""A CSV file checked against a table schema, row by row, with line numbers. Pure."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

from bocage.irve.tableschema import TableSchema, check_row


@dataclass(frozen=True, slots=True)
class Problem:
    """What is wrong, where: ``source`` (static, dynamic...), ``line`` (1 = header; 0 = file)."""

    source: str
    line: int
    message: str

    def __str__(self) -> str:
        where = f"{self.source}, line {self.line}" if self.line else self.source
        return f"{where}: {self.message}"


@dataclass(frozen=True, slots=True)
class Row:
    line: int
    values: dict[str, Any]


def decode_text(data: bytes, source: str) -> tuple[str, list[Problem]]:
    """UTF-8 (a BOM is dropped), as the IRVE schema requires."""
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError as exc:
        return "", [Problem(source, 0, f"not UTF-8 text (byte {exc.start})")]


def read_table(text: str, schema: TableSchema, source: str) -> tuple[list[Row], list[Problem]]:
    """Every row of ``text`` checked against ``schema``; the problems of all rows."""
    problems: list[Problem] = []
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        return [], [Problem(source, 0, "the file is empty")]
    except csv.Error as exc:
        return [], [Problem(source, 1, f"not CSV: {exc}")]
    missing = [n for n in schema.names if n not in header]
    if missing:
        problems.append(Problem(source, 1, "missing column(s): " + ", ".join(missing)))
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        problems.append(Problem(source, 1, "repeated column(s): " + ", ".join(dupes)))
    if problems:
        return [], problems
    rows: list[Row] = []
    line = reader.line_num + 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.append(Problem(source, line, f"not CSV: {exc}"))
            break
        if cells and any(c.strip() for c in cells):
            if len(cells) != len(header):
                problems.append(Problem(source, line, f"{len(cells)} cells, the header has "
                                                      f"{len(header)}"))
            else:
                values, errors = check_row(schema, dict(zip(header, cells, strict=True)))
                problems.extend(Problem(source, line, e) for e in errors)
                if not errors:
                    rows.append(Row(line, values))
        line = reader.line_num + 1
    return rows, problems
