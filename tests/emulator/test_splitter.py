"""Statement splitting: (script, [(statement text, line), ...]).

Rules from https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/ScriptControlStatements/script-control-statements.htm
(control clauses end at ';' or end of line), .../Scripting/use-quotes-in-script.htm (quoting)
and .../Scripting/ScriptRegularStatements/Rem.htm, .../Scripting/comments-in-script.htm.
"""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.errors import ScriptError
from emulator.splitter import split_statements

CTRL = "https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/ScriptControlStatements/"
HUB = "https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/"

CASES = [
    (HUB + "script-statements-keywords.htm", "Let a = 1; Let b = 2;",
     [("Let a = 1", 1), ("Let b = 2", 1)]),
    (HUB + "script-statements-keywords.htm", "Let a =\n  1 +\n  2;\nLet b = 3;",
     [("Let a =\n  1 +\n  2", 1), ("Let b = 3", 4)]),
    (HUB + "use-quotes-in-script.htm", "Let s = 'a;b';", [("Let s = 'a;b'", 1)]),
    (HUB + "use-quotes-in-script.htm", "Let s = 'it''s; here';", [("Let s = 'it''s; here'", 1)]),
    (HUB + "use-quotes-in-script.htm", 'T: Load "a;b" as x Inline [\nx\n1\n];',
     [('T: Load "a;b" as x Inline [\nx\n1\n]', 1)]),
    (HUB + "use-quotes-in-script.htm", "Load [a;b] Resident T;", [("Load [a;b] Resident T", 1)]),
    (HUB + "use-quotes-in-script.htm", "Load `a;b` Resident T;", [("Load `a;b` Resident T", 1)]),
    (HUB + "comments-in-script.htm", "// a comment; still comment\nLet a = 1;", [("Let a = 1", 2)]),
    (HUB + "comments-in-script.htm", "Let a = 1; // trailing; comment\nLet b = 2;",
     [("Let a = 1", 1), ("Let b = 2", 2)]),
    (HUB + "comments-in-script.htm", "/* block;\n comment */ Let a = 1;", [("Let a = 1", 2)]),
    (HUB + "comments-in-script.htm", "Let a = 1 /* inside */ + 2;", [("Let a = 1   + 2", 1)]),
    (HUB + "comments-in-script.htm", "Let url = 'http://x/y';", [("Let url = 'http://x/y'", 1)]),
    (HUB + "ScriptRegularStatements/Rem.htm", "REM This is a comment\nover two lines;\nLet a = 1;",
     [("Let a = 1", 3)]),
    (HUB + "ScriptRegularStatements/Rem.htm", "Rem x; Let a = 1;", [("Let a = 1", 1)]),
    (HUB + "ScriptRegularStatements/Rem.htm", "Remark = 1;", [("Remark = 1", 1)]),
    (CTRL + "If.htm", "if a=1 then\n  Let b = 2;\nend if",
     [("if a=1 then", 1), ("Let b = 2", 2), ("end if", 3)]),
    (CTRL + "If.htm", "if a=1 then load * from abc.csv; SQL SELECT e, f, g from tab1; end if",
     [("if a=1 then", 1), ("load * from abc.csv", 1), ("SQL SELECT e, f, g from tab1", 1),
      ("end if", 1)]),
    (CTRL + "If.htm", "if x>0 then\nTrace a;\nelseif x<0 then\nTrace b;\nelse\nTrace c;\nend if",
     [("if x>0 then", 1), ("Trace a", 2), ("elseif x<0 then", 3), ("Trace b", 4), ("else", 5),
      ("Trace c", 6), ("end if", 7)]),
    (CTRL + "If.htm", "IF x THEN LET a=1; ELSE LET a=2; END IF",
     [("IF x THEN", 1), ("LET a=1", 1), ("ELSE", 1), ("LET a=2", 1), ("END IF", 1)]),
    (CTRL + "If.htm", "if Authentic then\nTrace x;\nend if",
     [("if Authentic then", 1), ("Trace x", 2), ("end if", 3)]),
    (CTRL + "Sub.htm", "Sub INCR (I,J)\nI = I + 1;\nExit Sub when I < 10\nJ = J + 1;\nEnd Sub\nCall INCR (X,Y)",
     [("Sub INCR (I,J)", 1), ("I = I + 1", 2), ("Exit Sub when I < 10", 3), ("J = J + 1", 4),
      ("End Sub", 5), ("Call INCR (X,Y)", 6)]),
    (HUB + "comments-in-script.htm", "Load * From lib://Data/x.csv; // note",
     [("Load * From lib://Data/x.csv", 1)]),
    (CTRL + "Call.htm", "Call StartTask('a', 'b')\nUnqualify *;",
     [("Call StartTask('a', 'b')", 1), ("Unqualify *", 2)]),
    (CTRL + "ForNext.htm", "For a=1 to 9\nLoad * from file$(a).csv;\nNext",
     [("For a=1 to 9", 1), ("Load * from file$(a).csv", 2), ("Next", 3)]),
    (CTRL + "ForEach.htm", "For Each a in 1, 3, 7, 'xyz'\nTrace $(a);\nNext a",
     [("For Each a in 1, 3, 7, 'xyz'", 1), ("Trace $(a)", 2), ("Next a", 3)]),
    (CTRL + "DoLoop.htm", "do while a<10\nLet a = a + 1;\nloop",
     [("do while a<10", 1), ("Let a = a + 1", 2), ("loop", 3)]),
    (CTRL + "Switch.htm", "switch I\ncase 1\nTrace one;\ndefault\nTrace other;\nend switch",
     [("switch I", 1), ("case 1", 2), ("Trace one", 3), ("default", 4), ("Trace other", 5),
      ("end switch", 6)]),
    (CTRL + "Call.htm", "Call F(a,\n b)\nLet c = 1;", [("Call F(a,\n b)", 1), ("Let c = 1", 3)]),
    (HUB + "ScriptRegularStatements/Include.htm", "$(Include=abc.qvs)\nLet a = 1;",
     [("$(Include=abc.qvs)", 1), ("Let a = 1", 2)]),
    (HUB + "ScriptRegularStatements/Include.htm", "$(Must_Include=lib://x/abc.qvs);",
     [("$(Must_Include=lib://x/abc.qvs)", 1)]),
    (HUB + "script-statements-keywords.htm", "\ufeff;;\n  ;Let a = 1", [("Let a = 1", 2)]),
    (HUB + "ScriptRegularStatements/Trace.htm", "Trace it is 'quoted';", [("Trace it is 'quoted'", 1)]),
]


