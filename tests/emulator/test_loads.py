"""Table statements: (page, script, {table: (fields, rows)}), rows as the texts Qlik shows
(None for NULL). Scripts are the examples of the cited pages, file sources made inline."""
from __future__ import annotations

import pytest

from emulator.errors import ScriptError
from emulator.values import Dual, number, sharing, text

HUB = "https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/"
INLINE = HUB + "Scripting/inline-loads-qs.htm"
QUOTES = HUB + "Scripting/ScriptSpecifiers/quotes.htm"
DELIM = HUB + "Scripting/ScriptSpecifiers/delimiter.htm"
LOAD = HUB + "Scripting/ScriptRegularStatements/Load.htm"
CONCAT = HUB + "Scripting/concatenate-tables.htm"
PRECEDING = HUB + "LoadData/work-with-preceding-load.htm"
MAPPING = HUB + "Scripting/MappingFunctions/ApplyMap.htm"
QUALIFY = HUB + "Scripting/ScriptRegularStatements/Qualify.htm"
DROP = HUB + "Scripting/ScriptRegularStatements/"
COUNTERS = HUB + "Scripting/CounterFunctions/"
TABLEFN = HUB + "Scripting/TableFunctions/"
INTER = HUB + "Scripting/InterRecordFunctions/"

SALES = "MyTable:\nLoad * Inline [\nCountry, Year, Sales\nArgentina, 2014, 66295.03\nArgentina, 2015, 140037.89\n];\n"

