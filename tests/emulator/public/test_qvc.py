"""QlikView Components (Qvc, LGPL-3.0, https://github.com/RobWunderlich/Qlikview-Components)
included as its README says: copy Qvc_Runtime next to the document and
``$(Include=.\\Qvc_Runtime\\Qvc.qvs);``. Set VALET_QVC_RUNTIME to a Qvc_Runtime folder to run
these tests; see README.md in this folder."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from emulator.errors import ScriptError

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


# Qvc's own test harness (Tests/Qvc_Test.qvs, next to Qvc_Runtime in Qvc's repository): its
# Qvc.Test.AssertEqual writes "#Qvc.Test# SUCCESS <msg>: Expected: ... Actual ..." to the log.
HARNESS = Path(RUNTIME or ".").parent / "Tests" / "Qvc_Test.qvs"
needs_harness = pytest.mark.skipif(not HARNESS.is_file(), reason="Qvc's Tests/Qvc_Test.qvs not found")


def _messages(runner) -> list[str]:
    """Qvc.LogTable's messages without their "00001 <timestamp>; " prefix."""
    return [row[1].split("; ", 1)[1] for row in runner.model.tables["Qvc.LogTable"].texts()]


@pytest.fixture
def run_qvc_test(run, tmp_path: Path):
    shutil.copytree(RUNTIME, tmp_path / "Qvc_Runtime")
    (tmp_path / "Tests").mkdir()
    shutil.copy(HARNESS, tmp_path / "Tests")
    head = INCLUDE + "$(Include=.\\Tests\\Qvc_Test.qvs);\nSET Qvc.Log.v.WriteLogFile = 0;\n"
    return lambda script, **kw: run(head + script + "\nCALL Qvc.Test.Cleanup;\n", **kw)


def test_whole_library_defines_its_subs(run_with_qvc) -> None:
    """The SUB statements of Qvc.qvs 11.2, all 35 defined by including it."""
    runner = run_with_qvc("")
    assert len(runner.subs) == 35
    assert {"qvc.calendar", "qvc.expandinterval", "qvc.incrementalsetup", "qvc.listfiles",
            "_qvc.uniqueid", "qvc.createwildmapexpression"} <= set(runner.subs)
    assert runner.variable_text("Qvc.Global.v.Version") == "11.2"


@needs_harness
def test_table_stats_as_in_qvcs_log(run_qvc_test) -> None:
    """Tests/Test_TableStats_log.txt, lines 1-7 and 9-10: two one-row tables, then the log."""
    runner = run_qvc_test(
        "TabA: LOAD 1 as A AUTOGENERATE 1;\nTabB: LOAD 1 as B AUTOGENERATE 1;\n"
        "CALL Qvc.Log('Test Starting');\nCALL Qvc.TableStats('***After join of sales');\n"
        "CALL Qvc.TableStats('***Limiting tables', 'TabA');\n")
    assert _messages(runner)[:9] == [
        "Test Starting", "TableStats Begin: ***After join of sales",
        "Table=TabA, Rows=1, Fields=1", "Table=TabB, Rows=1, Fields=1",
        "Table=Qvc.LogTable, Rows=4, Fields=2", "3 tables listed.",
        "TableStats End: ***After join of sales", "TableStats Begin: ***Limiting tables",
        "Table=TabA, Rows=1, Fields=1"]


