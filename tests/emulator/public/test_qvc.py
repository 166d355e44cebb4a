"""QlikView Components (Qvc, LGPL-3.0, https://github.com/RobWunderlich/Qlikview-Components)
included as its README says: copy Qvc_Runtime next to the document and
``$(Include=.\\Qvc_Runtime\\Qvc.qvs);``. Set VALET_QVC_RUNTIME to a Qvc_Runtime folder to run
these tests; see README.md in this folder."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

RUNTIME = os.environ.get("VALET_QVC_RUNTIME")
pytestmark = pytest.mark.skipif(not RUNTIME or not (Path(RUNTIME) / "Qvc.qvs").is_file(),
                                reason="set VALET_QVC_RUNTIME to Qvc's Qvc_Runtime folder")

INCLUDE = "$(Include=.\\Qvc_Runtime\\Qvc.qvs);\nSET Qvc.Calendar.v.CreateSetVariables = 0;\n"


@pytest.fixture
def run_with_qvc(run, tmp_path: Path):
    shutil.copytree(RUNTIME, tmp_path / "Qvc_Runtime")
    return lambda script: run(INCLUDE + script)


def test_calendar_as_in_qvcs_own_test(run_with_qvc) -> None:
    """Tests/Test_Calendar_log.txt: "Calendar Rows: Expected 760", "Min: Expected 41828",
    "Max: Expected 42587", "ScriptErrorCount: Expected 0"."""
    runner = run_with_qvc(
        "CALL Qvc.Calendar(41828, 42587);\n"
        "Stats: LOAD Min(Date) as MinDate, Max(Date) as MaxDate RESIDENT MasterCalendar;\n")
    calendar = runner.model.tables["MasterCalendar"]
    assert len(calendar.rows) == 760
    assert runner.model.tables["Stats"].texts() == [["41828", "42587"]]
    assert runner.variable_text("ScriptErrorCount") == "0"
    # Qvc.Calendar's doc: the default table is MasterCalendar with Date, Day, Weekday, Year,
    # Month, Quarter, Year-Month and Year-Quarter fields
    for field in ("Date", "Day", "Weekday", "Year", "Month", "Quarter", "Year-Month", "Year-Quarter"):
        assert field in calendar.fields


def test_utility_functions(run_with_qvc) -> None:
    """The @syntax of Qvc.DateDiff ("the number of the past interval between the 2 passed
    dates"), Qvc.NVL ("Checks to see if the first parameter is Null and if it is it returns
    the second parameter") and Qvc.InRange."""
    runner = run_with_qvc(
        "LET vMonths = $(Qvc.DateDiff('month', MakeDate(2014,1,15), MakeDate(2014,5,2)));\n"
        "LET vDays = $(Qvc.DateDiff('day', MakeDate(2014,1,15), MakeDate(2014,2,2)));\n"
        "LET vNvl = $(Qvc.NVL(Null(), 'default'));\n"
        "LET vIn = $(Qvc.InRange(10, 1, 5));\n")
    assert [runner.variable_text(v) for v in ("vMonths", "vDays", "vNvl", "vIn")] == \
        ["4", "18", "default", "-1"]


def test_log_numbers_messages(run_with_qvc) -> None:
    """Qvc.Log's doc: a line in Qvc.LogTable, field Qvc.LogMessage, level in
    Qvc.LogMessage_Level; Test_Log_log.txt shows lines as "00001 <timestamp>; message"."""
    runner = run_with_qvc("CALL Qvc.Log('hello');\nCALL Qvc.LogWarning('careful');\n")
    rows = runner.model.tables["Qvc.LogTable"].texts()
    assert [r[0] for r in rows] == ["INFO", "WARNING"]
    assert rows[0][1].startswith("00001 ") and rows[0][1].endswith("; hello")


def test_calendar_from_field(run_with_qvc) -> None:
    """Test_Calendar_log.txt: "CalendarFromField Rows: Expected 760" for the same date range."""
    runner = run_with_qvc(
        "Orders: LOAD Date(41828 + (RecNo() - 1) * 759) as OrderDate AUTOGENERATE 2;\n"
        "CALL Qvc.CalendarFromField('OrderDate');\n")
    assert len(runner.model.tables["MasterCalendar"].rows) == 760
