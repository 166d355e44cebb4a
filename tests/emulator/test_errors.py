"""Failures name the file, the line and the statement; unsupported syntax is never skipped."""
from __future__ import annotations

import pytest

from emulator.errors import InternalError, ScriptError

CASES = [
    # (script, line, text in the message, code)
    ("Let a = 1;\nExecute cmd.exe;", 2, "Unsupported statement: Execute", 2),
    ("Let a = 1;\n\nT: Load * From lib://data/x.xml (xmlsimple);", 3, "Only delimited text, Excel (ooxml, biff) and QVD files", 2),
    ("T: Load * From lib://data/missing.csv (txt);", 1, "Cannot open file", 8),
    ("T: Load * Extension R.ScriptEval('x');", 1, "Unsupported LOAD source", 2),
    ("T: Load * Inline [\nA\n1\n];\nSemantic Load * Inline [\nA\n1\n];", 5, "Unsupported statement prefix: Semantic", 2),
    ("T: Load * Inline [\nA\n1\n];\nOuter Keep Load * Inline [\nA\n1\n];", 5, "Keep needs inner, left or right", 2),
    ("Execute cmd.exe /c dir;", 1, "Unsupported statement: Execute", 2),
    ("T: Load A Inline [\nA\n1\n] (msq, explicit labels);", 1, "Unsupported file format option: explicit labels", 2),
    ("Let a = 1 +;", 1, "Syntax error", 2),
    ("Let a = NoSuchFunction(1);", 1, "NoSuchFunction", 2),
    ("Let a = Len(1, 2);", 1, "Wrong number of arguments", 2),
    ("Let a = 1;\nif a = 1 then\nLet b = 2;", 2, "never closed", 2),
    ("Let a = 1;\nend if", 2, "no matching opening statement", 2),
    ("For i = 1 to 2\nLet a = 1;", 1, "never closed", 2),
    ("Next i", 1, "no matching opening statement", 2),
    ("if 1 then\nelse\nelseif 2 then\nend if", 3, "no matching opening statement", 2),
    ("Switch 1\nLet a = 1;\nCase 1\nEnd Switch", 1, "Only Case or Default", 2),
    ("Sub S\nif 1 then\nEnd Sub\nCall S", 2, "never closed", 2),
    ("Sub S\nLet a = 1;", 1, "never closed", 2),
    ("Call Missing('x')", 1, "Sub 'Missing' not found", 1),
    ("Sub S(a)\nEnd Sub\nCall S(1, 2)", 3, "takes 1 parameters", 1),
    ("Let a = 1;\nSub S\n  Let b = 2;\n  Drop Table Nope;\nEnd Sub\nCall S", 4, "Table 'Nope' not found", 10),
    ("Let a =\n  1 +\n  ;", 1, "Syntax error", 2),
    ("For i = 'a' to 3\nNext", 1, "not a number", 1),
    ("Exit Sub", 1, "Exit Sub outside", 1),
    ("LIB CONNECT TO 'Nowhere';", 1, "no such connection", 9),
    ("SQL SELECT \"a\" FROM JSON (wrap on) \"root\";", 1, "without a LIB CONNECT", 1),
    ("Set x = $(unclosed;", 1, "Unclosed dollar-sign expansion", 2),
]


@pytest.mark.parametrize("script, line, message, code", CASES, ids=[c[2] for c in CASES])
def test_error_location(run, tmp_path, script: str, line: int, message: str, code: int) -> None:
    with pytest.raises(ScriptError) as caught:
        run(script)
    error = caught.value
    assert message in error.message
    assert (error.file, error.line, error.code) == (str(tmp_path / "main.qvs"), line, code)
    assert error.statement
    assert f"main.qvs:{line}:" in str(error)


def test_error_in_an_included_file_names_that_file(run, tmp_path) -> None:
    with pytest.raises(ScriptError) as caught:
        run("Let a = 1;\n$(Include=lib.qvs);", files={"lib.qvs": "\n\nLet b = (;"})
    assert (caught.value.file, caught.value.line) == (str(tmp_path / "lib.qvs"), 3)


def test_unsupported_syntax_stops_even_with_errormode_0(run) -> None:
    with pytest.raises(ScriptError) as caught:
        run("Set ErrorMode = 0;\nExecute cmd.exe /c dir;\nLet after = 1;")
    assert caught.value.line == 2


def test_errormode_0_records_the_error_and_goes_on(run) -> None:
    runner = run("Set ErrorMode = 0;\nDrop Table A;\nLet after = 1;")
    assert runner.variable_text("after") == "1"
    assert runner.variable_text("ScriptErrorList") == "Table 'A' not found"


def test_subs_are_not_checked_until_called(run) -> None:
    """Butler's file defines subs for connections most apps lack; including it must work."""
    runner = run("Sub Unused\n  URL_Map:\n  Mapping LOAD A, B FROM [lib://URL encode table] (html, utf8);\nEnd Sub\nLet ok = 1;")
    assert runner.variable_text("ok") == "1"


def test_uncalled_subs_are_not_structured(run) -> None:
    """Butler's butler_subs.qvs ends an If with 'endif' in a Sub most apps never call."""
    runner = run("Sub PostToSlack(c)\nif c = 1 then\nLet a = 1;\nendif\nEnd Sub\nLet ok = 1;")
    assert runner.variable_text("ok") == "1"


def test_a_fault_of_the_emulator_is_located_and_stops_even_with_errormode_0(run, monkeypatch) -> None:
    """A Python exception inside the emulator (a bug, simulated: none is known to produce one)
    is reported with file, line and statement, and is never counted as the script's error."""
    from emulator import functions

    def broken(x):
        raise RuntimeError("simulated fault")
    monkeypatch.setitem(functions.FUNCTIONS, "len",
                        functions.ScriptFunction("Len", broken, 1, 1, functions.Nulls.PROPAGATE, False))
    with pytest.raises(InternalError) as caught:
        run("Set ErrorMode = 0;\nLet a = 1;\nLet b = Len('x');\nLet after = 1;")
    assert caught.value.line == 3 and "Len('x')" in caught.value.statement
    assert "RuntimeError: simulated fault" in caught.value.message


def test_the_command_shows_a_fault_with_its_traceback(tmp_path, monkeypatch, capsys) -> None:
    from emulator import cli, functions

    def broken(x):
        raise RuntimeError("simulated fault")
    monkeypatch.setitem(functions.FUNCTIONS, "len",
                        functions.ScriptFunction("Len", broken, 1, 1, functions.Nulls.PROPAGATE, False))
    (tmp_path / "s.qvs").write_text("Let b = Len('x');\n", encoding="utf-8")
    assert cli.main([str(tmp_path / "s.qvs")]) == 1
    err = capsys.readouterr().err
    assert "s.qvs:1: emulator fault, please report it: RuntimeError: simulated fault" in err
    assert "Traceback" in err and "in broken" in err
