"""The statement table: every statement the emulator knows, keyed by its first keyword(s).

Each entry (:class:`Kind`) owns how the statement is split (where it ends), how it is parsed
(with the recursive-descent :class:`Parser`) into an action ``action(interpreter)``, and, for a
control statement that opens a block, the block's shape and how the block runs. The splitter
derives its control-statement list from this table and blocks.py asks it which statements open,
continue and close blocks. Anything not in the table fails loudly.

``prepare(text)`` parses a statement (already dollar-expanded); the runner caches actions by
text, so a statement run 10,000 times in a loop is parsed once. A control clause's action
returns what the clause means when it runs (an If condition's truth, a For loop's values...).
Reference: https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/ScriptRegularStatements/script-regular-statements.htm
https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/ScriptControlStatements/script-control-statements.htm
"""
from __future__ import annotations

import glob
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from emulator import field_rules, loads
from emulator.errors import DATABASE_NOT_FOUND, FIELD_NOT_FOUND, ScriptError, UnsupportedSyntax
from emulator.evaluator import BINARY
from emulator.files import write_qvd, write_text
from emulator.file_format import read_format
from emulator.lexicon import QUOTES, quoted_end
from emulator.parser import Call, Parser, Ref, file_path, format_spec
from emulator.program import (Action, Block, ExitDo, ExitFor, ExitScript, ExitSub, Interpreter)
from emulator.tables import value_key
from emulator.tokens import END, NAME, STRING, WORD
from emulator.values import Value, from_text, is_true, number, text, to_number, wildcard_regex

Parse = Callable[[Parser, Interpreter], Action]

# Where a statement ends (splitter.py). From the control statements page: "Each clause of a
# control statement must be kept inside one script line and may be terminated by semicolon or
# end-of-line."
AT_SEMICOLON = "semicolon"
AT_LINE_END = "line"            # ';' or the end of the line
AFTER_THEN = "then"             # also right after 'then': 'if a=1 then load ...; end if'
AFTER_KEYWORD = "keyword"       # right after the keyword: 'else'


@dataclass(frozen=True)
class BlockShape:
    run: Callable[[Interpreter, Block], None]
    closers: frozenset[str]
    clauses: frozenset[str] = frozenset()   # clauses inside the block (ElseIf, Else, Case...)
    final_clause: str | None = None         # a clause after which only the closer may follow
    empty_head: bool = False                # nothing may stand between opener and first clause
    raw_body: bool = False                  # the body is kept as split (a Sub's)


@dataclass(frozen=True)
class Kind:
    parse: Parse
    ends: str = AT_SEMICOLON
    block: BlockShape | None = None
    table_statement: bool = False   # LOAD, SQL or one of their prefixes: parsed from its start
    text_argument: bool = False     # takes the rest of its text as written: a ';' that its
                                    # dollar expansion brings stays in it (Trace)


_FIRST_WORDS = re.compile(r"\s*([^\W\d][\w.#$%@]*)(?:\s+([^\W\d][\w#]*))?")


def lookup(source: str) -> tuple[str, Kind | None]:
    """The table key of a statement (its first keyword, or two, lower case) and its entry."""
    m = _FIRST_WORDS.match(source)
    if not m:
        return "", None
    first = m.group(1).lower()
    if m.group(2):
        pair = f"{first} {m.group(2).lower()}"
        if pair in STATEMENTS:
            return pair, STATEMENTS[pair]
    return first, STATEMENTS.get(first)


def prepare(source: str, interp: Interpreter) -> Action:
    p = Parser(source)
    first = p.tok
    if first.kind == WORD and p.peek().is_op("=") and not first.is_word("set", "let"):
        return _let(p, interp)  # 'Let' may be left out: 'I = I + 1'
    if first.kind in (WORD, NAME, STRING) and p.peek().is_op(":"):
        return loads.prepare_table_statement(p, interp)
    if first.kind == END:
        return lambda r: None  # a statement that expanded to nothing
    if first.kind != WORD:
        p.fail("expected a statement")
    key, kind = lookup(source)
    if kind is None:
        raise UnsupportedSyntax(f"Unsupported statement: {first.value}")
    if not kind.table_statement:
        for _ in key.split():
            p.next()
    return kind.parse(p, interp)


