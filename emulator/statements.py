"""One handler per statement type.

``prepare(text)`` parses a statement (already dollar-expanded) and returns an action
``action(runner)``; the runner caches actions by text, so a statement run 10,000 times in a
loop is parsed once. Anything not listed in HANDLERS fails loudly.
Reference: https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/ScriptRegularStatements/script-regular-statements.htm
"""
from __future__ import annotations

import glob
import math
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from emulator import loads
from emulator.blocks import ExitDo, ExitFor, ExitScript, ExitSub
from emulator.errors import DATABASE_NOT_FOUND, ScriptError, UnsupportedSyntax
from emulator.evaluator import BINARY
from emulator.parser import Call, Parser, Ref
from emulator.paths import local_path
from emulator.splitter import Statement
from emulator.tokens import END, NAME, STRING, WORD
from emulator.values import Value, from_text, is_true, number, text, to_number, wildcard_regex

if TYPE_CHECKING:
    from emulator.runner import Runner

Action = Callable[["Runner"], None]


def prepare(source: str, runner: "Runner") -> Action:
    p = Parser(source)
    first = p.tok
    if first.kind == WORD and p.peek().is_op("=") and not first.is_word("set", "let"):
        return _let(p, runner)  # 'Let' may be left out: 'I = I + 1'
    if first.kind in (WORD, NAME, STRING) and p.peek().is_op(":"):
        return loads.prepare_table_statement(p, source, runner)
    if first.kind != WORD:
        p.fail("expected a statement")
    if first.is_word("when", "unless"):
        return _conditional(p, source, runner)
    handler = HANDLERS.get(first.value.lower())
    if handler is None:
        if first.value.lower() in loads.TABLE_STATEMENT_WORDS:
            return loads.prepare_table_statement(p, source, runner)
        raise UnsupportedSyntax(f"Unsupported statement: {first.value}")
    p.next()
    return handler(p, runner)


def _conditional(p: Parser, source: str, runner: "Runner") -> Action:
    """``when A=1 LOAD ...;`` / ``unless B=2 drop table T;``: the statement runs only if the
    condition holds (fails). https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/ScriptPrefixes/When.htm"""
    negate = p.next().is_word("unless")
    condition = runner.compile(p.expression())
    statement = prepare(source[p.tok.pos:], runner)

    def run_if(r: "Runner") -> None:
        if is_true(condition(None)) != negate:
            statement(r)
    if hasattr(statement, "table_statement"):
        run_if.table_statement = True
    return run_if


# ---------------------------------------------------------------- variables
# https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/ScriptRegularStatements/Set.htm
# https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/ScriptRegularStatements/Let.htm

def _set(p: Parser, runner: "Runner") -> Action:
    name = p.name()
    if p.at_end():  # 'set vX;' (Butler's clean-up): an empty value
        return lambda r: r.set_variable(name, text(""))
    p.expect_op("=")
    raw = _source_rest(p)
    value = from_text(_unquote_whole(raw))
    return lambda r: r.set_variable(name, value)


def _source_rest(p: Parser) -> str:
    """The statement's remaining source text, as written."""
    return p.source[p.tok.pos:].strip() if p.tok.kind != END else ""


def _unquote_whole(raw: str) -> str:
    """``Set x = 'a b';`` stores ``a b``; any other text is stored as written."""
    if len(raw) >= 2 and raw[0] == raw[-1] == "'":
        inner = raw[1:-1]
        if "'" not in inner.replace("''", ""):
            return inner.replace("''", "'")
    return raw


def _let(p: Parser, runner: "Runner") -> Action:
    name = p.name()
    if p.at_end():
        return lambda r: r.set_variable(name, None)
    p.expect_op("=")
    getter = runner.compile(p.expression())
    p.expect_end()
    return lambda r: r.set_variable(name, getter(None))


# ---------------------------------------------------------------- Trace, Sleep, Exit, Call

def _trace(p: Parser, runner: "Runner") -> Action:
    message = re.sub(r"(?is)^\s*trace\b\s?", "", p.source).strip()
    return lambda r: r.print_trace(message)


