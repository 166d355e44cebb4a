"""Statements, dollar expansion and control flow: (page, script, expected).

Expected is a dict with any of: "vars" {name: text or None}, "tables" {name: (fields, rows)},
"trace" [lines], "absent" [variable names that must not exist]. Most scripts are the examples
on the cited help.qlik.com page, with file sources replaced by inline data or Trace.
"""
from __future__ import annotations

import pytest

HUB = "https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/"
CTRL = HUB + "ScriptControlStatements/"
REG = HUB + "ScriptRegularStatements/"
DOLLAR = HUB + "dollar-sign-expansion-variable.htm"
PARAMS = HUB + "dollar-sign-expansion-parameters.htm"
EXPANSION = HUB + "dollar-sign-expansion-expression.htm"
NESTED = HUB + "dollar-sign-expansion.htm"
ERRORS = HUB + "ErrorVariables/"

CASES = [
    # ---- Set and Let
    (REG + "Let.htm", "Set x=3+4;\nLet y=3+4;\nz=$(y)+1;", {"vars": {"x": "3+4", "y": "7", "z": "8"}}),
    (REG + "Let.htm", "Let a = 'It''s';", {"vars": {"a": "It's"}}),
    (REG + "Let.htm", "Let a = 10 / 4;", {"vars": {"a": "2.5"}}),
    (REG + "Let.htm", "Let a = Null();", {"vars": {"a": None}}),
    (REG + "Set.htm", "Set FileToUse=Data1.csv;", {"vars": {"FileToUse": "Data1.csv"}}),
    (REG + "Set.htm", "Set BudgetYear = 2012;", {"vars": {"BudgetYear": "2012"}}),
    (REG + "Set.htm", "Set vDateFormat = 'YYYY-MM-DD';", {"vars": {"vDateFormat": "YYYY-MM-DD"}}),
    (REG + "Set.htm", "Set x = ;", {"vars": {"x": ""}}),
    (REG + "Set.htm", "Set vList = 'a', 'b';", {"vars": {"vList": "'a', 'b'"}}),
    (REG + "Set.htm", "Set x = 1;\nset x;", {"vars": {"x": ""}}),
    (REG + "Set.htm", "SET vA = 1; set VA = 2;", {"vars": {"vA": "1", "VA": "2"}}),
    (HUB + "work-with-variables-in-data-load-editor.htm", "set x = Today();", {"vars": {"x": "Today()"}}),
    (HUB + "work-with-variables-in-data-load-editor.htm", "set x = 3 + 4;\nlet y = 3 + 4;", {"vars": {"x": "3 + 4", "y": "7"}}),
    (HUB + "work-with-variables-in-data-load-editor.htm",
     "Set ErrorMode = 0;\nDrop Table Nope;\nSet ErrorMode = 1;\n"
     "IF $(ScriptErrorCount) >= 1 THEN LOAD $(ScriptErrorCount) AS Errors AutoGenerate 1; END IF",
     {"tables": {"AUTOGENERATE": (["Errors"], [["1"]])}}),
    (REG + "DropVariable.htm", "Let a = 1; Let b = 2; Let c = 3;\nDrop Variables a, b;", {"vars": {"c": "3"}, "absent": ["a", "b"]}),
    (REG + "Let.htm", "Let vName = 'vTarget';\nLet $(vName) = 42;", {"vars": {"vTarget": "42"}}),
    (REG + "Let.htm", "Let [v x] = 1 + 1;", {"vars": {"v x": "2"}}),
    # ---- dollar-sign expansion
    (DOLLAR, "Set Mypath=C:\\MyDocs\\Files\\;\nSet f = $(Mypath)abc.csv;",
     {"vars": {"f": "C:\\MyDocs\\Files\\abc.csv"}}),
    (DOLLAR, "Let X = 7/2;\nSet a = $(X);\nSet b = $(#X);", {"vars": {"a": "3.5", "b": "3.5"}}),
    # an undefined variable expands to nothing; Set then strips the enclosing [ ] (values.yaml)
    (DOLLAR, "Set a = [$(undefined)];\nSet b = <$(undefined)>;", {"vars": {"a": "", "b": "<>"}}),
    (DOLLAR, "Set x = 'red';\nSet y = 'blue';\nSet z = '$(x) $(y)';\nLet MyString='$(x)'&' green '&'$(y)';\n"
     "MyTable:\nLoad '$(x)' as X, '$(y)' as Y, '$(z)' as Z, '$(MyString)' as NewString autogenerate 1;",
     {"vars": {"z": "red blue", "MyString": "red green blue"},
      "tables": {"MyTable": (["X", "Y", "Z", "NewString"], [["red", "blue", "red blue", "red green blue"]])}}),
    (DOLLAR, "Set vConcatenate = ;\nFor each vFile in 'a', 'b'\nData:\n$(vConcatenate)\n"
     "LOAD '$(vFile)' as File, RecNo() as N$(vFile) AutoGenerate 1;\nSet vConcatenate = Concatenate ;\nNext vFile",
     {"tables": {"Data": (["File", "Na", "Nb"], [["a", "1", None], ["b", None, "1"]])}}),
    (DOLLAR, "Set b = $(#undefined);", {"vars": {"b": "0"}}),
    (DOLLAR, "Set v = Butler;\nLet s = '$(v)' & '!';", {"vars": {"s": "Butler!"}}),
    (PARAMS, "Set MUL='$1*$2';\nSet X=$(MUL(3,7));", {"vars": {"X": "3*7"}}),
    (PARAMS, "Set MUL='$1*$2';\nLet X=$(MUL(3,7));", {"vars": {"X": "21"}}),
    (PARAMS, "Set MUL='$1*$2';\nSet X=$(MUL);", {"vars": {"X": "$1*$2"}}),
    (PARAMS, "Set MUL='$1*$2';\nSet X=$(MUL(10));", {"vars": {"X": "10*$2"}}),
    (PARAMS, "Set MUL='$1*$2';\nLet X=$(MUL(5,7,8));", {"vars": {"X": "35"}}),
    (PARAMS, "Set MUL='$1*$2 $0 par';\nSet X=$(MUL(3,7));", {"vars": {"X": "3*7 2 par"}}),
    (PARAMS, "Set F='$1-$2';\nSet X=$(F('a,b', (1,2)));", {"vars": {"X": "'a,b'-(1,2)"}}),
    (EXPANSION, "Set a = $(=2*3);", {"vars": {"a": "6"}}),
    (EXPANSION, "Let n = 4;\nSet a = $(=n + 1);", {"vars": {"a": "5"}}),
    (EXPANSION, "Set a = x$(=Null())y;", {"vars": {"a": "xy"}}),
    (EXPANSION, "Set a = $(=Replace('a)b', ')', '-'));", {"vars": {"a": "a-b"}}),
    (NESTED, "Set i = 2;\nSet v2 = two;\nSet a = $(v$(i));", {"vars": {"a": "two"}}),
    (NESTED, "Set inner = $1!;\nSet which = inner;\nSet a = $($(which)(hi));", {"vars": {"a": "hi!"}}),
    (NESTED, "Set a = 1;\nSet b = $(a)$(a)$(a);", {"vars": {"b": "111"}}),
    (NESTED, "Let a = '$' & '(b)';\nSet b = x;\nSet c = $(a);", {"vars": {"c": "$(b)"}}),
    (REG + "Trace.htm", "Let vMsg = 'Main table loaded';\nTrace $(vMsg);", {"trace": ["Main table loaded"]}),
    (REG + "Trace.htm", "Trace Main table loaded;", {"trace": ["Main table loaded"]}),
    (REG + "Trace.htm", "TRACE >>> 'quoted' text;", {"trace": [">>> 'quoted' text"]}),
    (REG + "Trace.htm", "Trace;", {"trace": [""]}),
    (REG + "Sleep.htm", "Sleep 10000;\nLet done = 1;", {"vars": {"done": "1"}}),
    # ---- When / Unless prefixes
    (HUB + "ScriptPrefixes/When.htm", "Let A = 1;\nwhen A=1 Let r = 'ran';", {"vars": {"r": "ran"}}),
    (HUB + "ScriptPrefixes/When.htm", "Let A = 2;\nwhen A=1 Let r = 'ran';", {"absent": ["r"]}),
    (HUB + "ScriptPrefixes/When.htm", "T: Load * Inline [\nX\n1\n];\nLet A = 1; Let B = 3;\nwhen A=1 unless B=2 drop table T;",
     {"absent": ["T"]}),
    (HUB + "ScriptPrefixes/Unless.htm", "Let A = 1;\nunless A=1 Let r = 'ran';", {"absent": ["r"]}),
    (HUB + "ScriptPrefixes/When.htm", "Let A = 1;\nwhen A=1 T: Load 1 as X AutoGenerate 2;", {"tables": {"T": (["X"], [["1"], ["1"]])}}),
    # ---- If
    (CTRL + "If.htm", "Let a = 1;\nif a=1 then\n  Let b = 'one';\nend if", {"vars": {"b": "one"}}),
    (CTRL + "If.htm", "Let a = 2;\nif a=1 then\n  Let b = 'one';\nend if", {"absent": ["b"]}),
    (CTRL + "If.htm", "Let a = 1;\nif a=1 then; Let b = 'x'; end if;", {"vars": {"b": "x"}}),
    (CTRL + "If.htm", "Let a = 1;\nif a=1 then Let b = 'x'; Let c = 'y'; end if", {"vars": {"b": "x", "c": "y"}}),
    (CTRL + "If.htm", "Let x = 5;\nif x>0 then\nLet r='pos';\nelseif x<0 then\nLet r='neg';\nelse\nLet r='zero';\nend if",
     {"vars": {"r": "pos"}}),
    (CTRL + "If.htm", "Let x = -5;\nif x>0 then\nLet r='pos';\nelseif x<0 then\nLet r='neg';\nelse\nLet r='zero';\nend if",
     {"vars": {"r": "neg"}}),
    (CTRL + "If.htm", "Let x = 0;\nif x>0 then\nLet r='pos';\nelseif x<0 then\nLet r='neg';\nelse\nLet r='zero';\nend if",
     {"vars": {"r": "zero"}}),
    (CTRL + "If.htm", "IF 1 THEN LET a=1; ELSE LET a=2; END IF", {"vars": {"a": "1"}}),
    (CTRL + "If.htm", "IF 0 THEN LET a=1; ELSE LET a=2; END IF", {"vars": {"a": "2"}}),
    (CTRL + "If.htm", "if 1 then\n if 0 then\n  Let a = 'inner';\n else\n  Let a = 'nested else';\n end if\nend if",
     {"vars": {"a": "nested else"}}),
    (CTRL + "If.htm", "Set v = 3;\nif $(v) > 2 then\nLet r = 'big';\nend if", {"vars": {"r": "big"}}),
    (CTRL + "If.htm", "if 'abc' = 'abc' then\nLet r = 1;\nend if", {"vars": {"r": "1"}}),
    (CTRL + "If.htm", "if (vMissing <> Null) then\nLet r = 'set';\nelse\nLet r = 'null';\nend if",
     {"vars": {"r": "null"}}),
    (CTRL + "If.htm", "Let vX = 'a';\nif (vX <> Null) then\nLet r = 'set';\nelse\nLet r = 'null';\nend if",
     {"vars": {"r": "set"}}),
    (CTRL + "If.htm", "if Null() then\nLet r = 'true';\nelse\nLet r = 'false';\nend if", {"vars": {"r": "false"}}),
    # ---- For ... Next
    (CTRL + "ForNext.htm", "Let s = '';\nFor a=1 to 9\nLet s = s & a;\nNext", {"vars": {"s": "123456789", "a": "9"}}),
    (CTRL + "ForNext.htm", "Let s = '';\nFor counter=1 to 9 step 2\nLet s = s & counter;\nNext counter",
     {"vars": {"s": "13579"}}),
    (CTRL + "ForNext.htm", "Let s = '';\nFor i = 3 to 1 step -1\nLet s = s & i;\nNext", {"vars": {"s": "321"}}),
    (CTRL + "ForNext.htm", "Let s = 'x';\nFor i = 1 to 0\nLet s = s & i;\nNext", {"vars": {"s": "x"}}),
    (CTRL + "ForNext.htm", "Let s = '';\nFor i = 0 to 1 step 0.25\nLet s = s & i & ' ';\nNext",
     {"vars": {"s": "0 0.25 0.5 0.75 1 "}}),
    (CTRL + "ForNext.htm", "T: Load * Inline [\nx\n1\n2\n3\n];\nLet n = NoOfRows('T');\nLet s = 0;\n"
     "For i = 0 to n - 1\nLet s = s + Peek('x', i, 'T');\nNext", {"vars": {"s": "6"}}),
    (CTRL + "ForNext.htm", "Let s = '';\nFor i = 1 to 3\nFor j = 1 to 2\nLet s = s & i & j & ',';\nNext j\nNext i",
     {"vars": {"s": "11,12,21,22,31,32,"}}),
    (CTRL + "Exit.htm", "Let s = '';\nFor i = 1 to 10\nExit For when i = 4\nLet s = s & i;\nNext",
     {"vars": {"s": "123"}}),
    (CTRL + "Exit.htm", "Let s = '';\nFor i = 1 to 10\nExit For unless i < 3\nLet s = s & i;\nNext",
     {"vars": {"s": "12"}}),
    # ---- For Each
    (CTRL + "ForEach.htm", "Let s = '';\nFor Each a in 1, 3, 7, 'xyz'\nLet s = s & a & '|';\nNext a",
     {"vars": {"s": "1|3|7|xyz|"}}),
    (CTRL + "ForEach.htm", "Let s = '';\nSet vList = 'x', 'y';\nFor Each a in $(vList)\nLet s = s & a;\nNext",
     {"vars": {"s": "xy"}}),
    (CTRL + "ForEach.htm", "T: Load * Inline [\nF\nb\na\nb\nc\n];\nLet s = '';\n"
     "For Each v in FieldValueList('F')\nLet s = s & v;\nNext", {"vars": {"s": "bac"}}),
    (CTRL + "ForEach.htm", "Let s = '';\nFor Each v in 1+1, 'a' & 'b'\nLet s = s & v;\nNext", {"vars": {"s": "2ab"}}),
    (CTRL + "ForEach.htm", "Let s = '';\nFor Each v in FieldValueList('Nothing')\nLet s = s & v;\nNext",
     {"vars": {"s": ""}}),
    # ---- Do ... Loop
    (CTRL + "DoLoop.htm", "Set a=1;\nDo while a<10\nLet a=a+1;\nLoop", {"vars": {"a": "10"}}),
    (CTRL + "DoLoop.htm", "Set a=1;\nDo until a>=5\nLet a=a+1;\nLoop", {"vars": {"a": "5"}}),
    (CTRL + "DoLoop.htm", "Set a=1;\nDo\nLet a=a+1;\nLoop while a<10", {"vars": {"a": "10"}}),
    (CTRL + "DoLoop.htm", "Set a=1;\nDo\nLet a=a+1;\nLoop until a>3", {"vars": {"a": "4"}}),
    (CTRL + "DoLoop.htm", "Set a=100;\nDo\nLet a=a+1;\nLoop while a<10", {"vars": {"a": "101"}}),
    (CTRL + "DoLoop.htm", "Set a=100;\nDo while a<10\nLet a=a+1;\nLoop", {"vars": {"a": "100"}}),
    (CTRL + "Exit.htm", "Set a=0;\nDo\nLet a=a+1;\nExit Do when a=3\nLoop", {"vars": {"a": "3"}}),
    (CTRL + "Exit.htm", "Set n=0;\nFor i = 1 to 3\nDo\nLet n=n+1;\nExit Do\nLoop\nNext", {"vars": {"n": "3"}}),
    # ---- Switch
    (CTRL + "Switch.htm", "Let I = 1;\nSwitch I\nCase 1\nLet c = '$(I): CASE 1';\nCase 2\nLet c = '$(I): CASE 2';\n"
     "Default\nLet c = '$(I): DEFAULT';\nEnd Switch", {"vars": {"c": "1: CASE 1"}}),
    (CTRL + "Switch.htm", "Let I = 2;\nSwitch I\nCase 1\nLet c = 'one';\nCase 2\nLet c = 'two';\nDefault\nLet c = 'other';\nEnd Switch",
     {"vars": {"c": "two"}}),
    (CTRL + "Switch.htm", "Let I = 9;\nSwitch I\nCase 1\nLet c = 'one';\nDefault\nLet c = 'other';\nEnd Switch",
     {"vars": {"c": "other"}}),
    (CTRL + "Switch.htm", "Let I = 'b';\nSwitch I\nCase 'a', 'b'\nLet c = 'a or b';\nEnd Switch", {"vars": {"c": "a or b"}}),
    (CTRL + "Switch.htm", "Let I = 'z';\nSwitch I\nCase 'a'\nLet c = 'a';\nEnd Switch", {"absent": ["c"]}),
    # ---- Sub and Call
    (CTRL + "Sub.htm", "Sub INCR (I,J)\nI = I + 1;\nExit Sub when I < 10\nJ = J + 1;\nEnd Sub\n"
     "Let X = 1; Let Y = 1;\nCall INCR (X,Y)", {"vars": {"X": "2", "Y": "1"}}),
    (CTRL + "Sub.htm", "Sub INCR (I,J)\nI = I + 1;\nExit Sub when I < 10\nJ = J + 1;\nEnd Sub\n"
     "Let X = 9; Let Y = 1;\nCall INCR (X,Y)", {"vars": {"X": "10", "Y": "2"}}),
    (CTRL + "Sub.htm", "Sub ParTrans (A,B,C)\nA=A+1;\nB=B+1;\nC=C+1;\nEnd Sub\nA=1;\nX=1;\nC=1;\nCall ParTrans (A, (X+1)*2)",
     {"vars": {"A": "2", "X": "1", "C": "1"}, "absent": ["B"]}),
    (CTRL + "Sub.htm", "Sub Show(p, q)\nLet seen = If(IsNull(q), 'q is null', q);\nEnd Sub\nCall Show('a')",
     {"vars": {"seen": "q is null"}, "absent": ["p", "q"]}),
    (CTRL + "Sub.htm", "Sub NoArgs\nLet ran = 'yes';\nEnd Sub\nCall NoArgs", {"vars": {"ran": "yes"}}),
    (CTRL + "Sub.htm", "Sub NoArgs\nLet ran = 'yes';\nEnd Sub\nCall NoArgs();", {"vars": {"ran": "yes"}}),
    (CTRL + "Call.htm", "Sub Outer(v)\nCall Inner(v & '1')\nEnd Sub\nSub Inner(w)\nLet got = w;\nEnd Sub\nCall Outer('a')",
     {"vars": {"got": "a1"}}),
    (CTRL + "Call.htm", "Sub Fact(n, acc)\nif n > 1 then\nacc = acc * n;\nCall Fact(n - 1, acc)\nend if\nEnd Sub\n"
     "Let r = 1;\nCall Fact(5, r)", {"vars": {"r": "120"}}),
    (CTRL + "Call.htm", "Sub S(a, b, c)\nLet got = If(IsNull(a), 'null', a) & '/' & b & '/' & c;\nEnd Sub\n"
     "Call S(, Null(), 'z')", {"vars": {"got": "null//z"}}),
    (CTRL + "Call.htm", "Sub S(v)\nLet v = 'changed';\nEnd Sub\nLet mine = 'orig';\nCall S(mine)",
     {"vars": {"mine": "changed"}}),
    (CTRL + "Call.htm", "Sub S(v)\nLet v = 'changed';\nEnd Sub\nLet mine = 'orig';\nCall S('$(mine)')",
     {"vars": {"mine": "orig"}}),
    (CTRL + "Call.htm", "Let v = 'global';\nSub S(v)\nLet inside = v;\nEnd Sub\nCall S('param')",
     {"vars": {"v": "global", "inside": "param"}}),
    (CTRL + "Call.htm", "Sub S\nLet g = 'set in sub';\nEnd Sub\nCall S", {"vars": {"g": "set in sub"}}),
    (CTRL + "Call.htm", "sub s(x)\nlet y = x;\nend sub\nCALL S(3)", {"vars": {"y": "3"}}),
    (CTRL + "Exit.htm", "Let a = 1;\nExit Script;\nLet a = 2;", {"vars": {"a": "1"}}),
    (CTRL + "Exit.htm", "Let a = 1;\nExit Script when a = 1;\nLet a = 2;", {"vars": {"a": "1"}}),
    (CTRL + "Exit.htm", "Let a = 1;\nExit Script when a = 2;\nLet a = 2;", {"vars": {"a": "2"}}),
    (CTRL + "Exit.htm", "Sub S\nLet a = 1;\nExit Script\nEnd Sub\nCall S\nLet a = 2;", {"vars": {"a": "1"}}),
    # ---- error variables
    (ERRORS + "ScriptError.htm", "Set ErrorMode=0;\nLOAD * Resident Missing;\nLet e = ScriptError & '|' & Num(ScriptError);",
     {"vars": {"e": "Table not found|10"}}),
    (ERRORS + "ScriptError.htm", "Set ErrorMode=0;\nLOAD * Resident Missing;\nLet a = 1;\nLet n = Num(ScriptError);",
     {"vars": {"n": "0"}}),
    (ERRORS + "ScriptError.htm", "Set ErrorMode=0;\nLOAD * Resident Missing;\nif ScriptError=10 then\nLet r = 'caught';\nend if",
     {"vars": {"r": "caught"}}),
    (ERRORS + "ScriptErrorCount.htm", "Set ErrorMode=0;\nDrop Table X;\nDrop Table Y;\nLet c = ScriptErrorCount;",
     {"vars": {"c": "2"}}),
    (ERRORS + "ErrorMode.htm", "Set ErrorMode=0;\nDrop Table X;\nLet after = 'continued';", {"vars": {"after": "continued"}}),
    (ERRORS + "ScriptError.htm", "T: Load * Inline [\nA\n1\n];\nif ScriptError=0 then\nLet r = 'no error';\nend if",
     {"vars": {"r": "no error", "ScriptErrorCount": "0", "ScriptErrorList": ""}}),
]