def expansion_splits(source: str) -> bool:
    """Whether a ``;`` in this statement's dollar expansion starts another statement."""
    kind = lookup(source)[1]
    return kind is None or not kind.text_argument


def control_words() -> dict[str, str]:
    """First word of each control statement -> where it ends (for the splitter)."""
    words: dict[str, str] = {}
    for key, kind in STATEMENTS.items():
        if kind.ends != AT_SEMICOLON:
            words.setdefault(key.split()[0], kind.ends)
    return words


def _conditional(negate: bool) -> Parse:
    """``when A=1 LOAD ...;`` / ``unless B=2 drop table T;``: the statement runs only if the
    condition holds (fails). https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/ScriptPrefixes/When.htm"""
    def parse(p: Parser, interp: Interpreter) -> Action:
        condition = interp.compile(p.expression())
        statement = prepare(p.source[p.tok.pos:], interp)

        def run_if(r: Interpreter) -> None:
            if is_true(condition(None)) != negate:
                statement(r)
        if hasattr(statement, "table_statement"):
            run_if.table_statement = True
        return run_if
    return parse


# ---------------------------------------------------------------- variables
# https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/ScriptRegularStatements/Set.htm
# https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/ScriptRegularStatements/Let.htm

def _set(p: Parser, interp: Interpreter) -> Action:
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


# Set "can also use square brackets (or double quotes) as delimiters": Set x = [This year's
# number]; stores the text inside (Qlik Design Blog, "Escape sequences",
# https://community.qlik.com/t5/Qlik-Design-Blog/Escape-sequences/ba-p/1469770). Quotes that do
# not enclose the whole value are kept: Set x = Region={'US'};
_SET_DELIMITERS = ("'", '"', "[")


def _unquote_whole(raw: str) -> str:
    """``Set x = 'a b';``, ``"a b"`` or ``[a b]`` stores ``a b``; other text is stored as written."""
    if raw[:1] in _SET_DELIMITERS and quoted_end(raw, 0) == len(raw):
        return QUOTES[raw[0]].unquote(raw)
    return raw


def _let(p: Parser, interp: Interpreter) -> Action:
    """``Let x = expr``; ``Let x;`` and ``Let x = ;`` (nothing to evaluate) set NULL."""
    name = p.name()
    if not p.at_end():
        p.expect_op("=")
    if p.at_end():
        return lambda r: r.set_variable(name, None)
    getter = interp.compile(p.expression())
    p.expect_end()
    return lambda r: r.set_variable(name, getter(None))


# ---------------------------------------------------------------- Trace, Sleep, Exit, Call

def _trace(p: Parser, interp: Interpreter) -> Action:
    message = re.sub(r"(?is)^\s*trace\b\s?", "", p.source).strip()
    return lambda r: r.print_trace(message)


def _sleep(p: Parser, interp: Interpreter) -> Action:
    getter = interp.compile(p.expression())
    p.expect_end()

    def sleep(r: Interpreter) -> None:
        n = to_number(getter(None))
        if n is None or n < 0:
            raise ScriptError("Sleep needs a number of milliseconds")
        r.sleep(n / 1000)
    return sleep


def _exit(p: Parser, interp: Interpreter) -> Action:
    kinds = {"script": ExitScript, "sub": ExitSub, "for": ExitFor, "do": ExitDo}
    kind = kinds.get(p.tok.value.lower()) if p.tok.kind == WORD else None
    if kind is None:
        p.fail("expected Script, Sub, For or Do after Exit")
    p.next()
    condition = _optional_condition(p, interp, "when", "unless")

    def leave(r: Interpreter) -> None:
        if condition(r):
            raise kind()
    return leave


def _optional_condition(p: Parser, interp: Interpreter, holds: str, fails: str) -> Action:
    """Nothing (always true), ``<holds> <condition>`` or ``<fails> <condition>`` (negated):
    Exit's when|unless, Do and Loop's while|until."""
    if p.at_end():
        return lambda r: True
    negate = p.expect_word(holds, fails).value.lower() == fails
    condition = interp.compile(p.expression())
    p.expect_end()
    return lambda r: is_true(condition(None)) != negate


