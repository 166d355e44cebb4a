"""QLib (https://github.com/mvsenin/QLib, no licence file: not redistributable) included file by
file from a folder connection, as its QLib.qvs does (``$(Must_Include=$(QLibBasePath)/...)``).
Set VALET_QLIB_SRC to QLib's src folder to run these tests; see README.md in this folder."""
from __future__ import annotations

import datetime as dt
import io
import os
from pathlib import Path

import pytest

from emulator.runner import Runner

SRC = os.environ.get("VALET_QLIB_SRC")

# The files QLib.qvs includes, in its order, less those that cannot run offline (see
# emulator/README.md, "Real public scripts"); each only defines subs and variables.
FILES = ["CreateDataProfiling", "DropTable", "ShowNoOfRows", "ListTables", "DropFields",
         "ShowFields", "ShowTables", "FileExists", "NewerFile", "StoreQVD", "LoadQVD",
         "StoreTable", "CopyFile", "Trace", "vQlikServerURL", "QLibCleanUp", "AddMonth",
         "MonthDiff", "CapitalizeStr"]
INCLUDES = "".join(f"$(Must_Include=lib://QLib/{name}.qvs);\n" for name in FILES)
ALL_FILES = FILES + ["QLib", "GenerateColorVariables", "RunDataLoader", "Cron"]
pytestmark = pytest.mark.skipif(
    not SRC or not all((Path(SRC) / f"{name}.qvs").is_file() for name in ALL_FILES),
    reason="set VALET_QLIB_SRC to QLib's src folder")


def run(script: str, data: Path | None = None, **options) -> Runner:
    libs = {"QLib": SRC, **({"Data": str(data)} if data else {})}
    runner = Runner(out=io.StringIO(), libs=libs, **options)
    runner.run_text(INCLUDES + script)
    return runner


def traced(runner: Runner) -> list[str]:
    return runner.out.getvalue().splitlines()


def column(runner: Runner, table: str, name: str) -> list:
    t = runner.model.tables[table]
    i = t.fields.index(name)
    return [None if row[i] is None else row[i].text for row in t.rows]


def test_drop_table_drops_the_tables_that_exist() -> None:
    """README: "DropTable(pDropTable_TableNames) ... Drops tables, if they exist", names
    "delimited with comma"."""
    runner = run("A: LOAD 1 as a AutoGenerate 1;\nB: LOAD 2 as b AutoGenerate 1;\n"
                 "C: LOAD 3 as c AutoGenerate 1;\nCall DropTable('A, C, Missing');\n")
    assert list(runner.model.tables) == ["B"]


def test_month_diff() -> None:
    """MonthDiff.qvs: "Calculates diff in months between two months formatted as YYYYMM
    numbers", usage ``$(MonthDiff(202301, 202201))``."""
    runner = run("Let a = $(MonthDiff(202301, 202201));\nLet b = $(MonthDiff(202303, 202211));\n")
    assert (runner.variable_text("a"), runner.variable_text("b")) == ("12", "4")


def test_add_month() -> None:
    """AddMonth.qvs: "adds a number of months to the specified variable formatted as YYYYMM",
    usage ``Call AddMonth('sYYYYMM', -12);``."""
    runner = run("Let sYYYYMM = 202301;\nCall AddMonth('sYYYYMM', -12);\n"
                 "Let b = 202311;\nCall AddMonth('b', 3);\n")
    assert (runner.variable_text("sYYYYMM"), runner.variable_text("b")) == ("202201", "202402")


