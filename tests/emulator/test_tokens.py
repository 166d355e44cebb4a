"""Tokenizer and inline-data reader on their own."""
from __future__ import annotations

import pytest

from emulator.inline import parse_inline, split_record
from emulator.tokens import tokenize

QUOTES = "https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/use-quotes-in-script.htm"
EXPR = "https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/script-expressions.htm"
QSPEC = "https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/ScriptSpecifiers/quotes.htm"

TOKEN_CASES = [
    (EXPR, "12 1.5 .5 1e3 2E-2", [("NUMBER", "12"), ("NUMBER", "1.5"), ("NUMBER", ".5"), ("NUMBER", "1e3"),
                                   ("NUMBER", "2E-2")]),
    (QUOTES, "'it''s'", [("STRING", "it's")]),
    (QUOTES, "''", [("STRING", "")]),
    (QUOTES, '"field ""x"""', [("NAME", 'field "x"')]),
    (QUOTES, "[field name]", [("NAME", "field name")]),
    (QUOTES, "`back quoted`", [("NAME", "back quoted")]),
    (QUOTES, "[it's]", [("NAME", "it's")]),
    (EXPR, "T.TaskId Num# %Key @Value _x", [("WORD", "T.TaskId"), ("WORD", "Num#"), ("WORD", "%Key"),
                                             ("WORD", "@Value"), ("WORD", "_x")]),
    (EXPR, "a<>b<=c>=d<<e>>f", [("WORD", "a"), ("OP", "<>"), ("WORD", "b"), ("OP", "<="), ("WORD", "c"),
                                ("OP", ">="), ("WORD", "d"), ("OP", "<<"), ("WORD", "e"), ("OP", ">>"),
                                ("WORD", "f")]),
    (EXPR, "x&'y'", [("WORD", "x"), ("OP", "&"), ("STRING", "y")]),
    (EXPR, "Ä_ö1", [("WORD", "Ä_ö1")]),
    (EXPR, "{ }", [("OTHER", "{"), ("OTHER", "}")]),
]


@pytest.mark.parametrize("page, text, expected", TOKEN_CASES, ids=[c[1] for c in TOKEN_CASES])
def test_tokenize(page: str, text: str, expected: list) -> None:
    assert [(t.kind, t.value) for t in tokenize(text)[:-1]] == expected


RECORD_CASES = [
    (QSPEC, "a, b ,c", ",", [("a", False), ("b", False), ("c", False)]),
    (QSPEC, "\"x, y\", 'z'", ",", [("x, y", True), ("z", True)]),
    (QSPEC, "  'padded'  ,x", ",", [("padded", True), ("x", False)]),
    (QSPEC, "a 'b' c", ",", [("a 'b' c", False)]),
    (QSPEC, "'unbalanced, x", ",", [("'unbalanced", False), ("x", False)]),
    (QSPEC, "1;2", ";", [("1", False), ("2", False)]),
    (QSPEC, "a,", ",", [("a", False), ("", False)]),
]


@pytest.mark.parametrize("page, line, delimiter, expected", RECORD_CASES, ids=[c[1] for c in RECORD_CASES])
def test_split_record(page: str, line: str, delimiter: str, expected: list) -> None:
    assert split_record(line, delimiter) == expected


def test_inline_values_are_duals_read_from_text() -> None:
    fields, rows = parse_inline("A, B\r\n007, x\r\n")
    assert fields == ["A", "B"]
    assert (rows[0][0].text, rows[0][0].num, rows[0][1].num) == ("007", 7.0, None)