@needs_harness
def test_utility_functions_as_in_qvcs_logs(run_qvc_test, tmp_path: Path) -> None:
    """Test_TableExists_log.txt, Test_DefaultIfEmpty_log.txt, Test_FileExists_log.txt and
    Test_Cleanup_log.txt: the same assertions, each logged as SUCCESS."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.txt").write_text("x")
    (tmp_path / "data" / "empty.txt").write_text("")
    runner = run_qvc_test(
        "TabA: LOAD 1 as A AUTOGENERATE 1;\n"
        "CALL Qvc.Test.AssertEqual('No table', 0, $(_Qvc.TableExists(NoSuchTable)));\n"
        "CALL Qvc.Test.AssertEqual('Table exists', -1, $(_Qvc.TableExists(TabA)));\n"
        "LET vD = $(_Qvc.DefaultIfEmpty($(vUndefined), X));\n"
        "CALL Qvc.Test.AssertEqual('Undefined variable', 'X', '$(vD)');\n"
        "CALL Qvc.Test.AssertEqual('Correctly quoted literal', -1, $(Qvc.FileExists('data\\a.txt')));\n"
        "CALL Qvc.Test.AssertEqual('Missing quotes', 0, $(Qvc.FileExists(main.qvs)));\n"
        "SET vFile = 'data\\a.txt';\n"
        "CALL Qvc.Test.AssertEqual('Using variable', -1, $(Qvc.FileExists(vFile)));\n"
        "CALL Qvc.Test.AssertEqual('Using expression', -1, $(Qvc.FileExists('data' & '\\a.txt')));\n"
        "CALL Qvc.Test.AssertEqual('Empty file', -1, $(Qvc.FileExists('data\\empty.txt')));\n"
        "CALL Qvc.Test.AssertEqual('Missing file', 0, $(Qvc.FileExists('data\\none.txt')));\n")
    expected = [("No table", 0), ("Table exists", -1), ("Undefined variable", "X"),
                ("Correctly quoted literal", -1), ("Missing quotes", 0), ("Using variable", -1),
                ("Using expression", -1), ("Empty file", -1), ("Missing file", 0),
                ("ScriptErrorCount", 0)]
    assert _messages(runner) == [f'#Qvc.Test# SUCCESS {m}: Expected: "{v}" Actual "{v}"'
                                 for m, v in expected]


def test_join_generic_tables(run_with_qvc) -> None:
    """Qvc.JoinGenericTables' @syntax: the Generic load's output tables (named 'G.*') are joined
    to the target table and dropped: 5 tables before (Data, Target, three G.*), 2 after."""
    runner = run_with_qvc(
        "Data: LOAD * INLINE [\nKey, Attr, Val\n1, color, red\n1, size, L\n2, color, blue\n"
        "2, shape, round\n];\nTarget: LOAD DISTINCT Key RESIDENT Data;\n"
        "G: GENERIC LOAD Key, Attr, Val RESIDENT Data;\nLET vBefore = NoOfTables();\n"
        "CALL Qvc.JoinGenericTables('Target', 'G');\nLET vAfter = NoOfTables();\n")
    assert (runner.variable_text("vBefore"), runner.variable_text("vAfter")) == ("5", "2")
    target = runner.model.tables["Target"]
    assert sorted(target.fields) == ["Key", "color", "shape", "size"]
    assert target.texts() == [["1", "red", "L", None], ["2", "blue", None, "round"]]


@needs_harness
def test_unique_id_gives_a_new_id_each_call(run_qvc_test) -> None:
    """_Qvc.UniqueId's doc: "Returns a unique identifier on each call" (Test_UniqueId_log.txt)."""
    runner = run_qvc_test("CALL _Qvc.UniqueId('vId1');\nCALL _Qvc.UniqueId('vId2');\n"
                          "CALL Qvc.Test.AssertTrue('Id returned', len('$(vId1)') > 0 and '$(vId1)' <> '$(vId2)');\n")
    assert _messages(runner)[0] == '#Qvc.Test# SUCCESS Id returned: Expected: "-1" Actual "-1"'


def test_as_of_table(run_with_qvc) -> None:
    """Qvc.AsOfTable's doc and comment: AsOfTable_<field> pairs each value with every "AsOf"
    value equal to or larger than it: 4 months make 4+3+2+1 rows."""
    runner = run_with_qvc("Months: LOAD * INLINE [\nMonth\n1\n2\n3\n4\n];\nCALL Qvc.AsOfTable('Month');\n")
    table = runner.model.tables["AsOfTable_Month"]
    assert table.fields[:2] == ["Month", "AsOf Month"]
    pairs = [(int(r[0]), int(r[1])) for r in table.texts()]
    assert sorted(pairs) == sorted((m, a) for a in range(1, 5) for m in range(1, a + 1))


def test_populate_variables(run_with_qvc) -> None:
    """Qvc.PopulateVariables' doc: field 1 names the variables, which are SET to field 2, or
    assigned with LET when parameter 2 is true."""
    runner = run_with_qvc(
        "Vars: LOAD * INLINE [\nName, Value\nvA, 1+2\nvB, hello\n];\nCALL Qvc.PopulateVariables('Vars');\n"
        "Vars2: LOAD * INLINE [\nName2, Value2\nvC, 1+2\n];\nCALL Qvc.PopulateVariables('Vars2', -1);\n")
    assert [runner.variable_text(v) for v in ("vA", "vB", "vC")] == ["1+2", "hello", "3"]