CASES = [
    # ---- Inline
    (INLINE, SALES, {"MyTable": (["Country", "Year", "Sales"],
                                 [["Argentina", "2014", "66295.03"], ["Argentina", "2015", "140037.89"]])}),
    (INLINE, "T: Load * Inline [\nA, B\n\n1, x\n\n];", {"T": (["A", "B"], [["1", "x"]])}),
    (INLINE, "T: Load * Inline [\n  A  ,  B  \n  1 ,  two words  \n];", {"T": (["A", "B"], [["1", "two words"]])}),
    (INLINE, "T: Load * Inline [\nA, B\n1\n];", {"T": (["A", "B"], [["1", None]])}),
    (INLINE, "T: Load * Inline [\nA, B\n1,\n];", {"T": (["A", "B"], [["1", ""]])}),
    (INLINE, "T: Load * Inline [\nA, B\n1, 2, 3\n];", {"T": (["A", "B"], [["1", "2"]])}),
    (INLINE, "T: Load * Inline [A\n1];", {"T": (["A"], [["1"]])}),
    (INLINE, "T: Load * Inline [\n\"Field A\", 'Field B'\n1, 2\n];", {"T": (["Field A", "Field B"], [["1", "2"]])}),
    (QUOTES, "T: Load * Inline [\nA, B\n\"x, y\", 'z'\n];", {"T": (["A", "B"], [["x, y", "z"]])}),
    (QUOTES, "T: Load * Inline [\nA\n\"say \"\"hi\"\"\"\n];", {"T": (["A"], [['say "hi"']])}),
    (QUOTES, "T: Load * Inline [\nA\n  \"padded\"  \n];", {"T": (["A"], [["padded"]])}),
    (QUOTES, "T: Load * Inline [\nA\nit's\n];", {"T": (["A"], [["it's"]])}),
    (QUOTES, "T: Load * Inline [\nA, B\na \"b\" c, d\n];", {"T": (["A", "B"], [['a "b" c', "d"]])}),
    (DELIM, "T: Load * Inline [\nA;B\n1;x,y\n] (delimiter is ';');", {"T": (["A", "B"], [["1", "x,y"]])}),
    (DELIM, "T: Load * Inline [\nENAME|SAL\nSCOTT|800\n] (ansi, txt, delimiter is '|', embedded labels);",
     {"T": (["ENAME", "SAL"], [["SCOTT", "800"]])}),
    (DELIM, "T: Load * Inline [\nA\tB\n1\t2\n] (delimiter is '\\t');", {"T": (["A", "B"], [["1", "2"]])}),
    (LOAD, "T: Load * Inline [\n1, a\n2, b\n] (no labels);", {"T": (["@1", "@2"], [["1", "a"], ["2", "b"]])}),
    # ---- field lists
    (LOAD, "T: Load A, B * 2 as C Inline [\nA, B\n1, 2\n];", {"T": (["A", "C"], [["1", "4"]])}),
    (LOAD, "T: Load A & '-' & B Inline [\nA, B\n1, 2\n];", {"T": (["A & '-' & B"], [["1-2"]])}),
    (LOAD, "T: Load *, A + 1 as D Inline [\nA\n1\n];", {"T": (["A", "D"], [["1", "2"]])}),
    (LOAD, "T: Load [A B] as \"x y\", `C` as [z] Inline [\n\"A B\", C\n1, 2\n];", {"T": (["x y", "z"], [["1", "2"]])}),
    (LOAD, "T: Load Upper(A) as U, Len(A) as L Inline [\nA\nabc\n];", {"T": (["U", "L"], [["ABC", "3"]])}),
    (LOAD, "T: Load 'const' as K, 1 as One Inline [\nA\nx\ny\n];", {"T": (["K", "One"], [["const", "1"], ["const", "1"]])}),
    (LOAD, "T: Load Distinct A Inline [\nA\n1\n2\n1\n];", {"T": (["A"], [["1"], ["2"]])}),
    (LOAD, "Set v = 10;\nT: Load A * $(v) as B Inline [\nA\n2\n];", {"T": (["B"], [["20"]])}),
    (LOAD, "T: Load A, If(A > 1, 'big', 'small') as Size Inline [\nA\n1\n2\n];",
     {"T": (["A", "Size"], [["1", "small"], ["2", "big"]])}),
    (LOAD, "T: Load A, Null() as N Inline [\nA\n1\n];", {"T": (["A", "N"], [["1", None]])}),
    # ---- Resident, AutoGenerate, Where, While
    (LOAD, SALES + "T2: NoConcatenate Load Country, Sales Resident MyTable Where Year = 2015;",
     {"T2": (["Country", "Sales"], [["Argentina", "140037.89"]])}),
    (LOAD, "T: Load RecNo() as A Autogenerate 3;", {"T": (["A"], [["1"], ["2"], ["3"]])}),
    (LOAD, "T: Load RecNo() as A Autogenerate(2);", {"T": (["A"], [["1"], ["2"]])}),
    (LOAD, "T: Load RecNo() as A Autogenerate 0;", {"T": (["A"], [])}),
    (LOAD, "T: Load RecNo() as A AutoGenerate 5 Where RecNo() > 3;", {"T": (["A"], [["4"], ["5"]])}),
    (LOAD, "T: Load A, IterNo() as I Inline [\nA, N\nx, 2\ny, 1\n] While IterNo() <= N;",
     {"T": (["A", "I"], [["x", "1"], ["x", "2"], ["y", "1"]])}),
    (LOAD, "T: Load A Inline [\nA\n1\n2\n3\n] Where A <> 2;", {"T": (["A"], [["1"], ["3"]])}),
    (LOAD, "T: Load A Inline [\nA\n1\n\"\"\n3\n] Where Len(A) > 0;", {"T": (["A"], [["1"], ["3"]])}),
    (LOAD, "T: Load A Inline [\nA\nab\ncd\n] Where A like 'c*';", {"T": (["A"], [["cd"]])}),
    (LOAD, "T: Load A Inline [\nA\n1\n];\nT2: NoConcatenate Load A Resident T Where not IsNull(A);",
     {"T2": (["A"], [["1"]])}),
    # ---- preceding load
    (PRECEDING, "T: Load A, A * 2 as B;\nLoad RecNo() as A AutoGenerate 2;", {"T": (["A", "B"], [["1", "2"], ["2", "4"]])}),
    (PRECEDING, "T: Load B + 1 as C;\nLoad A * 2 as B;\nLoad RecNo() as A AutoGenerate 2;",
     {"T": (["C"], [["3"], ["5"]])}),
    (PRECEDING, "T: Load *, Upper(Name) as U;\nLoad * Inline [\nName\nann\n];", {"T": (["Name", "U"], [["ann", "ANN"]])}),
    (PRECEDING, "T: Load A Where A > 1;\nLoad RecNo() as A AutoGenerate 3;", {"T": (["A"], [["2"], ["3"]])}),
    # ---- concatenation
    (CONCAT, "T1: Load * Inline [\nA, B\n1, x\n];\nT2: Load * Inline [\nB, A\ny, 2\n];",
     {"T1": (["A", "B"], [["1", "x"], ["2", "y"]])}),
    (CONCAT, "T1: Load * Inline [\nA, B\n1, x\n];\nT2: NoConcatenate Load * Inline [\nA, B\n2, y\n];",
     {"T1": (["A", "B"], [["1", "x"]]), "T2": (["A", "B"], [["2", "y"]])}),
    (CONCAT, "T1: Load * Inline [\nA, B\n1, x\n];\nConcatenate Load * Inline [\nA, C\n2, z\n];",
     {"T1": (["A", "B", "C"], [["1", "x", None], ["2", None, "z"]])}),
    (CONCAT, "T1: Load * Inline [\nA\n1\n];\nT2: Load * Inline [\nB\n2\n];\nConcatenate (T1) Load * Inline [\nA\n3\n];",
     {"T1": (["A"], [["1"], ["3"]]), "T2": (["B"], [["2"]])}),
    (CONCAT, "T1: Load * Inline [\nA\n1\n];\nT1: NoConcatenate Load * Inline [\nA\n2\n];",
     {"T1": (["A"], [["1"]]), "T1-1": (["A"], [["2"]])}),
    (CONCAT, "T: Load * Inline [\nA\n1\n];\nLoad * Resident T;", {"T": (["A"], [["1"], ["1"]])}),
    # ---- mapping and ApplyMap
    (MAPPING, "map1:\nmapping LOAD *\nInline [\nCCode, Country\nSw, Sweden\nDk, Denmark\nNo, Norway\n] ;\n"
     "Salespersons:\nLOAD *,\nApplyMap('map1', CCode,'Rest of the world') As Country\nInline [\n"
     "CCode, Salesperson\nSw, John\nSw, Mary\nSw, Per\nDk, Preben\nDk, Olle\nNo, Ole\nSf, Risttu] ;\n"
     "Drop Field 'CCode';",
     {"Salespersons": (["Salesperson", "Country"], [["John", "Sweden"], ["Mary", "Sweden"], ["Per", "Sweden"],
                                                    ["Preben", "Denmark"], ["Olle", "Denmark"], ["Ole", "Norway"],
                                                    ["Risttu", "Rest of the world"]])}),
    (MAPPING, "M: Mapping Load * Inline [\nK, V\na, 1\na, 2\n];\nT: Load ApplyMap('M', K) as V Inline [\nK\na\nb\n];",
     {"T": (["V"], [["1"], ["b"]])}),
    # ---- Qualify
    (QUALIFY, "Qualify B;\ntab1: LOAD A,B Inline [\nA, B\n1, 2\n];\ntab2: LOAD A,B Inline [\nA, B\n3, 4\n];",
     {"tab1": (["A", "tab1.B"], [["1", "2"]]), "tab2": (["A", "tab2.B"], [["3", "4"]])}),
    (QUALIFY, "Qualify *;\nUnqualify TransID;\nT: Load * Inline [\nTransID, Amount\n1, 10\n];",
     {"T": (["TransID", "T.Amount"], [["1", "10"]])}),
    (QUALIFY, "Qualify *;\nT: Load * Inline [\nTaskId\nx\n];\nUnqualify *;\nU: Load * Inline [\nTaskId\ny\n];",
     {"T": (["T.TaskId"], [["x"]]), "U": (["TaskId"], [["y"]])}),
    (QUALIFY, "Qualify 'Key*';\nT: Load * Inline [\nKeyA, Other\n1, 2\n];", {"T": (["T.KeyA", "Other"], [["1", "2"]])}),
    (QUALIFY, "Qualify *;\nT: Load * Inline [\nA\n1\n];\nU: Load * Inline [\nA\n2\n];",
     {"T": (["T.A"], [["1"]]), "U": (["U.A"], [["2"]])}),
    # ---- Drop and Rename
    (DROP + "Drop.htm", "A: Load * Inline [\nX\n1\n];\nB: Load * Inline [\nY\n2\n];\nC: Load * Inline [\nZ\n3\n];\n"
     "Drop Tables A, C;", {"B": (["Y"], [["2"]])}),
    (DROP + "Drop.htm", "T: Load * Inline [\nA, B, C\n1, 2, 3\n];\nDrop Fields A, C;", {"T": (["B"], [["2"]])}),
    (DROP + "Drop.htm", "T: Load * Inline [\nA, B\n1, 2\n];\nU: Load * Inline [\nA, C\n3, 4\n];\nDrop Field A from T;",
     {"T": (["B"], [["2"]]), "U": (["A", "C"], [["3", "4"]])}),
    (DROP + "Drop.htm", "T: Load * Inline [\nA, B\n1, 2\n];\nU: Load * Inline [\nA, C\n3, 4\n];\nDrop Field A;",
     {"T": (["B"], [["2"]]), "U": (["C"], [["4"]])}),
    (DROP + "Rename.htm", "XYZ: Load * Inline [\nXAZ0007\n1\n];\nRename Table XYZ to ABC;\nRename Field XAZ0007 to Sales;",
     {"ABC": (["Sales"], [["1"]])}),
    # ---- counters and table functions in a LOAD
    (COUNTERS + "RecNo.htm", "Tab1: LOAD * INLINE [\nA, B\n1, aa\n2,cc\n3,ee];\nTab2: LOAD * INLINE [\nC, D\n5, xx\n4,yy\n6,zz];\n"
     "QTab: LOAD A, B, RecNo( ), RowNo( ) resident Tab1 where A<>2;\nLOAD C as A, D as B, RecNo( ), RowNo( ) resident Tab2 where C<>5;",
     {"QTab": (["A", "B", "RecNo( )", "RowNo( )"], [["1", "aa", "1", "1"], ["3", "ee", "3", "2"],
                                                    ["4", "yy", "2", "3"], ["6", "zz", "3", "4"]])}),
    (INTER + "Peek.htm", "EmployeeDates:\nLoad * Inline [\nEmployeeCode|StartDate\n101|02/11/2010\n102|01/11/2011\n103|02/01/2012\n] (delimiter is '|');\n"
     "First_last_Employee:\nLoad EmployeeCode, Peek('EmployeeCode',0,'EmployeeDates') As FirstCode,\n"
     "Peek('EmployeeCode',-1,'EmployeeDates') As LastCode\nResident EmployeeDates;",
     {"First_last_Employee": (["EmployeeCode", "FirstCode", "LastCode"],
                              [["101", "101", "103"], ["102", "101", "103"], ["103", "101", "103"]])}),
    (INTER + "Peek.htm", "T: Load A, Alt(Peek('Total'), 0) + A as Total Inline [\nA\n1\n2\n3\n];",
     {"T": (["A", "Total"], [["1", "1"], ["2", "3"], ["3", "6"]])}),
]