def _call(p: Parser, interp: Interpreter) -> Action:
    name = p.name()
    args = []
    if p.accept_op("("):
        if not p.accept_op(")"):
            args = p.expression_list()
            p.expect_op(")")
    p.expect_end()
    getters = [None if a is None else interp.compile(a) for a in args]
    names = [a.name if isinstance(a, Ref) else None for a in args]

    def call(r: Interpreter) -> None:
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
    def apply(r: Interpreter) -> None:
        for item in items:
            fn(r, *item) if isinstance(item, tuple) else fn(r, item)
    return apply


def _field_switch(switch: str, on: bool) -> Parse:
    """``Qualify``/``Unqualify`` and ``NullAsValue``/``NullAsNull`` with a field list (wildcards
    ``*`` and ``?``), turning the interpreter's FieldSwitch of that name on or off.
    https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/ScriptRegularStatements/Qualify.htm
    https://help.qlik.com/en-US/cloud-services/Subsystems/Hub/Content/Sense_Hub/Scripting/ScriptRegularStatements/NullAsValue.htm"""
    def parse(p: Parser, interp: Interpreter) -> Action:
        patterns = [wildcard_regex(n) for n in _name_list(p)]
        p.expect_end()
        return lambda r: getattr(r, switch).turn(patterns, on)
    return parse


def _drop(p: Parser, interp: Interpreter) -> Action:
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


def _name_pairs(p: Parser, word: str) -> list[tuple[str, str]]:
    """``a <word> b {, c <word> d}`` up to the statement's end (Rename's 'to', Alias's 'as')."""
    pairs = []
    while True:
        old = p.name()
        p.expect_word(word)
        pairs.append((old, p.name()))
        if not p.accept_op(","):
            break
    p.expect_end()
    return pairs


def _rename(p: Parser, interp: Interpreter) -> Action:
    kind = p.expect_word("table", "tables", "field", "fields").value.lower()
    pairs = _name_pairs(p, "to")
    if kind.startswith("table"):
        return _for_each(lambda r, old, new: r.model.rename_table(old, new), pairs)
    return _for_each(lambda r, old, new: r.model.rename_field(old, new), pairs)


# ---------------------------------------------------------------- LIB CONNECT, SQL

def _lib(p: Parser, interp: Interpreter) -> Action:
    p.expect_word("connect")
    p.expect_word("to")
    name = p.name()
    p.expect_end()

    def connect(r: Interpreter) -> None:
        if name not in r.connections:
            known = ", ".join(sorted(r.connections)) or "none; pass --connections FILE"
            raise ScriptError(f"LIB CONNECT TO '{name}': no such connection (known: {known})",
                              code=DATABASE_NOT_FOUND)
        r.connection = r.connections[name]
    return connect


# ---------------------------------------------------------------- Store
# https://help.qlik.com/en-US/cloud-services/Subsystems/Hub/Content/Sense_Hub/Scripting/ScriptRegularStatements/Store.htm

def _store(p: Parser, interp: Interpreter) -> Action:
    """``Store [fields from] table into path [(qvd|txt[, delimiter is 'x'])]``; QVD by default."""
    names = _name_list(p)
    if p.accept_word("from"):
        fields, table = names, p.name()
    elif len(names) == 1:
        fields, table = ["*"], names[0]
    else:
        p.fail("expected 'from' after the field list")
    p.expect_word("into")
    written = file_path(p)
    spec = format_spec(p) if p.tok.is_op("(") else []
    p.expect_end()
    kind = " ".join(t.value.lower() for t in spec[0]) if spec else "qvd"
    if kind not in ("qvd", "txt"):
        raise UnsupportedSyntax(f"Store format not supported: ({kind}); qvd and txt are")
    delimiter = read_format(spec[1:]).delimiter if kind == "txt" else ","

    def store(r: Interpreter) -> None:
        source = r.model.get(table)
        chosen = source.fields if fields == ["*"] else fields
        missing = [f for f in chosen if f not in source.fields]
        if missing:
            raise ScriptError(f"Store: field '{missing[0]}' not found in '{table}'", code=FIELD_NOT_FOUND)
        positions = [source.fields.index(f) for f in chosen]
        path = r.local_paths(written)[0]
        if kind == "qvd":
            write_qvd(path, chosen, source.rows, positions, table)
        else:
            write_text(path, chosen, source.rows, positions, delimiter)
    return store