def test_create_wild_map_expression(run_with_qvc) -> None:
    """Qvc.CreateWildMapExpression's doc: a pick(wildMatch()) expression over the map table's
    rows ("from" keys with wildcards, "to" values); the first matching row wins. The outputs are
    those of Test_CreateWildMapExpression_log.txt ("Fuels", "Premium Fuel", "Premium")."""
    runner = run_with_qvc(
        "WildMap: LOAD * INLINE [\nfrom, to\n*premium*fuel*, Premium Fuel\n*fuel*, Fuels\n"
        "*premium*, Premium\n];\nCALL Qvc.CreateWildMapExpression(vMapExpr, 'WildMap');\n"
        "LET vOut1 = $(vMapExpr('Diesel Fuel'));\nLET vOut2 = $(vMapExpr('Premium Unleaded Fuel'));\n"
        "LET vOut3 = $(vMapExpr('Premium Wax'));\n")
    assert [runner.variable_text(v) for v in ("vOut1", "vOut2", "vOut3")] == \
        ["Fuels", "Premium Fuel", "Premium"]


def test_expand_interval_with_end_dates(run_with_qvc) -> None:
    """Qvc.ExpandInterval's doc: "Explode a table of date range data ... into a row per day";
    the start field receives the generated daily dates."""
    runner = run_with_qvc(
        "Rates: LOAD * INLINE [\nCurrency, Start, End, Rate\nEUR, 41000, 41002, 1.1\n"
        "EUR, 41003, 41004, 1.2\n];\nSET Qvc.ExpandInterval.v.RangeCeiling = 0;\n"
        "CALL Qvc.ExpandInterval('Rates', 'Start', 'End');\n"
        "Days: LOAD Num(Start) as Day, Rate RESIDENT Rates ORDER BY Start;\n")
    assert runner.model.tables["Days"].texts() == [
        ["41000", "1.1"], ["41001", "1.1"], ["41002", "1.1"], ["41003", "1.2"], ["41004", "1.2"]]


def test_export_and_import_model(run_with_qvc, tmp_path: Path) -> None:
    """Qvc.ExportModel's doc: all tables into one QVD; Qvc.ImportModel loads them back."""
    runner = run_with_qvc(
        "T1: LOAD * INLINE [\nA, B\n1, x\n2, y\n];\nT2: LOAD * INLINE [\nC\n5\n];\n"
        "CALL Qvc.ExportModel('out', 'model');\nDROP TABLES T1, T2;\n"
        "CALL Qvc.ImportModel('out\\model.qvd');\n")
    assert (tmp_path / "out" / "model.qvd").is_file()
    assert runner.model.tables["T1"].texts() == [["1", "x"], ["2", "y"]]
    assert runner.model.tables["T2"].texts() == [["5"]]


def test_list_files(run_with_qvc, tmp_path: Path) -> None:
    """Qvc.ListFiles' doc: table Qvc.ListFilesTable, field [File Path], subdirectories too."""
    (tmp_path / "data" / "sub").mkdir(parents=True)
    (tmp_path / "data" / "a.txt").write_text("")
    (tmp_path / "data" / "sub" / "b.txt").write_text("")
    runner = run_with_qvc("CALL Qvc.ListFiles('data');\n")
    assert runner.model.tables["Qvc.ListFilesTable"].texts() == [["data\\a.txt"], ["data\\sub\\b.txt"]]


def test_calendar_set_variables(run, tmp_path: Path) -> None:
    """Qvc.Calendar's @var list: with Qvc.Calendar.v.CreateSetVariables true (the default) it
    also creates the vSet... and vSet...Modifier set analysis variables."""
    shutil.copytree(RUNTIME, tmp_path / "Qvc_Runtime")
    runner = run("$(Include=.\\Qvc_Runtime\\Qvc.qvs);\nCALL Qvc.Calendar(41828, 42587);\n")
    assert len(runner.model.tables["MasterCalendar"].rows) == 760
    for name in ("vSetYTD", "vSetQTD", "vSetMTD", "vSetPreviousMonthMTD", "vSetPreviousYearYTD",
                 "vSetRolling12", "vSetYTDModifier", "vSetRolling12Modifier"):
        assert runner.variable_text(name), name


def _incremental_twice(run_with_qvc, tmp_path: Path, table: str, field: str, rows: tuple[str, str],
                       head: str = "", where: str = "") -> tuple[list[str], list[list[str]]]:
    """Qvc.IncrementalSetup, an inline LOAD of ``rows[i]`` (Id, <field>, Value) and
    Qvc.IncrementalStore, twice: the log messages after the first, and the QVD's value total and
    row count."""
    (tmp_path / "temp").mkdir()
    load = f"{table}: LOAD * INLINE [\nId, {field}, Value\n{{}}] {where};\n"
    step = f"CALL Qvc.IncrementalSetup('{table}', '{field}', 'Id');\n{{}}CALL Qvc.IncrementalStore;\n"
    runner = run_with_qvc(
        "SET Qvc.Loader.v.QvdDirectory = temp;\n" + head + "".join(step.format(load.format(r)) for r in rows)
        + f"Check: LOAD Sum(Value) as Total, Count(Id) as N FROM [temp\\{table}.qvd] (qvd);\n")
    return _messages(runner)[1:], runner.model.tables["Check"].texts()