TABLE_FUNCTION_CASES = [
    (TABLEFN + "NoOfRows.htm", "Let n = NoOfRows('MyTable');", "2"),
    (TABLEFN + "NoOfFields.htm", "Let n = NoOfFields('MyTable');", "3"),
    (TABLEFN + "NoOfTables.htm", "Let n = NoOfTables();", "1"),
    (TABLEFN + "TableName.htm", "Let n = TableName(0);", "MyTable"),
    (TABLEFN + "FieldName.htm", "Let n = FieldName(2, 'MyTable');", "Year"),
    (TABLEFN + "FieldNumber.htm", "Let n = FieldNumber('Sales', 'MyTable');", "3"),
    (TABLEFN + "FieldNumber.htm", "Let n = FieldNumber('Nope', 'MyTable');", "0"),
    (TABLEFN + "NoOfRows.htm", "Let n = NoOfRows('Missing');", None),
    (INTER + "Peek.htm", "Let n = Peek('Sales');", "140037.89"),
    (INTER + "Peek.htm", "Let n = Peek('Sales', 0, 'MyTable');", "66295.03"),
    (INTER + "Peek.htm", "Let n = Peek('Sales', 5, 'MyTable');", None),
    (INTER + "FieldValue.htm", "Let n = FieldValue('Country', 1);", "Argentina"),
    (INTER + "FieldValueCount.htm", "Let n = FieldValueCount('Country');", "1"),
    (INTER + "FieldValueCount.htm", "Let n = FieldValueCount('Year');", "2"),
]