# ---------------------------------------------------------------- control statements
# https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/ScriptControlStatements/If.htm

def _if_clause(p: Parser, interp: Interpreter) -> Action:
    """``If|ElseIf <condition> then``: the action tells whether the branch is taken."""
    condition = interp.compile(p.expression())
    p.expect_word("then")
    p.expect_end()
    return lambda r: is_true(condition(None))


def _bare_clause(p: Parser, interp: Interpreter) -> Action:
    """Else, Default and the closing clauses: nothing may follow the keyword."""
    p.expect_end()
    return lambda r: True


def _run_if(r: Interpreter, block: Block) -> None:
    for clause, body in block.sections:
        if r.clause(clause):
            r.run_nodes(body)
            return


# https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/ScriptControlStatements/For.htm
# https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/ScriptControlStatements/ForEach.htm

def _for_clause(p: Parser, interp: Interpreter) -> Action:
    """``For counter = start to stop [step n]``: the action gives (counter, its values)."""
    name = p.name()
    p.expect_op("=")
    start, stop = interp.compile(p.expression()), None
    p.expect_word("to")
    stop = interp.compile(p.expression())
    step = interp.compile(p.expression()) if p.accept_word("step") else None
    p.expect_end()

    def values(r: Interpreter) -> tuple[str, Iterator[Value]]:
        first, last = _number_of(start, "start"), _number_of(stop, "end")
        increment = 1.0 if step is None else _number_of(step, "step")
        if increment == 0:
            raise ScriptError("For ... Step 0 would never end")
        return name, _counting(first, last, increment)
    return values


def _number_of(getter: Callable[[object], Value], what: str) -> float:
    n = to_number(getter(None))
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


def _for_each_clause(p: Parser, interp: Interpreter) -> Action:
    """``For Each v in a, b, FileList(mask)...``: the action gives (v, its values)."""
    name = p.name()
    p.expect_word("in")
    items = p.expression_list()
    p.expect_end()

    def values(r: Interpreter) -> tuple[str, Iterator[Value]]:
        return name, iter([v for item in items for v in _each_values(r, item)])
    return values


def _each_values(r: Interpreter, item) -> list[Value]:
    if item is None:
        raise ScriptError("For Each: empty item in the list")
    if isinstance(item, Call) and item.name.lower() in ("fieldvaluelist", "filelist", "dirlist"):
        args = [r.compile(a)(None) for a in item.args]
        if len(args) != 1 or args[0] is None:
            raise ScriptError(f"{item.name} takes one argument")
        if item.name.lower() == "fieldvaluelist":
            return r.field_values(args[0].text)
        return _file_list(r, args[0].text, dirs=item.name.lower() == "dirlist")
    return [r.compile(item)(None)]


def _file_list(r: Interpreter, mask: str, dirs: bool) -> list[Value]:
    """FileList/DirList over the local file system, the mask placed by local_path; the names
    come back as the mask wrote them."""
    prefix = mask[:max(mask.rfind("/"), mask.rfind("\\")) + 1]  # '\\' too, as Sense scripts write it
    if prefix == mask:  # Qvc.ListDirectories without a mask lists 'dir\'
        raise UnsupportedSyntax(f"{'DirList' if dirs else 'FileList'}('{mask}'): a mask with no name after "
                                "its last path separator (what Qlik lists for it is not documented)")
    where = r.local_paths(mask)[0]
    found = sorted(glob.glob(str(where)))
    return [text(prefix + Path(f).name) for f in found if Path(f).is_dir() == dirs]


def _next_clause(p: Parser, interp: Interpreter) -> Action:
    """``Next [counter]``."""
    if not p.at_end():
        p.name()
    p.expect_end()
    return lambda r: True


def _run_for(r: Interpreter, block: Block) -> None:
    header, body = block.sections[0]
    name, values = r.clause(header)
    try:
        for value in values:
            r.set_variable(name, value)
            r.run_nodes(body)
    except ExitFor:
        pass