def test_incremental_reload_by_revision_as_in_qvcs_log(run_with_qvc, tmp_path: Path) -> None:
    """Test_IncrementalReload_log.txt, lines 18-23: a base load of 3 rows (values 300), then the
    rows "where Revision >9003" merged into the QVD: 4 rows, values 450."""
    messages, check = _incremental_twice(
        run_with_qvc, tmp_path, "MyTableRevision", "Revision",
        ("1, 9001, 100\n2, 9002, 100\n3, 9003, 100\n", "3, 9003, 100\n4, 9004, 150\n"),
        head="SET Qvc.Loader.v.ModField.Type = Revision;\n",
        where="WHERE $(Qvc.Loader.v.IncrementalExpression)")
    assert messages == [
        "temp\\MyTableRevision.qvd updated, rows=3", "temp\\MyTableRevision.qvd exists, rows=3",
        "Loading rows where Revision >9003", "temp\\MyTableRevision.qvd updated, rows=4"]
    assert check == [["450", "4"]]


def test_qvd_field_number_as_in_qvcs_log(run_with_qvc) -> None:
    """Test_QvdFieldNumber_log.txt: "Customer Name" is field 1, the default return variable
    Qvc.v.Return, a field not found and a QVD not found give 0."""
    runner = run_with_qvc(
        "Cust: LOAD * INLINE [\nCustomer Name, City\na, b\n];\nSTORE Cust INTO cust.qvd (qvd);\n"
        "CALL Qvc.QvdFieldNumber('Customer Name', 'cust.qvd', 'vRet');\n"
        "CALL Qvc.QvdFieldNumber('City', 'cust.qvd');\n"
        "CALL Qvc.QvdFieldNumber('Nope', 'cust.qvd', 'vNope');\n"
        "CALL Qvc.QvdFieldNumber('City', 'missing.qvd', 'vMissing');\n")
    assert [runner.variable_text(v) for v in ("vRet", "Qvc.v.Return", "vNope", "vMissing")] == \
        ["1", "2", "0", "0"]


def test_link_table(run_with_qvc) -> None:
    """Qvc.LinkTable's doc: the fields named in parameter 3 move from the source table into the
    link table, which is created, then updated; a key field %<LinkTable>_Key links them."""
    runner = run_with_qvc(
        "Orders: LOAD * INLINE [\nOrderId, Customer, Product, Amount\n1, C1, P1, 10\n2, C2, P1, 20\n];\n"
        "Suppliers: LOAD * INLINE [\nSupplier, Customer, Product\nS1, C1, P1\n];\n"
        "CALL Qvc.LinkTable('Link', 'Orders', 'Customer, Product');\n"
        "CALL Qvc.LinkTable('Link', 'Suppliers', 'Customer, Product');\n")
    tables = runner.model.tables
    assert tables["Orders"].fields == ["OrderId", "Amount", "%Link_Key"]
    assert tables["Suppliers"].fields == ["Supplier", "%Link_Key"]
    assert sorted(tables["Link"].fields) == ["%Link_Key", "Customer", "Product"]
    order_keys = dict((r[0], r[2]) for r in tables["Orders"].texts())
    assert tables["Suppliers"].texts()[0][1] == order_keys["1"] != order_keys["2"]


def test_expand_interval_from_start_dates(run_with_qvc) -> None:
    """Qvc.ExpandInterval's @param 3: without an end field, each interval ends the day before
    the next start; the last runs to Qvc.ExpandInterval.v.RangeCeiling (@var)."""
    runner = run_with_qvc(
        "Rates: LOAD * INLINE [\nStart, Rate\n41000, 1.1\n41003, 1.2\n];\n"
        "SET Qvc.ExpandInterval.v.RangeCeiling = 41005;\nCALL Qvc.ExpandInterval('Rates', 'Start');\n"
        "Days: LOAD Num(Start) as Day, Rate RESIDENT Rates ORDER BY Start;\n")
    assert runner.model.tables["Days"].texts() == [
        [str(d), "1.1"] for d in (41000, 41001, 41002)] + [[str(d), "1.2"] for d in (41003, 41004, 41005)]


