"""QVD files through PyQvd: Store ... (qvd) writes a file another reader sees as Qlik would (the
library's own reader checks the symbols), LOAD ... FROM (qvd) reads it back, duals kept.
https://help.qlik.com/en-US/cloud-services/Subsystems/Hub/Content/Sense_Hub/Scripting/ScriptRegularStatements/Store.htm
"""
from __future__ import annotations

import gc
from pathlib import Path

import pytest
from pyqvd import DoubleValue, DualDoubleValue, DualIntegerValue, IntegerValue, QvdTable, StringValue

from emulator.errors import ScriptError
from emulator.tables import building_rows

TABLE = ("T:\nLOAD Dual(M, N) as Month, N, Name Inline [\nM, N, Name\nJan, 1, a\nFeb, 2, \nMar, 3, c\n];\n"
         "Z: LOAD Null() as Nothing, 1 as One AutoGenerate 1;\n")


def test_store_writes_symbols_as_their_types(run, tmp_path: Path) -> None:
    run(TABLE + "Store T into t.qvd (qvd);\nStore Month, Name from T into sub/m.qvd;")
    table = QvdTable.from_qvd(str(tmp_path / "t.qvd"))
    assert table.columns == ["Month", "N", "Name"]
    first = table.data[0]
    assert isinstance(first[0], DualIntegerValue)
    assert (first[0].display_value, first[0].calculation_value) == ("Jan", 1)
    assert isinstance(first[1], DualIntegerValue | IntegerValue) and first[1].calculation_value == 1
    assert isinstance(first[2], StringValue) and first[2].display_value == "a"
    assert QvdTable.from_qvd(str(tmp_path / "sub" / "m.qvd")).columns == ["Month", "Name"]


def test_round_trip_keeps_texts_numbers_and_nulls(run) -> None:
    runner = run(TABLE + "Store T into t.qvd;\nStore Z into z.qvd;\nDrop Tables T, Z;\n"
                 "R: LOAD * FROM t.qvd (qvd);\nS: NoConcatenate LOAD * FROM [z.qvd];\n"
                 "Let m = Month(0) & '|' & Num(Peek('Month', 1, 'R')) & '|' & Peek('Month', 1, 'R');\n"
                 "Let n = If(IsNull(Peek('Nothing', 0, 'S')), 'null', 'value');")
    assert runner.model.tables["R"].texts() == [["Jan", "1", "a"], ["Feb", "2", ""], ["Mar", "3", "c"]]
    assert runner.variable_text("m").endswith("|2|Feb")
    assert runner.variable_text("n") == "null"


def test_load_reads_every_symbol_type_another_writer_wrote(run, tmp_path: Path) -> None:
    """A file written by PyQvd (not by Store) holding each of the five symbol types and NULL."""
    rows = [[IntegerValue(7), DoubleValue(2.5), StringValue("Zürich"), DualIntegerValue(3, "Mar"),
             DualDoubleValue(45000.5, "2023-03-15 12:00")],
            [None, DoubleValue(-0.125), StringValue("007"), None, DualDoubleValue(1.5, "x")]]
    QvdTable(rows, ["I", "D", "S", "DI", "DD"]).to_qvd(str(tmp_path / "other.qvd"))
    runner = run("T: LOAD * FROM other.qvd (qvd);\n"
                 "Let n = Num(Peek('DI', 0, 'T')) & '|' & Num(Peek('DD', 0, 'T')) & '|' & Peek('S', 1, 'T') + 1;")
    assert runner.model.tables["T"].texts() == [["7", "2.5", "Zürich", "Mar", "2023-03-15 12:00"],
                                                [None, "-0.125", "007", None, "x"]]
    assert runner.variable_text("n") == "3|45000.5|8"