@pytest.mark.parametrize("page, script, expected", TABLE_FUNCTION_CASES, ids=[c[1] for c in TABLE_FUNCTION_CASES])
def test_table_functions_see_the_model(run, page: str, script: str, expected) -> None:
    assert run(SALES + script).variable_text("n") == expected


def test_applymap_with_default_outside_a_load(run) -> None:
    runner = run("M: Mapping Load * Inline [\nK, V\na, 1\n];\nLet x = ApplyMap('M', 'a', 'none') & ApplyMap('M', 'z', 'none');")
    assert runner.variable_text("x") == "1none"
    assert "M" not in runner.model.tables  # mapping tables are not part of the model


def test_mapping_tables_are_gone_after_the_run(run) -> None:
    runner = run("M: Mapping Load * Inline [\nK, V\na, 1\n];")
    assert runner.model.mappings == {}


def test_unlabelled_tables_get_default_names(run) -> None:
    runner = run("Load * Inline [\nA\n1\n];\nLoad RecNo() as B AutoGenerate 1;\n"
                 "NoConcatenate Load * Resident INLINE;")
    assert list(runner.model.tables) == ["INLINE", "AUTOGENERATE", "INLINE-1"]


@pytest.mark.parametrize("script, message", [
    ("T: Load Missing Inline [\nA\n1\n];", "Field 'Missing' not found"),
    ("T: Load * Resident Nowhere;", "Table 'Nowhere' not found"),
    ("Drop Table Nowhere;", "Table 'Nowhere' not found"),
    ("Drop Field Nowhere;", "Field 'Nowhere' not found"),
    ("T: Load A, A Inline [\nA\n1\n];", "unique"),
    ("M: Mapping Load * Inline [\nA, B, C\n1, 2, 3\n];", "two fields"),
    ("T: Load A;", "preceding LOAD"),
    ("T: Load A;\nLet x = 1;\nLoad 1 as A AutoGenerate 1;", "preceding LOAD"),
    ("Concatenate Load * Inline [\nA\n1\n];", "no table loaded"),
])
def test_table_errors(run, script: str, message: str) -> None:
    with pytest.raises(ScriptError) as caught:
        run(script)
    assert message in caught.value.message


