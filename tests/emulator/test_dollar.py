"""Dollar-sign expansion on its own: (page, text, variables, expected text)."""
from __future__ import annotations

import pytest

from emulator.dollar import expand, split_arguments
from emulator.errors import ScriptError
from emulator.runner import Runner

HUB = "https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/"
VAR = HUB + "dollar-sign-expansion-variable.htm"
PARAMS = HUB + "dollar-sign-expansion-parameters.htm"
EXPR = HUB + "dollar-sign-expansion-expression.htm"
ANY = HUB + "dollar-sign-expansion.htm"

CASES = [
    (ANY, "no expansion here", {}, "no expansion here"),
    (ANY, "cost $ 5 (approx)", {}, "cost $ 5 (approx)"),
    (VAR, "$(v)", {"v": "x"}, "x"),
    (VAR, "a$(v)b$(v)c", {"v": "-"}, "a-b-c"),
    (VAR, "[$(missing)]", {}, "[]"),
    (VAR, "$( v )", {"v": "x"}, "x"),
    (VAR, "$(#n)", {"n": "3.50"}, "3.5"),
    (VAR, "$(#n)", {}, "0"),
    (VAR, "$(#n)", {"n": "abc"}, "0"),
    (VAR, "$(V)", {"v": "lower"}, ""),
    (VAR, "$(v)", {"v": "$(w)"}, "$(w)"),
    (VAR, "Let $(name) = 1", {"name": "vTarget"}, "Let vTarget = 1"),
    (PARAMS, "$(f(1,2))", {"f": "$1+$2"}, "1+2"),
    (PARAMS, "$(f(1))", {"f": "$1+$2"}, "1+$2"),
    (PARAMS, "$(f(1,2,3))", {"f": "$2"}, "2"),
    (PARAMS, "$(f(a,b))", {"f": "$0"}, "2"),
    (PARAMS, "$(f( spaced , x ))", {"f": "[$1][$2]"}, "[spaced][x]"),
    (PARAMS, "$(f('a,b', c))", {"f": "$1|$2"}, "'a,b'|c"),
    (PARAMS, "$(f(g(1,2), 3))", {"f": "$1|$2"}, "g(1,2)|3"),
    (PARAMS, "$(missing(1))", {}, ""),
    (EXPR, "$(=1+2)", {}, "3"),
    (EXPR, "$(= 'a' & 'b')", {}, "ab"),
    (EXPR, "$(=n*2)", {"n": "21"}, "42"),
    (EXPR, "$(=Null())", {}, ""),
    (EXPR, "$(=Len(')'))", {}, "1"),
    (ANY, "$(v$(i))", {"i": "2", "v2": "two"}, "two"),
    (ANY, "$($(which))", {"which": "v", "v": "deep"}, "deep"),
    (ANY, "$(=$(n)+1)", {"n": "1"}, "2"),
    (ANY, "'$(v)'", {"v": "it's"}, "'it's'"),
]


@pytest.mark.parametrize("page, text, variables, expected", CASES, ids=[c[1] for c in CASES])
def test_expand(page: str, text: str, variables: dict, expected: str) -> None:
    assert expand(text, Runner(variables=variables)) == expected


@pytest.mark.parametrize("text", ["$(v", "x $(=f(1)"])
def test_unclosed_expansion_fails(text: str) -> None:
    with pytest.raises(ScriptError):
        expand(text, Runner())


def test_include_is_left_for_the_runner_with_its_path_expanded() -> None:
    assert expand("Let a = $(Include=$(d)\\x.qvs);", Runner(variables={"d": "lib"})) == \
        "Let a = $(Include=lib\\x.qvs);"


@pytest.mark.parametrize("text, expected", [
    ("a, b", ["a", "b"]),
    ("'x, y', (1, 2), [c, d]", ["'x, y'", "(1, 2)", "[c, d]"]),
    ("", [""]),
])
def test_split_arguments(text: str, expected: list[str]) -> None:
    assert split_arguments(text) == expected