# https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/ScriptControlStatements/Do.htm

def _loop_clause(p: Parser, interp: Interpreter) -> Action:
    """``Do|Loop [While|Until <condition>]``: the action tells whether the loop goes on."""
    return _optional_condition(p, interp, "while", "until")


def _run_do(r: Interpreter, block: Block) -> None:
    header, body = block.sections[0]
    try:
        while r.clause(header):
            r.run_nodes(body)
            if not r.clause(block.closer):
                break
    except ExitDo:
        pass


# https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/ScriptControlStatements/Switch.htm

def _switch_clause(p: Parser, interp: Interpreter) -> Action:
    subject = interp.compile(p.expression())
    p.expect_end()
    return lambda r: subject(None)


def _case_clause(p: Parser, interp: Interpreter) -> Action:
    """``Case a, b``: the action gives the values compared with the subject."""
    items = p.expression_list()
    p.expect_end()
    getters = [None if item is None else interp.compile(item) for item in items]
    return lambda r: [None if g is None else g(None) for g in getters]


def _run_switch(r: Interpreter, block: Block) -> None:
    subject = r.clause(block.opener)
    default = None
    for clause, body in block.sections[1:]:
        values = r.clause(clause)
        if values is True:
            default = body
        elif any(v is not None and is_true(BINARY["="](subject, v)) for v in values):
            r.run_nodes(body)
            return
    if default is not None:
        r.run_nodes(default)


# https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/ScriptControlStatements/Sub.htm

def _sub_clause(p: Parser, interp: Interpreter) -> Action:
    """``Sub name [(p1, p2...)]``: the action gives (name, parameters)."""
    name = p.name()
    params = []
    if p.accept_op("("):
        if not p.accept_op(")"):
            params = _name_list(p)
            p.expect_op(")")
    p.expect_end()
    return lambda r: (name, params)


def _run_sub(r: Interpreter, block: Block) -> None:
    """Running a Sub statement defines the Sub."""
    name, params = r.clause(block.opener)
    r.define_sub(name, params, block.sections[0][1])


# ---------------------------------------------------------------- issue 14k: regular statements
# https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/ScriptRegularStatements/script-regular-statements.htm

def _directory(p: Parser, interp: Interpreter) -> Action:
    """``Directory [path]``: relative file names of later statements start there (paths.local_path);
    without a path, in the app's folder again."""
    path = "" if p.at_end() else file_path(p)
    p.expect_end()

    def set_directory(r: Interpreter) -> None:
        r.directory = path
    return set_directory


def _text_argument(p: Parser) -> str:
    """A comment or tag: 'quoted', [bracketed] or a plain name."""
    return p.next().value if p.tok.kind in (NAME, STRING) else p.name()


def _metadata(key: str, kinds: tuple[str, ...], remove: bool = False) -> Parse:
    """``Comment|Tag|Untag [field(s)|table(s)] list With text`` or ``... [list] Using mapname`` (no
    list: every name): the comments and tags are kept in the run's state (field_rules.COMMENTS,
    TAGS); nothing offline shows them. "Field names not present in the application will be
    ignored" (Comment page), "If an attempt to tag a field or table not present in the app is
    made, the tagging will be ignored" (Tag page). https://help.qlik.com/en-US/cloud-services/Subsystems/Hub/Content/Sense_Hub/Scripting/ScriptRegularStatements/comment.htm
    https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/ScriptRegularStatements/Tag.htm"""
    def parse(p: Parser, interp: Interpreter) -> Action:
        kind = "table" if p.tok.is_word(*kinds) and p.next().value.lower().startswith("table") else "field"
        names = ["*"] if p.tok.is_word("using") else _name_list(p)
        if p.accept_word("using"):
            map_name, given = p.name(), None
        else:
            p.expect_word("with")
            map_name, given = None, _text_argument(p)
        p.expect_end()

        def record(r: Interpreter) -> None:
            for name, value in _metadata_pairs(r, kind, names, map_name, given):
                if key == field_rules.COMMENTS:
                    r.run_state(key)[(kind, name)] = value
                elif remove:
                    r.run_state(key).get((kind, name), set()).discard(value)
                else:
                    r.run_state(key).setdefault((kind, name), set()).add(value)
        return record
    return parse