FILES = {"data/sales.csv": "Country,Year\nSweden,2014\n\"Costa, Rica\",2015\n",
         "data/semi.txt": "A;B\n1;2\n"}
FILE_CASES = [
    (LOAD, "T: Load * From [data/sales.csv] (txt, utf8, embedded labels, delimiter is ',');",
     {"T": (["Country", "Year"], [["Sweden", "2014"], ["Costa, Rica", "2015"]])}),
    (LOAD, "T: Load Country From 'data/sales.csv' (txt) Where Year > 2014;", {"T": (["Country"], [["Costa, Rica"]])}),
    (LOAD, "T: Load * From lib://Files/data/semi.txt (txt, delimiter is ';');", {"T": (["A", "B"], [["1", "2"]])}),
    (LOAD, "Load * From data/semi.txt (txt, delimiter is ';', no labels);", {"semi": (["@1", "@2"], [["A", "B"], ["1", "2"]])}),
]


JOIN = HUB + "Scripting/ScriptPrefixes/Join.htm"
KEEP = HUB + "Scripting/ScriptPrefixes/Keep.htm"
T1 = "Table1:\nLoad * inline [\nColumn1, Column2\nA, B\n1, aa\n2, cc\n3, ee ];\n"
T2 = "Load * inline [\nColumn1, Column3\nA, C\n1, xx\n4, yy ];"
V = "VTab1:\nLoad * inline [\nA, B\n1, aa\n2, cc\n3, ee ];\nVTab2:\n"
W = "Load * inline [\nA, C\n1, xx\n4, yy ];"
JOIN_CASES = [
    (JOIN, T1 + "Table2:\nJoin " + T2, {"Table1": (["Column1", "Column2", "Column3"],
     [["A", "B", "C"], ["1", "aa", "xx"], ["2", "cc", None], ["3", "ee", None], ["4", None, "yy"]])}),
    (JOIN, T1 + "Left Join (Table1) " + T2, {"Table1": (["Column1", "Column2", "Column3"],
     [["A", "B", "C"], ["1", "aa", "xx"], ["2", "cc", None], ["3", "ee", None]])}),
    (JOIN, T1 + "Inner Join " + T2, {"Table1": (["Column1", "Column2", "Column3"],
     [["A", "B", "C"], ["1", "aa", "xx"]])}),
    (JOIN, T1 + "Right Join " + T2, {"Table1": (["Column1", "Column2", "Column3"],
     [["A", "B", "C"], ["1", "aa", "xx"], ["4", None, "yy"]])}),
    (JOIN, "T: Load * Inline [\nX\n1\n2\n];\nJoin Load * Inline [\nY\na\n];", {"T": (["X", "Y"], [["1", "a"], ["2", "a"]])}),
    (KEEP, V + "Inner Keep " + W, {"VTab1": (["A", "B"], [["1", "aa"]]), "VTab2": (["A", "C"], [["1", "xx"]])}),
    (KEEP, V + "Left Keep " + W, {"VTab1": (["A", "B"], [["1", "aa"], ["2", "cc"], ["3", "ee"]]),
                                  "VTab2": (["A", "C"], [["1", "xx"]])}),
    (KEEP, V + "Right Keep " + W, {"VTab1": (["A", "B"], [["1", "aa"]]),
                                   "VTab2": (["A", "C"], [["1", "xx"], ["4", "yy"]])}),
]


