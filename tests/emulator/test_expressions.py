"""Operators, precedence, NULL and dual semantics: (page, expression, expected).

Expected: a str is the text shown, an int/float the number (text compared too for ints),
None is NULL. Qlik's TRUE is -1 and FALSE 0.
"""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.errors import ScriptError
from emulator.runner import Runner
from emulator.values import from_text

OPS = "https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/Operators/"
NULLS = ("https://help.qlik.com/en-US/qlikview/May2023/Subsystems/Client/Content/QV_QlikView/"
         "Scripting/propagate-null-values-expressions.htm")
EXPR = "https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/script-expressions.htm"
QUOTES = "https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/use-quotes-in-script.htm"
NUMBERS = ("https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/"
           "number-interpretation.htm")

CASES = [
    # numeric operators
    (OPS + "NumericOperators.htm", "2 + 3", 5),
    (OPS + "NumericOperators.htm", "2 - 3", -1),
    (OPS + "NumericOperators.htm", "2 * 3", 6),
    (OPS + "NumericOperators.htm", "7 / 2", 3.5),
    (OPS + "NumericOperators.htm", "-(2 + 3)", -5),
    (OPS + "NumericOperators.htm", "1 + 2 * 3", 7),
    (OPS + "NumericOperators.htm", "(1 + 2) * 3", 9),
    (OPS + "NumericOperators.htm", "10 - 4 - 3", 3),
    (OPS + "NumericOperators.htm", "12 / 2 / 3", 2),
    (OPS + "NumericOperators.htm", "'3' + '4'", 7),
    (OPS + "NumericOperators.htm", "'a' + 1", None),
    (OPS + "NumericOperators.htm", "1 / 0", None),
    (OPS + "NumericOperators.htm", "0.1 + 0.2", "0.3"),
    (OPS + "NumericOperators.htm", "1.50 * 2", 3),
    (OPS + "NumericOperators.htm", "2.5e2", 250),
    # string operators
    (OPS + "StringOperators.htm", "'abc' & 'xyz'", "abcxyz"),
    (OPS + "StringOperators.htm", "'a' & 1 + 2", "a3"),
    (OPS + "StringOperators.htm", "1 & 2", "12"),
    (OPS + "StringOperators.htm", "'abc' like 'a*'", -1),
    (OPS + "StringOperators.htm", "'abcd' like 'a?c*'", -1),
    (OPS + "StringOperators.htm", "'abc' like 'a??bc'", 0),
    (OPS + "StringOperators.htm", "'a.b' like 'a.b'", -1),
    # relational operators
    (OPS + "RelationalOperators.htm", "1 < 2", -1),
    (OPS + "RelationalOperators.htm", "2 <= 2", -1),
    (OPS + "RelationalOperators.htm", "3 > 2", -1),
    (OPS + "RelationalOperators.htm", "2 >= 3", 0),
    (OPS + "RelationalOperators.htm", "2 = 2.0", -1),
    (OPS + "RelationalOperators.htm", "2 <> 2", 0),
    (OPS + "RelationalOperators.htm", "'10' > '9'", -1),
    (OPS + "RelationalOperators.htm", "'b' > 'a'", -1),
    (OPS + "RelationalOperators.htm", "'abc' = 'abc'", -1),
    (OPS + "RelationalOperators.htm", "'1 ' precedes ' 2'", 0),
    (OPS + "RelationalOperators.htm", "' 1' precedes ' 2'", -1),
    (OPS + "RelationalOperators.htm", "'1 ' < ' 2'", -1),
    (OPS + "RelationalOperators.htm", "' 1' < ' 2'", -1),
    (OPS + "RelationalOperators.htm", "' 2' follows '1 '", 0),
    (OPS + "RelationalOperators.htm", "' 2' follows ' 1'", -1),
    (OPS + "RelationalOperators.htm", "' 2' > ' 1'", -1),
    (OPS + "RelationalOperators.htm", "' 2' > '1 '", -1),
    # logical operators
    (OPS + "LogicalOperators.htm", "not 0", -1),
    (OPS + "LogicalOperators.htm", "not 5", 0),
    (OPS + "LogicalOperators.htm", "1 and 0", 0),
    (OPS + "LogicalOperators.htm", "1 and 2", -1),
    (OPS + "LogicalOperators.htm", "0 or 2", -1),
    (OPS + "LogicalOperators.htm", "1 xor 1", 0),
    (OPS + "LogicalOperators.htm", "1 xor 0", -1),
    (OPS + "LogicalOperators.htm", "1 = 1 and 2 = 2", -1),
    (OPS + "LogicalOperators.htm", "1 = 2 or 2 = 2 and 3 = 4", 0),
    (OPS + "LogicalOperators.htm", "not 1 = 2", -1),
    # bit operators
    (OPS + "BitOperators.htm", "bitnot 17", -18),
    (OPS + "BitOperators.htm", "17 bitand 7", 1),
    (OPS + "BitOperators.htm", "17 bitor 7", 23),
    (OPS + "BitOperators.htm", "17 bitxor 7", 22),
    (OPS + "BitOperators.htm", "8 >> 2", 2),
    (OPS + "BitOperators.htm", "8 << 2", 32),
    # NULL propagation
    (NULLS, "1 + Null()", None),
    (NULLS, "1 - Null()", None),
    (NULLS, "1 / Null()", None),
    (NULLS, "1 * Null()", None),
    (NULLS, "Null() / 1", None),
    (NULLS, "0 / Null()", None),
    (NULLS, "0 * Null()", None),
    (NULLS, "'A' & Null()", "A"),
    (NULLS, "Null() & 'A'", "A"),
    (NULLS, "Null() = Null()", None),
    (NULLS, "Null() < Null()", None),
    (NULLS, "'A' <> Null()", -1),
    (NULLS, "'A' < Null()", 0),
    (NULLS, "'A' <= Null()", 0),
    (NULLS, "'A' = Null()", 0),
    (NULLS, "'A' >= Null()", 0),
    (NULLS, "'A' > Null()", 0),
    (NULLS, "-Null()", None),
    (NULLS, "IsNull(Null())", -1),
    (NULLS, "If(Null(), 'A', 'B')", "B"),
    (NULLS, "If(1=1, Null(), 'A')", None),
    (NULLS, "undefinedVariable", None),
    (NULLS, "Null <> Null", None),
    # literals and quoting
    (QUOTES, "'It''s'", "It's"),
    (QUOTES, "''", ""),
    (QUOTES, "'say \"hi\"'", 'say "hi"'),
    (EXPR, "'2' & '3'", "23"),
    (EXPR, "Len('abc') * 2", 6),
    (EXPR, "Upper('a' & 'b')", "AB"),
    (EXPR, "If(2 > 1, 'yes', 'no')", "yes"),
    (NUMBERS, "'12' = 12", -1),
    (NUMBERS, "'012' = 12", -1),
    (NUMBERS, "'1e2' = 100", -1),
]