def test_capitalize_str_modes() -> None:
    """CapitalizeStr.qvs: U1W "first letter of each word to upper, rest to lower (default)",
    U1L "very first letter to upper, rest to lower", UP "all to upper", LO "all to lower";
    usage ``Let str = 'ABC  DEF ghi'; Call CapitalizeStr('str', 'U1w');``."""
    runner = run("Let str = 'ABC  DEF ghi';\nCall CapitalizeStr('str', 'U1w');\n"
                 "Let a = 'ABC  DEF ghi';\nCall CapitalizeStr('a', 'U1L');\n"
                 "Let b = 'abc Def';\nCall CapitalizeStr('b', 'UP');\n"
                 "Let c = 'abc Def';\nCall CapitalizeStr('c', 'lo');\n")
    assert [runner.variable_text(v) for v in ("str", "a", "b", "c")] == [
        "Abc Def Ghi", "Abc  def ghi", "ABC DEF", "abc def"]


def test_drop_fields() -> None:
    """README: "DropFields ... Drops fields from the table", usage
    ``Call DropFields('ZZ, AB', 'MyTable');``."""
    runner = run("MyTable: LOAD 1 as ZZ, 2 as AB, 3 as CC AutoGenerate 1;\n"
                 "Call DropFields('ZZ, AB', 'MyTable');\n")
    assert runner.model.tables["MyTable"].fields == ["CC"]
    assert "[DropFields]: Dropping field [AB] from [MyTable] table" in traced(runner)


def test_list_and_show_tables_fields_and_rows() -> None:
    """README: ListTables "lists all the existing table names and indeces via Trace",
    ShowTables "Shows table list, delimited by comma", ShowFields "Shows table field list with
    separator", ShowNoOfRows "Shows nubmer of rows in the table"."""
    runner = run("A: LOAD 1 as a, 2 as b AutoGenerate 1;\nB: LOAD 1 as c AutoGenerate 2;\n"
                 "Call ListTables;\nCall ShowTables;\nCall ShowFields('A');\n"
                 "Call ShowNoOfRows('B');\nCall ShowNoOfRows('Missing');\n")
    lines = traced(runner)
    assert lines[:2] == ["Table A (index 0)", "Table B (index 1)"]
    assert "[ShowTables]: A, B" in lines
    assert "\n".join(lines[3:6]) == "[ShowFields]: Found field list in [A] {\na|b\n}"
    assert "[ShowNoOfRows]: 2 rows in [B]" in lines
    assert "[ShowNoOfRows]: NO TABLE [Missing]" in lines


def test_store_load_copy_and_file_checks(tmp_path: Path) -> None:
    """README: StoreQVD stores a table as a QVD and drops it by default; LoadQVD replaces the
    table by default, 'a' appends; StoreTable stores as 'txt' when asked; CopyFile copies a
    QVD between lib:// paths; FileExists "returns file presence flag"; NewerFile returns
    True() "if origin one is newer"."""
    runner = run("tmpData: LOAD RecNo() as n AutoGenerate 3;\n"
                 "Call StoreQVD('tmpData', 'lib://Data/x.qvd');\n"
                 "Let dropped = NoOfTables();\n"
                 "Let e = $(FileExists(lib://Data/x.qvd));\n"
                 "Let m = $(FileExists(lib://Data/missing.qvd));\n"
                 "Call LoadQVD('lib://Data/x.qvd', 'tmpData');\n"
                 "Call LoadQVD('lib://Data/x.qvd', 'tmpData', 'a');\n"
                 "Let n = NoOfRows('tmpData');\n"
                 "Call StoreTable('tmpData', 'lib://Data/y.txt', 'txt');\n"
                 "Call CopyFile('lib://Data/x.qvd', 'lib://Data/z.qvd');\n"
                 "Let newer = $(NewerFile(lib://Data/missing.qvd, lib://Data/x.qvd));\n"
                 "Call LoadQVD('lib://Data/z.qvd');\n", data=tmp_path)
    assert [runner.variable_text(v) for v in ("dropped", "e", "m", "n", "newer")] == [
        "0", "-1", "0", "6", "0"]
    assert (tmp_path / "y.txt").read_text().split() == ["n", "1", "2", "3", "1", "2", "3"]
    assert list(runner.model.tables) == ["z"]  # LoadQVD names the table after the file
    assert column(runner, "z", "n") == ["1", "2", "3"]