@pytest.mark.parametrize("page, script, expected", CASES, ids=[c[1][:40] for c in CASES])
def test_split(page: str, script: str, expected: list[tuple[str, int]]) -> None:
    assert [(s.text, s.line) for s in split_statements(script, "x.qvs")] == expected


def test_unterminated_string_names_file_and_line() -> None:
    with pytest.raises(ScriptError) as caught:
        split_statements("Let a = 1;\nLet b = 'open;\n", "main.qvs")
    assert (caught.value.file, caught.value.line) == ("main.qvs", 2)


# ---- properties: any mix of statements, strings holding ';', comments and blank lines splits
# back into exactly the statements written, each on the line it starts on.
_texts = st.text(alphabet="ab ;/*'\"[]`", max_size=8)
_literal = st.one_of(_texts.map(lambda t: "'" + t.replace("'", "''") + "'"),
                     _texts.filter(lambda t: "]" not in t).map(lambda t: "[" + t + "]"),
                     _texts.map(lambda t: '"' + t.replace('"', '""') + '"'))
_statement = st.lists(_literal, min_size=1, max_size=3).map(lambda parts: "Let v = " + " & ".join(parts))
_noise = st.sampled_from(["", "\n", "  ", "// note ; 'x\n", "/* a;\n b */", "\n\n"])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(_noise, _statement), min_size=1, max_size=6))
def test_split_property(items) -> None:
    script, expected, line = "", [], 1
    for noise, statement in items:
        script += noise
        line = script.count("\n") + 1
        expected.append((statement, line))
        script += statement + ";"
    assert [(s.text, s.line) for s in split_statements(script, "x.qvs")] == expected