def check(value, expected) -> None:
    if expected is None:
        assert value is None
    elif isinstance(expected, str):
        assert value is not None and value.text == expected
    else:
        assert value is not None and value.num == pytest.approx(expected)
        if isinstance(expected, int):
            assert value.text == str(expected)


@pytest.mark.parametrize("page, expression, expected", CASES, ids=[c[1] for c in CASES])
def test_expression(page: str, expression: str, expected) -> None:
    check(Runner().evaluate(expression), expected)


VARIABLE_CASES = [
    # A variable read by name in an expression keeps what Let stored; Set stores text,
    # which compares as a number when it reads as one.
    (EXPR, {"vN": "5"}, "vN + 1", 6),
    (EXPR, {"vN": "5"}, "vN > 3", -1),
    (EXPR, {"vS": "abc"}, "vS & 'd'", "abcd"),
    (NULLS, {"vX": "x"}, "vX <> Null", -1),
    (NULLS, {}, "vX <> Null", None),
]


@pytest.mark.parametrize("page, variables, expression, expected", VARIABLE_CASES,
                         ids=[c[2] for c in VARIABLE_CASES])
def test_expression_with_variables(page: str, variables: dict, expression: str, expected) -> None:
    runner = Runner(variables=variables)
    check(runner.evaluate(expression), expected)


def test_dual_value_keeps_text_and_number() -> None:
    runner = Runner()
    runner.variables["d"] = from_text("007")
    assert runner.evaluate("d").text == "007"
    assert runner.evaluate("d + 1").text == "8"


@pytest.mark.parametrize("expression", ["1 +", "(1", "'open", "f(1,", "1 2", "a @ b"])
def test_malformed_expression_is_a_syntax_error(expression: str) -> None:
    with pytest.raises(ScriptError) as caught:
        Runner().evaluate(expression)
    assert caught.value.code == 2


# ---- property: integer arithmetic with + - * and parentheses parses with the usual precedence
_ints = st.integers(min_value=0, max_value=99).map(str)
_arith = st.recursive(_ints, lambda inner: st.one_of(
    st.tuples(inner, st.sampled_from([" + ", " - ", " * "]), inner).map("".join),
    inner.map(lambda e: "(" + e + ")"),
    inner.map(lambda e: "-" + e)), max_leaves=6)  # results stay exact in a float


@settings(max_examples=200, deadline=None)
@given(_arith)
def test_integer_arithmetic_matches_the_usual_precedence(expression: str) -> None:
    value = Runner().evaluate(expression)
    assert value.num == eval(expression)  # the same grammar as Python's for these operators


def test_text_built_in_a_loop_stays_correct_when_read_and_branched() -> None:
    """Let v = v & ... builds text lazily (values.BuiltText); reading it midway, or extending an
    older value again, must give the same texts as plain concatenation."""
    runner = Runner()
    runner.run_text("Let a = Repeat('x', 5000);\nFor i = 1 to 3\nLet a = a & i;\nLet n = Len(a);\nNext\n"
                    "Let b = a & 'B';\nLet c = a & 'C';\nLet d = b & 'D';")
    assert runner.variable_text("a") == "x" * 5000 + "123"
    assert runner.variable_text("n") == "5003"
    assert (runner.variable_text("b"), runner.variable_text("c"), runner.variable_text("d")) == (
        "x" * 5000 + "123B", "x" * 5000 + "123C", "x" * 5000 + "123BD")


def test_text_built_without_reading_branches_correctly() -> None:
    runner = Runner()
    runner.run_text("Let a = Repeat('y', 5000);\nFor i = 1 to 3\nLet a = a & i;\nNext\n"
                    "Let b = a & 'B';\nLet c = a & 'C';\nLet d = b & 'D';\nLet e = b & 'E';")
    base = "y" * 5000 + "123"
    assert [runner.variable_text(v) for v in "abcde"] == [base, base + "B", base + "C", base + "BD", base + "BE"]
