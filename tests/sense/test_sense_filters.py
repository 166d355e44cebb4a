"""The QRS filter language of the simulated repository, table-driven.

Sources: Qlik's "Filtering" page (operators and types; string comparisons case-insensitive):
https://help.qlik.com/en-US/sense-developer/February2024/Subsystems/RepositoryServiceAPI/Content/Sense_RepositoryServiceAPI/RepositoryServiceAPI-Filtering.htm
and the live-Sense measurements in shared/reference/qlik-facts.md §2 and §6 (`\\'` escape,
`''` and double quotes rejected with "Cannot parse the expression", `()` "Invalid expression").
"""
from __future__ import annotations

import pytest

from demo.sense.filters import FilterError, compile_filter, parse, tokenize

TASK = {
    "id": "e3b27f50-b1c0-4879-88fc-c7cdd9c1cf3e",
    "name": "Reload task of App1",
    "enabled": True,
    "taskType": 0,
    "maxRetries": 0,
    "tags": [{"name": "startTask1"}, {"name": "O'Brien"}, {"name": "back\\slash"}],
    "customProperties": [
        {"value": "tasks1", "definition": {"name": "taskGroup"}},
        {"value": "R&D #1", "definition": {"name": "owner"}},
    ],
    "app": {"id": "0d815a10-8a3c-4bb7-8e32-49d1b2e1d2a1", "name": "App1", "stream": None},
    "operational": {"lastExecutionResult": {"status": 8, "startTime": "2026-11-23T10:00:00.000Z"}},
}

MATCHES = [
    # (filter, matches TASK?)
    ("name eq 'Reload task of App1'", True),
    ("name eq 'reload TASK of app1'", True),  # strings compare case-insensitively (docs)
    ("NAME eq 'Reload task of App1'", True),  # property names case-insensitive
    ("name ne 'Reload task of App1'", False),
    ("name sw 'reload'", True),
    ("name ew 'app1'", True),
    ("name so 'task of'", True),
    ("name so 'App2'", False),
    ("id eq e3b27f50-b1c0-4879-88fc-c7cdd9c1cf3e", True),  # GUIDs unquoted
    ("id eq 'e3b27f50-b1c0-4879-88fc-c7cdd9c1cf3e'", True),
    ("id eq E3B27F50-B1C0-4879-88FC-C7CDD9C1CF3E", True),
    ("id eq 7552d9fc-d1bb-4975-9a38-18357de531ea", False),
    ("enabled eq true", True),
    ("enabled eq false", False),
    ("tags.name eq 'startTask1'", True),  # nested arrays: any element
    ("tags.name eq 'startTask2'", False),
    ("tags.name ne 'startTask1'", True),  # another tag differs: any element
    (r"tags.name eq 'O\'Brien'", True),
    (r"tags.name eq 'back\\slash'", True),
    ("customProperties.definition.name eq 'taskGroup'", True),
    ("customProperties.value eq 'r&d #1'", True),
    ("(customProperties.definition.name eq 'taskGroup' and customProperties.value eq 'tasks1')", True),
    ("app.id eq 0d815a10-8a3c-4bb7-8e32-49d1b2e1d2a1", True),
    ("app.name eq 'App1'", True),
    ("app.stream eq null", True),
    ("operational.lastExecutionResult.status eq FinishedFail", True),  # enum by name
    ("operational.lastExecutionResult.status eq 8", True),
    ("operational.lastExecutionResult.status ge FinishedSuccess", True),
    ("operational.lastExecutionResult.status lt 8", False),
    ("operational.lastExecutionResult.startTime gt '2026-11-23 09:59:59'", True),
    ("operational.lastExecutionResult.startTime le '2026-11-23T09:00:00.000Z'", False),
    ("maxRetries le 0", True),
    ("name eq 'x' or tags.name eq 'startTask1'", True),
    ("name eq 'x' or tags.name eq 'x' or id eq e3b27f50-b1c0-4879-88fc-c7cdd9c1cf3e", True),
    ("name sw 'Reload' and tags.name eq 'x'", False),
    ("(name eq 'x' or enabled eq true) and taskType eq Reload", True),
    ("name eq 'x' or enabled eq true and taskType eq 3", False),  # and binds tighter than or
    ("((name eq 'Reload task of App1'))", True),
    ("name eq 'Reload task of App1' AND enabled eq true", True),
]


