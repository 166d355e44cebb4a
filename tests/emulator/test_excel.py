"""LOAD from Excel files (ooxml): the workbook is made with openpyxl in tmp_path.

Format and `table is`: https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/ScriptSpecifiers/table-format.htm
`header is n lines`: https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/ScriptSpecifiers/header-is.htm
Each test says whether it follows a page's rule (rule) or our documented choice (choice,
emulator/README.md, Issue 14l).
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

openpyxl = pytest.importorskip("openpyxl")

from emulator.errors import ScriptError  # noqa: E402


def _workbook(path: Path, sheets: dict[str, list[list[object]]]) -> None:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    book.save(path)


SALES = [["Region", "Amount", "Day", "At", "Note"],
         ["North", 10, dt.datetime(2024, 3, 1), dt.datetime(2024, 3, 1, 12, 30), "x"],
         ["South", 2.5, dt.datetime(2024, 3, 2), dt.datetime(2024, 3, 2, 6, 0), None]]


def test_sheet_with_embedded_labels(run, tmp_path: Path) -> None:
    """rule: ooxml with `table is` names the sheet; embedded labels are the first row.
    choice: an empty cell is NULL; dates take DateFormat, moments TimestampFormat."""
    _workbook(tmp_path / "Sales.xlsx", {"Other": [["Z"], [1]], "Sheet1": SALES})
    runner = run("Set DateFormat='YYYY-MM-DD';\nSet TimestampFormat='YYYY-MM-DD hh:mm';\n"
                 "T: LOAD * FROM [Sales.xlsx] (ooxml, embedded labels, table is Sheet1);\n"
                 "Let s = Peek('Amount', 0, 'T') + Peek('Amount', 1, 'T');\n"
                 "Let d = Num(Peek('Day', 0, 'T'));\nLet n = If(IsNull(Peek('Note', 1, 'T')), 'null', 'value');")
    table = runner.model.tables["T"]
    assert table.fields == ["Region", "Amount", "Day", "At", "Note"]
    assert table.texts() == [["North", "10", "2024-03-01", "2024-03-01 12:30", "x"],
                             ["South", "2.5", "2024-03-02", "2024-03-02 06:00", None]]
    assert runner.variable_text("s") == "12.5"
    assert runner.variable_text("d") == "45352"  # 2024-03-01 as a serial number (days since 1899-12-30)
    assert runner.variable_text("n") == "null"


def test_no_labels_header_lines_and_lib_path(run, tmp_path: Path) -> None:
    """rule: `header is 1 lines` skips the first row; `no labels` names the fields @1, @2.
    choice: without `table is` the first sheet; a row with no value is skipped."""
    (tmp_path / "data").mkdir()
    _workbook(tmp_path / "data" / "m.xlsx", {"First": [["Report of March"], ["a", 1], [None, None], ["b", 2]],
                                            "Second": [["q"]]})
    runner = run("T: LOAD @1 as Name, @2 as N FROM [lib://Data/m.xlsx] (ooxml, no labels, header is 1 lines);",
                 libs={"Data": str(tmp_path / "data")})
    assert runner.model.tables["T"].texts() == [["a", "1"], ["b", "2"]]


def test_xlsx_name_without_format_and_times(run, tmp_path: Path) -> None:
    """choice: an .xlsx file without a format is ooxml; a time cell takes TimeFormat;
    TRUE is -1."""
    _workbook(tmp_path / "t.xlsx", {"S": [["T", "B"], [dt.time(6, 30), True]]})
    runner = run("Set TimeFormat='hh:mm';\nT: LOAD T, B, Num(B) as NB FROM t.xlsx;\n"
                 "U: LOAD T as U FROM t.xlsx (embedded labels, table is S);")
    assert runner.model.tables["T"].texts() == [["06:30", "-1", "-1"]]
    assert runner.model.tables["U"].texts() == [["06:30"]]


@pytest.mark.parametrize("spec, message", [
    ("(ooxml, embedded labels, table is Nope)", "No sheet 'Nope'"),
    ("(ooxml, explicit labels)", "Unsupported file format option: explicit labels"),
    ("(ooxml, msq)", "items of text files, not of Excel files"),  # Quotes page: quoting of text files
])
def test_bad_sheet_or_option_is_a_clear_error(run, tmp_path: Path, spec: str, message: str) -> None:
    _workbook(tmp_path / "s.xlsx", {"Sheet1": SALES})
    with pytest.raises(ScriptError, match=message) as error:
        run(f"Let a = 1;\nT: LOAD * FROM s.xlsx {spec};")
    assert error.value.line == 2


def test_not_a_workbook(run, tmp_path: Path) -> None:
    with pytest.raises(ScriptError, match="not a readable Excel"):
        run("T: LOAD * FROM x.xlsx (ooxml);", files={"x.xlsx": "not a zip"})
