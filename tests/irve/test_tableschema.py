"""The table-schema checker on its own (pure), and against the bundled IRVE schemas."""

from __future__ import annotations

import datetime as dt

import pytest

from bocage.irve.csvtable import read_table
from bocage.irve.importer import schema
from bocage.irve.tableschema import Field, TableSchema, check_cell, check_row


@pytest.mark.parametrize("field,cell,value", [
    (Field("n", "integer", minimum=0), "3", 3),
    (Field("p", "number"), "22.5", 22.5),
    (Field("b", "boolean"), "TRUE", True),
    (Field("b", "boolean"), "0", False),
    (Field("d", "date", "%Y-%m-%d"), "2024-01-16", dt.date(2024, 1, 16)),
    (Field("t", "datetime"), "2022-10-18T12:35:49+0000",
     dt.datetime(2022, 10, 18, 12, 35, 49, tzinfo=dt.UTC)),
    (Field("g", "geopoint", "array"), "[7.487105,48.345345]", (7.487105, 48.345345)),
    (Field("e", "string", "email"), "a@b.fr", "a@b.fr"),
    (Field("s", enum=("Voirie", "Parking public")), "Voirie", "Voirie"),
    (Field("h", pattern=r"(.*?)((\d{1,2}:\d{2})-(\d{1,2}:\d{2})|24/7)"),
     "Mo-Fr 08:00-12:00,Th 08:00-18:00", "Mo-Fr 08:00-12:00,Th 08:00-18:00"),
])
def test_cells_that_pass(field: Field, cell: str, value: object) -> None:
    assert check_cell(field, cell) == value


@pytest.mark.parametrize("field,cell,message", [
    (Field("n", "integer", minimum=0), "-1", "below the minimum 0"),
    (Field("n", "integer"), "2.5", "not an integer"),
    (Field("p", "number"), "nan", "not a finite number"),
    (Field("b", "boolean"), "oui", "not a boolean"),
    (Field("d", "date", "%Y-%m-%d"), "16/01/2024", "not a date"),
    (Field("t", "datetime"), "hier", "not an ISO 8601"),
    (Field("g", "geopoint", "array"), "7.48,48.3", "not a point"),
    (Field("g", "geopoint", "array"), "[7.48]", "not a point"),
    (Field("g", "geopoint", "array"), "[48.3,97.1]", "WGS84"),
    (Field("e", "string", "email"), "contact", "not an e-mail"),
    (Field("s", enum=("Voirie",)), "voirie", "not one of"),
    (Field("i", pattern="^[A-Z]{2}[A-Z0-9]{4,33}$"), "FRA68 P1", "does not match"),
])
def test_cells_that_fail(field: Field, cell: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_cell(field, cell)


def test_a_row_lists_every_problem_and_missing_optional_cells_are_none() -> None:
    table = TableSchema("t", (Field("a", "integer", required=True), Field("b", "boolean"),
                              Field("c", required=True)))
    values, problems = check_row(table, {"a": "x", "b": "", "c": ""})
    assert problems == ["a: 'x' is not an integer", "c is required"]
    assert values["b"] is None


def test_the_bundled_schemas() -> None:
    static, dynamic = schema("statique"), schema("dynamique")
    assert len(static.names) == 40 and static.names[0] == "nom_amenageur"
    assert dynamic.names[:4] == ("id_pdc_itinerance", "etat_pdc", "occupation_pdc",
                                 "horodatage")
    etat = next(f for f in dynamic.fields if f.name == "etat_pdc")
    assert etat.required and etat.enum == ("en_service", "hors_service", "inconnu")


def test_rows_and_lines_with_quoted_newlines() -> None:
    table = TableSchema("t", (Field("a"), Field("n", "integer")))
    rows, problems = read_table('a,n\n"two\nlines",1\nx,y\n\nz,3,4\n', table, "f")
    assert [(r.line, r.values) for r in rows] == [(2, {"a": "two\nlines", "n": 1})]
    assert [(p.line, p.message) for p in problems] == [
        (4, "n: 'y' is not an integer"), (6, "3 cells, the header has 2")]