def _sleep(p: Parser, runner: "Runner") -> Action:
    getter = runner.compile(p.expression())
    p.expect_end()

    def sleep(r: "Runner") -> None:
        n = to_number(getter(None))
        if n is None or n < 0:
            raise ScriptError("Sleep needs a number of milliseconds")
        r.sleep(n / 1000)
    return sleep


def _exit(p: Parser, runner: "Runner") -> Action:
    kinds = {"script": ExitScript, "sub": ExitSub, "for": ExitFor, "do": ExitDo}
    kind = kinds.get(p.tok.value.lower()) if p.tok.kind == WORD else None
    if kind is None:
        p.fail("expected Script, Sub, For or Do after Exit")
    p.next()
    condition = _when_unless(p, runner)

    def leave(r: "Runner") -> None:
        if condition(r):
            raise kind()
    return leave


def _when_unless(p: Parser, runner: "Runner") -> Callable[["Runner"], bool]:
    if p.at_end():
        return lambda r: True
    negate = p.expect_word("when", "unless").value.lower() == "unless"
    getter = runner.compile(p.expression())
    p.expect_end()
    return lambda r: is_true(getter(None)) != negate


def _call(p: Parser, runner: "Runner") -> Action:
    name = p.name()
    args = []
    if p.accept_op("("):
        if not p.accept_op(")"):
            args = p.expression_list()
            p.expect_op(")")
    p.expect_end()
    getters = [None if a is None else runner.compile(a) for a in args]
    names = [a.name if isinstance(a, Ref) else None for a in args]

    def call(r: "Runner") -> None:
        values = [None if g is None else g(None) for g in getters]
        r.call_sub(name, list(zip(values, names)))
    return call


# ---------------------------------------------------------------- Qualify, Drop, Rename
# https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/ScriptRegularStatements/Qualify.htm

def _name_list(p: Parser) -> list[str]:
    names = []
    while True:
        names.append("*" if p.accept_op("*") else p.name())
        if not p.accept_op(","):
            return names


def _for_each(fn: Callable[..., object], items: list) -> Action:
    """An action applying fn to every item (a name, or a tuple of arguments)."""
    def apply(r: "Runner") -> None:
        for item in items:
            fn(r, *item) if isinstance(item, tuple) else fn(r, item)
    return apply


def _qualify(qualify: bool) -> Callable[[Parser, "Runner"], Action]:
    def handler(p: Parser, runner: "Runner") -> Action:
        patterns = [wildcard_regex(n) for n in _name_list(p)]
        p.expect_end()

        def apply(r: "Runner") -> None:
            if qualify is False and any(x.pattern == ".*" for x in patterns):
                r.qualify_rules = [(x, False) for x in patterns]
            else:
                r.qualify_rules.extend((x, qualify) for x in patterns)
        return apply
    return handler


def _drop(p: Parser, runner: "Runner") -> Action:
    kind = p.expect_word("table", "tables", "field", "fields", "variable", "variables").value.lower()
    names = _name_list(p)
    if kind.startswith("variable"):
        p.expect_end()
        return _for_each(lambda r, n: r.variables.pop(n, None), names)
    if kind.startswith("table"):
        p.expect_end()
        return _for_each(lambda r, n: r.model.drop_table(n), names)
    tables = _name_list(p) if p.accept_word("from") else None
    p.expect_end()
    return _for_each(lambda r, n: r.model.drop_field(n, tables), names)


def _rename(p: Parser, runner: "Runner") -> Action:
    kind = p.expect_word("table", "tables", "field", "fields").value.lower()
    pairs = []
    while True:
        old = p.name()
        p.expect_word("to")
        pairs.append((old, p.name()))
        if not p.accept_op(","):
            break
    p.expect_end()
    if kind.startswith("table"):
        return _for_each(lambda r, old, new: r.model.rename_table(old, new), pairs)
    return _for_each(lambda r, old, new: r.model.rename_field(old, new), pairs)


# ---------------------------------------------------------------- LIB CONNECT, SQL