@pytest.mark.parametrize("page, script, expected", CASES, ids=[c[1][:50] for c in CASES])
def test_script(run, page: str, script: str, expected: dict) -> None:
    runner = run(script)
    for name, value in expected.get("vars", {}).items():
        assert name in runner.variables, name
        assert runner.variable_text(name) == value, name
    for name in expected.get("absent", []):
        assert name not in runner.variables, name
    for name, (fields, rows) in expected.get("tables", {}).items():
        table = runner.model.tables[name]
        assert (table.fields, table.texts()) == (fields, rows)
    if "trace" in expected:
        assert runner.trace == expected["trace"]


def test_trace_lines_are_printed(run, capsys) -> None:
    import io
    from emulator.runner import Runner
    out = io.StringIO()
    Runner(out=out).run_text("Trace first;\nLet v = 'x';\nTrace second $(v);")
    assert out.getvalue() == "first\nsecond x\n"


def test_sleep_waits_the_given_milliseconds() -> None:
    from emulator.runner import Runner
    waited = []
    Runner(sleep=waited.append).run_text("Sleep 1500;")
    assert waited == [1.5]


def test_relative_names_in_an_included_file_start_at_the_app_folder(run) -> None:
    """Include page: "If you don't specify a path, the filename will be relative to the Qlik
    Sense app working directory" (the main script's folder here), also inside an included file.
    https://help.qlik.com/en-US/cloud-services/Subsystems/Hub/Content/Sense_Hub/Scripting/SystemVariables/Include.htm"""
    runner = run("$(Include=lib/sub.qvs);\nCall FromInclude('x')",
                 files={"lib/sub.qvs": "Let inc = 'included';\n$(Include=deeper.qvs)\n"
                        "Sub FromInclude(v)\nLet called = v;\nT: LOAD a FROM data.csv;\nEnd Sub",
                        "deeper.qvs": "Let deep = 'yes';", "lib/deeper.qvs": "Let deep = 'no';",
                        "data.csv": "a\n1\n"})
    assert (runner.variable_text("inc"), runner.variable_text("deep"),
            runner.variable_text("called")) == ("included", "yes", "x")
    assert runner.model.tables["T"].texts() == [["1"]]