def _metadata_pairs(r: Interpreter, kind: str, names: list[str], map_name: str | None,
                    given: str | None) -> list[tuple[str, str]]:
    """(name, text) for each name in the model the list gives: with a text, the names written;
    with a mapping table, the names in it that the list matches (wildcards * and ?), each with
    its text there."""
    present = set(r.model.tables) if kind == "table" else {f for t in r.model.tables.values() for f in t.fields}
    if map_name is None:
        return [(name, given) for name in names if name in present]
    table = r.mapping(map_name)
    if table is None:
        raise ScriptError(f"Using {map_name}: mapping table not found")
    patterns = [wildcard_regex(n) for n in names]
    return [(name, v.text) for name, v in table.items()
            if v is not None and name in present and any(x.fullmatch(name) for x in patterns)]


def _alias(p: Parser, interp: Interpreter) -> Action:
    """``Alias a as b {, c as d}`` (field_rules): a later alias of a field replaces an earlier one."""
    pairs = _name_pairs(p, "as")
    return _for_each(lambda r, old, new: r.run_state(field_rules.ALIASES).__setitem__(old, new), pairs)


def _map(p: Parser, interp: Interpreter) -> Action:
    """``Map fields Using mapname`` (wildcards * and ?): applied to what later loads store."""
    patterns = [wildcard_regex(n) for n in _name_list(p)]
    p.expect_word("using")
    name = p.name()
    p.expect_end()
    return lambda r: field_rules.set_map(r, patterns, name)


def _unmap(p: Parser, interp: Interpreter) -> Action:
    """``Unmap fields``: "cancels field value mapping" for later loads; ``Unmap *`` for all.
    https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/ScriptRegularStatements/Unmap.htm"""
    patterns = [wildcard_regex(n) for n in _name_list(p)]
    p.expect_end()
    return lambda r: field_rules.set_map(r, patterns, None)


def _star(p: Parser, interp: Interpreter) -> Action:
    """``Star is [string];``: the symbol for all values of a field, which only section access
    reads; kept as the run's state "Star" (no security offline).
    https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/ScriptRegularStatements/Star.htm"""
    p.expect_word("is")
    if p.accept_op("*"):
        symbol = "*"
    else:
        symbol = "" if p.at_end() else _text_argument(p)
    p.expect_end()
    return lambda r: r.run_state("Star").__setitem__("symbol", symbol)


def _loosen(p: Parser, interp: Interpreter) -> Action:
    """``Loosen Table(s) t {, t}``: loose coupling only changes how selections spread, which the
    emulator has none of; the tables must exist.
    https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/ScriptRegularStatements/Loosen%20Table.htm"""
    p.expect_word("table", "tables")
    names = _name_list(p)
    p.expect_end()
    return _for_each(lambda r, n: r.model.get(n), names)


def _section(p: Parser, interp: Interpreter) -> Action:
    """``Section Access;`` / ``Section Application;``: what follows Section Access loads as
    ordinary tables (our choice: no security offline).
    https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/ScriptRegularStatements/Section.htm"""
    p.expect_word("access", "application")
    p.expect_end()
    return lambda r: None


def _autonumber(p: Parser, interp: Interpreter) -> Action:
    """``AutoNumber fields [Using namespace]``: the loaded values of the fields (wildcards * and ?)
    become 1, 2, 3... in the order the tables hold them, through the counters of the AutoNumber
    function: one per field (its name as the AutoID, our choice) or the namespace's, "where
    identical values in different fields share the same key".
    https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/ScriptRegularStatements/Autonumber.htm"""
    patterns = [wildcard_regex(n) for n in _name_list(p)]
    namespace = p.name() if p.accept_word("using") else None
    p.expect_end()

    def autonumber(r: Interpreter) -> None:
        counters = r.run_state("AutoNumber")
        for table in r.model.tables.values():
            for i, name in enumerate(table.fields):
                if any(x.fullmatch(name) for x in patterns):
                    numbers = counters.setdefault(namespace if namespace is not None else name, {})
                    for row in table.rows:
                        if row[i] is not None:
                            row[i] = number(numbers.setdefault(value_key(row[i]), len(numbers) + 1))
    return autonumber