EXISTS = HUB + "Scripting/InterRecordFunctions/Exists.htm"
EMPLOYEES = ("Employees:\nLOAD * inline [\nEmployee|ID|Salary\nBill|001|20000\nJohn|002|30000\nSteve|003|35000\n] "
             "(delimiter is '|');\n")
CITIZENS = "Citizens:\nLoad * inline [\nEmployee|Address\nBill|New York\nMary|London\nSteve|Chicago\nLucy|Madrid\nLucy|Paris\nJohn|Miami\n] (delimiter is '|') "
EXISTS_CASES = [
    (EXISTS, EMPLOYEES + CITIZENS + "where Exists (Employee);\nDrop Tables Employees;",
     {"Citizens": (["Employee", "Address"], [["Bill", "New York"], ["Steve", "Chicago"], ["John", "Miami"]])}),
    (EXISTS, EMPLOYEES + CITIZENS + "where not Exists (Employee);\nDrop Tables Employees;",
     {"Citizens": (["Employee", "Address"], [["Mary", "London"], ["Lucy", "Madrid"]])}),
    (EXISTS, EMPLOYEES + CITIZENS + "where Exists ('Employee', Employee);\nDrop Tables Employees;",
     {"Citizens": (["Employee", "Address"], [["Bill", "New York"], ["Steve", "Chicago"], ["John", "Miami"]])}),
    (EXISTS, "T: Load * Inline [\nK\na\nb\na\nc\nb\n] Where Not Exists(K);", {"T": (["K"], [["a"], ["b"], ["c"]])}),
]