@pytest.mark.parametrize("text,expected", MATCHES)
def test_filter_matches(text: str, expected: bool) -> None:
    assert compile_filter(text, TASK)(TASK) is expected


PARSE_ERRORS = [
    # (filter, Sense's plain-text message)
    ("name eq 'O''Brien'", "Cannot parse the expression: name eq 'O''Brien'"),  # OData doubling
    ('name eq "App1"', 'Cannot parse the expression: name eq "App1"'),
    ("name eq 'unbalanced", "Cannot parse the expression: name eq 'unbalanced"),
    ("name eq 'trailing\\'", "Cannot parse the expression: name eq 'trailing\\'"),
    ("name eq 'bad \\x escape'", "Cannot parse the expression: name eq 'bad \\x escape'"),
    ("()", "Invalid expression"),
    ("name eq 'x' and ()", "Invalid expression"),
    ("name eq", "Cannot parse the expression: name eq"),
    ("name 'x'", "Cannot parse the expression: name 'x'"),
    ("name like 'x'", "Cannot parse the expression: name like 'x'"),
    ("name eq 'x' and", "Cannot parse the expression: name eq 'x' and"),
    ("name eq 'x' name eq 'y'", "Cannot parse the expression: name eq 'x' name eq 'y'"),
    ("(name eq 'x'", "Cannot parse the expression: (name eq 'x'"),
    ("name eq 'x')", "Cannot parse the expression: name eq 'x')"),
    ("not name eq 'x'", "Cannot parse the expression: not name eq 'x'"),
    ("colour eq 'red'", "Cannot parse the expression: colour eq 'red'"),  # unknown property
    ("name gt 'a'", "Cannot parse the expression: name gt 'a'"),  # gt not valid for String
    ("enabled sw 'tr'", "Cannot parse the expression: enabled sw 'tr'"),
    ("maxRetries eq 'many'", "Cannot parse the expression: maxRetries eq 'many'"),
    ("name eq 'x' ; drop", "Cannot parse the expression: name eq 'x' ; drop"),
]


@pytest.mark.parametrize("text,message", PARSE_ERRORS)
def test_filter_errors_answer_senses_message(text: str, message: str) -> None:
    with pytest.raises(FilterError) as err:
        compile_filter(text, TASK)(TASK)
    assert str(err.value) == message


@pytest.mark.parametrize("literal,value", [
    (r"'plain'", "plain"),
    (r"''", ""),
    (r"'O\'Brien'", "O'Brien"),
    (r"'a\\b'", "a\\b"),
    (r"'a\\\'b'", "a\\'b"),
    (r"'R&D #1 % ? / + = ,'", "R&D #1 % ? / + = ,"),
    (r"'x\' or name sw \''", "x' or name sw '"),
    ("'Ünïcödé ✓'", "Ünïcödé ✓"),
])
def test_string_literals_unescape(literal: str, value: str) -> None:
    tokens = tokenize(f"name eq {literal}")
    assert [t.kind for t in tokens] == ["word", "word", "string", "end"]
    assert tokens[2].text == value


def test_an_injection_stays_inside_its_literal() -> None:
    """The escaped form of `x' or name sw '` is one comparison, not an `or` of two."""
    node = parse(r"tags.name eq 'x\' or name sw \''")
    assert node.value == "x' or name sw '" and node.op == "eq"
    assert compile_filter(r"tags.name eq 'x\' or name sw \''", TASK)(TASK) is False


@pytest.mark.parametrize("text", [
    "id eq e3b27f50-b1c0-4879-88fc-c7cdd9c1cf3e or id eq 7552d9fc-d1bb-4975-9a38-18357de531ea",
    "name eq 'x' or name eq 'RELOAD TASK OF APP1' or tags.name eq 'nope'",
    "tags.name eq 'a' or tags.name eq 'b'",
    "maxRetries eq 1 or maxRetries eq 0",
    "enabled eq false or enabled eq true",
])
def test_grouped_equalities_match_like_the_plain_or(text: str) -> None:
    """An `or` of eq terms on one path is evaluated as a set lookup; same answers."""
    from demo.sense.filters import AnyOf, group_equalities, matches

    plain, grouped = parse(text), group_equalities(parse(text))
    assert any(isinstance(p, AnyOf) for p in grouped.parts)
    assert matches(grouped, TASK) == matches(plain, TASK)
    other = {**TASK, "name": "y", "tags": [], "maxRetries": 3, "enabled": None, "id": "z"}
    assert matches(grouped, other) == matches(plain, other)