def test_trace_frames_the_message() -> None:
    """Trace.qvs: "Traces message in the frame with indent", usage
    ``Call Trace('Loading data for $(sYearMonth) from all the files...', 1, '=');``."""
    runner = run("Call Trace('Loading data', 1, '=');\n")
    assert traced(runner)[1:] == [" " + "=" * 50, " Loading data", " " + "=" * 50]


def test_qlik_server_url() -> None:
    """vQlikServerURL.qvs: "Returns Qlik server name basing on the ComputerName() value", usage
    ``'https://$(=$(vQlikServerURL))/sense/app/'``."""
    runner = run("Let url = 'https://$(=$(vQlikServerURL))/sense/app/';\n",
                 system={"ComputerName": "LOCALHOST"})
    assert runner.variable_text("url") == "https://BI.YOU.DOMAIN/sense/app/"


def test_clean_up_removes_the_library_variables() -> None:
    """README: QLibCleanUp "Cleans up QLib variables"."""
    runner = run("Call QLibCleanUp;\n")
    assert [runner.variable_text(v) for v in ("FileExists", "NewerFile", "MonthDiff")] == [
        None, None, None]


def test_create_data_profiling() -> None:
    """README: CreateDataProfiling "calculating data quality measures and KPIs ... Each measure
    is calculated for each field individually"; the measures are the Qlik aggregations it
    names (Count, Count Distinct, Min, Max, Mode, Median, Avg...)."""
    runner = run("T: LOAD * Inline [\na, b\n1, x\n2, y\n2, \n];\nCall CreateDataProfiling;\n")
    stats = "DataProfilingStats"
    assert column(runner, stats, "Field Name") == ["a", "b"]
    assert column(runner, stats, "No. of rows") == ["3", "3"]
    assert column(runner, stats, "Distinct Values") == ["2", "3"]
    assert column(runner, stats, "Blank Values") == ["0", "1"]
    assert column(runner, stats, "Is Key") == ["No", "No"]
    for name, expected in [("Min Value", "1"), ("Max Value", "2"), ("Mode", "2"),
                           ("Median", "2"), ("Has Number", "Yes"), ("Has Alpha", "No")]:
        assert column(runner, stats, name)[0] == expected, name
    assert column(runner, "DataProfilingKPIs", "KPI Absolute Value") == ["0", "1", "1"]


def test_the_whole_library_through_qlib_qvs(tmp_path: Path) -> None:
    """README: "QLib.qvs - includes all Qlib scripts, please note the sQVDPathPrefix variable
    which allows implemeting versioning of the apps"; QLib.qvs: the title holds the marker
    ' TCO-' "with the following number", '/TCO' by default. Its first line is the folder the
    user sets; Trace.qvs: sQLibTimer adds the time since it was set, formatted
    sQLibTimeDiffFormat ('mm:ss')."""
    qlib = (Path(SRC) / "QLib.qvs").read_text(encoding="utf-8")
    (tmp_path / "QLib.qvs").write_text(qlib.replace("lib://<HERE_YOUR_FOLDER>", "lib://QLib"),
                                       encoding="utf-8")
    script = f"$(Must_Include={tmp_path / 'QLib.qvs'});\nLet sQLibTimer = Now();\nCall Trace('x');\n"
    prefixes = []
    for title in ("Sales TCO-12 (prod)", "Sales"):
        runner = Runner(out=io.StringIO(), libs={"QLib": SRC}, system={"DocumentTitle": title},
                        now=lambda: dt.datetime(2024, 3, 15, 10, 30))
        runner.run_text(script)
        prefixes.append(runner.variable_text("sQVDPathPrefix"))
        assert traced(runner)[2] == "    x (00:00 / 00:00)"
    assert prefixes == ["/TCO-12", "/TCO"]