def _lib(p: Parser, runner: "Runner") -> Action:
    p.expect_word("connect")
    p.expect_word("to")
    name = p.name()
    p.expect_end()

    def connect(r: "Runner") -> None:
        if name not in r.connections:
            known = ", ".join(sorted(r.connections)) or "none; pass --connections FILE"
            raise ScriptError(f"LIB CONNECT TO '{name}': no such connection (known: {known})",
                              code=DATABASE_NOT_FOUND)
        r.connection = r.connections[name]
    return connect


HANDLERS: dict[str, Callable[[Parser, "Runner"], Action]] = {
    "set": _set,
    "let": _let,
    "trace": _trace,
    "sleep": _sleep,
    "exit": _exit,
    "call": _call,
    "qualify": _qualify(True),
    "unqualify": _qualify(False),
    "drop": _drop,
    "rename": _rename,
    "lib": _lib,
}


# ---------------------------------------------------------------- control clause helpers
# https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/ScriptControlStatements/For.htm
# https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/ScriptControlStatements/ForEach.htm

def for_header(runner: "Runner", clause: Statement, each: bool) -> tuple[str, Iterator[Value]]:
    p = Parser(runner.expand(clause.text))
    p.expect_word("for")
    if each:
        p.expect_word("each")
        name = p.name()
        p.expect_word("in")
        values = [v for item in p.expression_list() for v in _each_values(runner, item, clause.file)]
        p.expect_end()
        return name, iter(values)
    name = p.name()
    p.expect_op("=")
    start = _number_of(runner, p, "start")
    p.expect_word("to")
    stop = _number_of(runner, p, "end")
    step = _number_of(runner, p, "step") if p.accept_word("step") else 1.0
    p.expect_end()
    if step == 0:
        raise ScriptError("For ... Step 0 would never end")
    return name, _counting(start, stop, step)


def _number_of(runner: "Runner", p: Parser, what: str) -> float:
    n = to_number(runner.compile(p.expression())(None))
    if n is None or math.isnan(n):
        raise ScriptError(f"For: the {what} value is not a number")
    return n


def _counting(start: float, stop: float, step: float) -> Iterator[Value]:
    i = 0
    while True:
        value = start + i * step
        if (step > 0 and value > stop + 1e-9) or (step < 0 and value < stop - 1e-9):
            return
        yield number(round(value, 12))
        i += 1


def _each_values(runner: "Runner", item, script_file: str) -> list[Value]:
    if item is None:
        raise ScriptError("For Each: empty item in the list")
    if isinstance(item, Call) and item.name.lower() in ("fieldvaluelist", "filelist", "dirlist"):
        args = [runner.compile(a)(None) for a in item.args]
        if len(args) != 1 or args[0] is None:
            raise ScriptError(f"{item.name} takes one argument")
        if item.name.lower() == "fieldvaluelist":
            return runner.field_values(args[0].text)
        return _file_list(args[0].text, script_file, dirs=item.name.lower() == "dirlist")
    return [runner.compile(item)(None)]


def _file_list(mask: str, script_file: str, dirs: bool) -> list[Value]:
    """FileList/DirList over the local file system, the mask placed by local_path; the names
    come back as the mask wrote them."""
    where = local_path(mask, script_file)[0]
    prefix = mask[:len(mask) - len(Path(mask).name)]
    found = sorted(glob.glob(str(where)))
    return [text(prefix + Path(f).name) for f in found if Path(f).is_dir() == dirs]


def switch_subject(runner: "Runner", clause: Statement) -> Value:
    p = Parser(runner.expand(clause.text))
    p.expect_word("switch")
    value = runner.compile(p.expression())(None)
    p.expect_end()
    return value


def case_matches(runner: "Runner", clause: Statement, subject: Value) -> bool:
    p = Parser(runner.expand(clause.text))
    p.expect_word("case")
    items = p.expression_list()
    p.expect_end()
    return any(item is not None and is_true(BINARY["="](subject, runner.compile(item)(None)))
               for item in items)