def test_segmented_store_as_in_qvcs_test_output(run_with_qvc, tmp_path: Path) -> None:
    """Qvc.SegmentedStore's @syntax and the QVDs its test wrote (Qvc's Tests/QVDs folder):
    a table of 2014 dates stored 2 months per file as SalesData_2014_01/_03.qvd, and 2 weeks
    per file as SalesWeeklyData_2013_12_30 ... _2014_03_10.qvd (named by each segment's start)."""
    (tmp_path / "QVDs").mkdir()
    runner = run_with_qvc(
        "SalesData: LOAD Date(MakeDate(2014,1,1) + RecNo() - 1) as OrderDate, 1 as N AUTOGENERATE 79;\n"
        "CALL Qvc.SegmentedStore('SalesData', 'OrderDate', 'QVDs', '', 'MONTH', 2);\n"
        "CALL Qvc.SegmentedStore('SalesData', 'OrderDate', 'QVDs', 'SalesWeeklyData', 'WEEK', 2);\n"
        "Back: LOAD Sum(N) as Rows FROM [QVDs\\SalesData_2014_01.qvd] (qvd);\n")
    assert sorted(p.name for p in (tmp_path / "QVDs").iterdir()) == [
        "SalesData_2014_01.qvd", "SalesData_2014_03.qvd",
        "SalesWeeklyData_2013_12_30.qvd", "SalesWeeklyData_2014_01_13.qvd",
        "SalesWeeklyData_2014_01_27.qvd", "SalesWeeklyData_2014_02_10.qvd",
        "SalesWeeklyData_2014_02_24.qvd", "SalesWeeklyData_2014_03_10.qvd"]
    assert runner.model.tables["Back"].texts() == [["59"]]   # January and February 2014


def test_empty_qvd_keeps_the_fields(run_with_qvc) -> None:
    """Qvc.EmptyQvd's doc: "Empties a QVD of all data but maintains the field structure"."""
    runner = run_with_qvc(
        "T: LOAD * INLINE [\nA, B\n1, x\n2, y\n];\nSTORE T INTO t.qvd (qvd);\nDROP TABLE T;\n"
        "CALL Qvc.EmptyQvd('t.qvd');\nLET vRecords = QvdNoOfRecords('t.qvd');\n"
        "Back: LOAD * FROM t.qvd (qvd);\n")
    assert runner.variable_text("vRecords") == "0"
    assert runner.model.tables["Back"].fields == ["A", "B"]
    assert runner.model.tables["Back"].rows == []
    assert "_qvctemp.temptab" not in runner.model.tables


def test_incremental_reload_by_datetime_as_in_qvcs_log(run_with_qvc, tmp_path: Path) -> None:
    """Test_IncrementalReload_log.txt, lines 4-13: a base load of 3 rows (values 300), then, the
    QVD existing, "Loading rows where Update >='01-03-2011 00:00:00'" (the Datetime predicate,
    DatabaseDatetimeMask 'MM-DD-YYYY hh:mm:ss') and 4 rows, values 450."""
    messages, check = _incremental_twice(
        run_with_qvc, tmp_path, "MyTable", "Update",
        ("1, 40544, 100\n2, 40545, 100\n3, 40546, 100\n", "3, 40546, 100\n4, 40547, 150\n"))
    assert messages == [
        "temp\\MyTable.qvd updated, rows=3", "temp\\MyTable.qvd exists, rows=3",
        "Loading rows where Update >='01-03-2011 00:00:00'", "temp\\MyTable.qvd updated, rows=4"]
    assert check == [["450", "4"]]


def test_list_directories_as_in_qvcs_log(run_with_qvc, tmp_path: Path) -> None:
    """Qvc.ListDirectories' doc (table Qvc.ListDirectoriesTable, subdirectories by default) and
    Test_ListDirectories_log.txt ("NoSub rowcount", "More rows with subdirs"). Without a mask its
    default expands to DirList('dir\\'), which fails loudly: what Qlik lists then is unknown."""
    for sub in ("tree/a/a1", "tree/b"):
        (tmp_path / sub).mkdir(parents=True)
    runner = run_with_qvc("CALL Qvc.ListDirectories('tree', '*', 0);\nLET vNoSub = NoOfRows('Qvc.ListDirectoriesTable');\n"
                          "DROP TABLE Qvc.ListDirectoriesTable;\nCALL Qvc.ListDirectories('tree', '*');\n")
    assert runner.variable_text("vNoSub") == "2"
    assert runner.model.tables["Qvc.ListDirectoriesTable"].texts() == [
        ["tree\\a"], ["tree\\a\\a1"], ["tree\\b"]]
    with pytest.raises(ScriptError, match=r"DirList\('tree\\'\): a mask with no name"):
        run_with_qvc("CALL Qvc.ListDirectories('tree');\n")