def test_exists_outside_a_load(run) -> None:
    runner = run(EMPLOYEES + "Let a = Exists(Employee, 'Bill');\nLet b = Exists(Employee, 'Mary');")
    assert (runner.variable_text("a"), runner.variable_text("b")) == ("-1", "0")


# Cases whose expected tables are the complete model (the others list the tables they check).
ALL_CASES = ([(*case, False) for case in CASES + FILE_CASES]
             + [(*case, True) for case in JOIN_CASES + EXISTS_CASES])


@pytest.mark.parametrize("page, script, expected, complete", ALL_CASES, ids=[c[1][:60] for c in ALL_CASES])
def test_load(run, page: str, script: str, expected: dict, complete: bool) -> None:
    runner = run(script, files=FILES)
    if complete:
        assert sorted(runner.model.tables) == sorted(expected)
    for name, (fields, rows) in expected.items():
        assert name in runner.model.tables, sorted(runner.model.tables)
        table = runner.model.tables[name]
        assert (table.fields, table.texts()) == (fields, rows)


def test_file_path_and_dir_of_a_relative_path_are_the_full_local_path(run, tmp_path) -> None:
    """FilePath: "the full path to the table file currently being read"; a path that is not
    lib:// (legacy mode's C:\\UserFiles\\abc.txt) is shown as the full local path.
    https://help.qlik.com/en-US/cloud-services/Subsystems/Hub/Content/Sense_Hub/Scripting/FileFunctions/FilePath.htm"""
    runner = run("T: LOAD FilePath() as P, FileDir() as D FROM data\\x.csv;", files={"data/x.csv": "a\n1\n"})
    found = (tmp_path / "data" / "x.csv").resolve()
    assert runner.model.tables["T"].texts() == [[str(found), str(found.parent)]]


def test_a_load_holds_one_value_object_per_distinct_computed_value(run) -> None:
    """Memory, not semantics: equal values a LOAD computes are one object (values.sharing)."""
    rows = run("T: LOAD RecNo() as Id, Mod(RecNo(), 3) as K, Dual('r' & Mod(RecNo(), 2), Mod(RecNo(), 2)) as D,\n"
               "'t' & Mod(RecNo(), 2) as S AutoGenerate 9;").model.tables["T"].rows
    assert [len({id(row[i]) for row in rows}) for i in (1, 2, 3)] == [3, 2, 2]
    assert [row[1].text for row in rows[:4]] == ["1", "2", "0", "1"] and rows[1][2].text == "r0"
    assert [row[3].text for row in rows[:2]] == ["t1", "t0"]


def test_sharing_tells_apart_what_can_be_told_apart_and_stops_at_its_limit() -> None:
    made = {"n": number(7), "n again": number(7), "dual": Dual("7", 7.0), "other dual": Dual("07", 7.0),
            "text": text("7"), "a": number(1), "b": number(2), "c": number(3), "c again": number(3)}
    share = sharing(made.__getitem__, limit=6)
    assert share("n") is made["n"] and share("n again") is made["n"]
    assert share("dual") is made["dual"] and share("other dual") is made["other dual"]  # own texts
    assert share("text") is made["text"] and share("a") is made["a"] and share("b") is made["b"]
    assert share("c") is made["c"] and share("c again") is made["c again"]  # past the limit: as made
    assert share("n again") is made["n"]  # what was remembered still is


def test_records_read_from_a_qvd_file_become_rows_a_later_load_can_extend(run) -> None:
    runner = run("T: LOAD RecNo() as A AutoGenerate 2;\nStore T into t.qvd (qvd);\nDrop Table T;\n"
                 "R: LOAD * FROM t.qvd (qvd);\nConcatenate (R) LOAD 9 as B AutoGenerate 1;")
    assert runner.model.tables["R"].texts() == [["1", None], ["2", None], [None, "9"]]