def test_include_of_a_missing_file_is_silent_must_include_fails(run) -> None:
    from emulator.errors import ScriptError
    runner = run("$(Include=missing.qvs);\nLet a = 1;")
    assert runner.variable_text("a") == "1"
    with pytest.raises(ScriptError) as caught:
        run("Let a = 1;\n$(Must_Include=missing.qvs);")
    assert caught.value.line == 2 and caught.value.code == 8


def test_include_path_from_a_variable(run) -> None:
    runner = run("Set vLib = parts;\n$(Must_Include=$(vLib)/x.qvs);", files={"parts/x.qvs": "Let x = 1;"})
    assert runner.variable_text("x") == "1"


def test_include_of_a_lib_path_looks_in_the_script_folder(run) -> None:
    runner = run("$(Must_Include=lib://Scripts/subs/a.qvs);\n$(Must_Include=lib://Other/b.qvs);",
                 files={"Scripts/subs/a.qvs": "Let a = 1;", "b.qvs": "Let b = 2;"})
    assert (runner.variable_text("a"), runner.variable_text("b")) == ("1", "2")


def test_for_each_over_filelist(run) -> None:
    """https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/ScriptControlStatements/ForEach.htm"""
    runner = run("Let s = '';\nFor Each File in FileList('data/*.csv')\nLet s = s & File & ';';\nNext File",
                 files={"data/b.csv": "", "data/a.csv": "", "data/c.txt": ""})
    assert runner.variable_text("s") == "data/a.csv;data/b.csv;"


def test_windows_line_ends_and_byte_order_mark(run) -> None:
    """Scripts exported from Sense on Windows: UTF-8 with BOM, CRLF line ends."""
    script = ("\ufeffSet a = 1;\r\nif a = 1 then\r\n  Let r = 'yes';\r\nend if\r\nSub S(x)\r\n  Let b = x;\r\n"
              "End Sub\r\nCall S(2)\r\nT: Load * Inline [\r\nA, B\r\n1, 2\r\n];\r\n")
    runner = run(script)
    assert (runner.variable_text("r"), runner.variable_text("b")) == ("yes", "2")
    assert runner.model.tables["T"].texts() == [["1", "2"]]