def test_store_txt_writes_delimited_text_read_back_by_load(run, tmp_path: Path) -> None:
    runner = run("T: LOAD * Inline [\nA, B\n1, 'x, y'\n2, z\n];\nStore T into t.csv (txt);\n"
                 "Store T into t2.txt (txt, delimiter is ';');\n"
                 "Drop Table T;\nR: LOAD * FROM t.csv (txt);")
    assert (tmp_path / "t.csv").read_bytes().decode("utf-8") == 'A,B\r\n1,"x, y"\r\n2,z\r\n'
    assert (tmp_path / "t2.txt").read_bytes().decode("utf-8") == "A;B\r\n1;x, y\r\n2;z\r\n"
    assert runner.model.tables["R"].texts() == [["1", "x, y"], ["2", "z"]]


@pytest.mark.parametrize("script, message", [
    ("Store Missing into x.qvd;", "Table 'Missing' not found"),
    ("T: LOAD 1 as A AutoGenerate 1;\nStore B from T into x.qvd;", "field 'B' not found"),
    ("T: LOAD 1 as A AutoGenerate 1;\nStore T into x.parquet (parquet);", "Store format not supported"),
    ("T: LOAD * FROM nowhere.qvd (qvd);", "Cannot open file"),
])
def test_store_and_load_errors(run, script: str, message: str) -> None:
    with pytest.raises(ScriptError, match=message):
        run(script)


def test_a_damaged_qvd_fails_with_wrong_format(run, tmp_path: Path) -> None:
    with pytest.raises(ScriptError) as caught:
        run("T: LOAD * FROM bad.qvd (qvd);", files={"bad.qvd": "<QvdTableHeader>not really"})
    assert caught.value.code == 12


def test_store_writes_the_listed_fields_in_their_order(run, tmp_path: Path) -> None:
    """Store's field list picks the fields stored ("fieldlist ... A list of the fields to be
    stored", Store page); that they are written in the listed order is our reading."""
    run("T: LOAD * Inline [\nA, B, C\n1, x, p\n2, y, q\n];\nStore C, A from T into t.csv (txt);\n"
        "Store B, A from T into t.qvd (qvd);")
    assert (tmp_path / "t.csv").read_bytes().decode("utf-8") == "C,A\r\np,1\r\nq,2\r\n"
    table = QvdTable.from_qvd(str(tmp_path / "t.qvd"))
    assert table.columns == ["B", "A"]
    assert [[v.display_value for v in row] for row in table.data] == [["x", "1"], ["y", "2"]]


def test_rows_holding_one_symbol_share_one_value(run, tmp_path: Path) -> None:
    """Memory: a field read from a QVD file has one value object per symbol, not per row."""
    rows = [[StringValue("a"), DualIntegerValue(1, "Jan")], [StringValue("b"), DualIntegerValue(1, "Jan")],
            [StringValue("a"), None]]
    QvdTable(rows, ["S", "M"]).to_qvd(str(tmp_path / "few.qvd"))
    loaded = run("T: LOAD * FROM few.qvd (qvd);").model.tables["T"].rows
    assert loaded[0][0] is loaded[2][0] and loaded[0][1] is loaded[1][1]
    assert [[None if v is None else v.text for v in row] for row in loaded] == [["a", "Jan"], ["b", "Jan"], ["a", None]]


def test_building_rows_pauses_the_collector_and_always_restores_it() -> None:
    assert gc.isenabled()
    with pytest.raises(ValueError):
        with building_rows():
            with building_rows():
                assert not gc.isenabled()
            assert not gc.isenabled()  # the outer use still holds it
            raise ValueError("a failed LOAD")
    assert gc.isenabled()


def test_store_of_many_rows_leaves_no_garbage(run, tmp_path: Path) -> None:
    """PyQvd's writer refers to itself: it is freed when the Store ends, not left to the collector."""
    gc.collect()  # earlier tests' small Stores
    gc.disable()
    try:
        run("T: LOAD RecNo() as A, Mod(RecNo(), 7) as B AutoGenerate 100;\nStore T into t.qvd (qvd);")
        assert not [o for o in gc.get_objects() if type(o).__name__ == "QvdFileWriter"]
    finally:
        gc.enable()
