"""LOAD from old Excel files (biff, .xls), read with xlrd.

xlrd cannot write .xls files and the only .xls writer on PyPI (xlwt) is unmaintained, so the
workbook is a fixture: fixtures/sales_14o.xls, made by us with LibreOffice (`soffice --headless
--convert-to xls`) from an openpyxl workbook. Sheets: "Other" ([Z], [1]) and "Sheet1":
  Region | Amount | Day        | At               | Note
  North  | 10     | 2024-03-01 | 2024-03-01 12:30 | x
  South  | 2.5    | 2024-03-02 | 2024-03-02 06:00 |
  (an empty row)
  East   | TRUE   |            | 06:30            | y
The biff format: https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/ScriptSpecifiers/table-format.htm
Cells are converted as for ooxml files (our choices, emulator/README.md, Issue 14l).
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest.importorskip("xlrd")

from emulator.errors import ScriptError  # noqa: E402

FIXTURE = Path(__file__).parent / "fixtures" / "sales_14o.xls"


@pytest.fixture
def xls_dir(tmp_path: Path) -> Path:  # the folder the run fixture writes main.qvs to
    shutil.copy(FIXTURE, tmp_path / "Sales.xls")
    return tmp_path


def test_biff_sheet_with_embedded_labels(run, xls_dir: Path) -> None:
    """rule: biff with `table is` names the sheet; embedded labels are the first row.
    choice (as ooxml): empty cells are NULL, an empty row is skipped, dates take DateFormat,
    moments TimestampFormat, times TimeFormat, TRUE is -1."""
    runner = run("Set DateFormat='YYYY-MM-DD';\nSet TimestampFormat='YYYY-MM-DD hh:mm';\nSet TimeFormat='hh:mm';\n"
                 "T: LOAD * FROM [Sales.xls] (biff, embedded labels, table is Sheet1);\n"
                 "Let s = Peek('Amount', 0, 'T') + Peek('Amount', 1, 'T');\nLet d = Num(Peek('Day', 0, 'T'));")
    table = runner.model.tables["T"]
    assert table.fields == ["Region", "Amount", "Day", "At", "Note"]
    assert table.texts() == [["North", "10", "2024-03-01", "2024-03-01 12:30", "x"],
                             ["South", "2.5", "2024-03-02", "2024-03-02 06:00", None],
                             ["East", "-1", None, "06:30", "y"]]
    assert runner.variable_text("s") == "12.5"
    assert runner.variable_text("d") == "45352"  # 2024-03-01 as a serial number


def test_xls_name_without_format_no_labels_first_sheet(run, xls_dir: Path) -> None:
    """choice (as .xlsx): an .xls name with no format item is biff; without `table is` the first
    sheet. rule: `no labels` names the fields @1, ...; `header is 1 lines` skips a row."""
    runner = run("T: LOAD @1 as Z FROM [Sales.xls] (no labels, header is 1 lines);")
    assert runner.model.tables["T"].texts() == [["1"]]


def test_biff_errors_name_the_problem(run, xls_dir: Path) -> None:
    (xls_dir / "bad.xls").write_text("not a workbook\n", encoding="utf-8")
    with pytest.raises(ScriptError, match="not a readable Excel \\(biff\\) file"):
        run("T: LOAD * FROM [bad.xls] (biff, embedded labels);")
    with pytest.raises(ScriptError, match="No sheet 'Nope'"):
        run("T: LOAD * FROM [Sales.xls] (biff, table is Nope);")