def _force(p: Parser, interp: Interpreter) -> Action:
    """``Force (capitalization | case upper | case lower | case mixed)`` (field_rules.FORCES);
    "If nothing is specified, force case mixed is assumed"."""
    words = []
    while not p.at_end():
        words.append(p.name().lower())
    how = " ".join(words) or "case mixed"
    if how not in field_rules.FORCES:
        raise ScriptError(f"Force: expected Capitalization, Case Upper, Case Lower or Case Mixed, found '{how}'")
    return lambda r: r.run_state(field_rules.FORCE).__setitem__("case", field_rules.FORCES[how])


_TABLE_STATEMENT = Kind(loads.prepare_table_statement, table_statement=True)

STATEMENTS: dict[str, Kind] = {
    "set": Kind(_set),
    "let": Kind(_let),
    "trace": Kind(_trace, text_argument=True),
    "sleep": Kind(_sleep),
    "exit": Kind(_exit, ends=AT_LINE_END),
    "call": Kind(_call, ends=AT_LINE_END),
    "qualify": Kind(_field_switch("qualified", True)),
    "unqualify": Kind(_field_switch("qualified", False)),
    "nullasvalue": Kind(_field_switch("null_as_value", True)),
    "nullasnull": Kind(_field_switch("null_as_value", False)),
    "drop": Kind(_drop),
    "rename": Kind(_rename),
    "lib": Kind(_lib),
    "store": Kind(_store),
    "when": Kind(_conditional(negate=False)),
    "unless": Kind(_conditional(negate=True)),
    **{word: _TABLE_STATEMENT for word in loads.TABLE_STATEMENT_WORDS},
    # control statements
    "if": Kind(_if_clause, AFTER_THEN, BlockShape(_run_if, frozenset({"end if", "endif"}),
                                                  frozenset({"elseif", "else"}), final_clause="else")),
    "elseif": Kind(_if_clause, AFTER_THEN),
    "else": Kind(_bare_clause, AFTER_KEYWORD),
    "end if": Kind(_bare_clause, AT_LINE_END),
    "endif": Kind(_bare_clause, AT_LINE_END),
    "for": Kind(_for_clause, AT_LINE_END, BlockShape(_run_for, frozenset({"next"}))),
    "for each": Kind(_for_each_clause, AT_LINE_END, BlockShape(_run_for, frozenset({"next"}))),
    "next": Kind(_next_clause, AT_LINE_END),
    "do": Kind(_loop_clause, AT_LINE_END, BlockShape(_run_do, frozenset({"loop"}))),
    "loop": Kind(_loop_clause, AT_LINE_END),
    "switch": Kind(_switch_clause, AT_LINE_END,
                   BlockShape(_run_switch, frozenset({"end switch", "endswitch"}), frozenset({"case", "default"}),
                              empty_head=True)),
    "case": Kind(_case_clause, AT_LINE_END),
    "default": Kind(_bare_clause, AT_LINE_END),
    "end switch": Kind(_bare_clause, AT_LINE_END),
    "endswitch": Kind(_bare_clause, AT_LINE_END),
    "sub": Kind(_sub_clause, AT_LINE_END, BlockShape(_run_sub, frozenset({"end sub", "endsub"}),
                                                     raw_body=True)),
    "end sub": Kind(_bare_clause, AT_LINE_END),
    "endsub": Kind(_bare_clause, AT_LINE_END),
    # issue 14k
    "directory": Kind(_directory),
    "comment": Kind(_metadata(field_rules.COMMENTS, ("field", "fields", "table", "tables"))),
    "tag": Kind(_metadata(field_rules.TAGS, ("field", "fields", "table", "tables"))),
    "untag": Kind(_metadata(field_rules.TAGS, ("field", "fields", "table", "tables"), remove=True)),
    "alias": Kind(_alias),
    "map": Kind(_map),
    "unmap": Kind(_unmap),
    "star": Kind(_star),
    "loosen": Kind(_loosen),
    "section": Kind(_section),
    "autonumber": Kind(_autonumber),
    "force": Kind(_force),
}
