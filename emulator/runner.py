"""The interpreter: runs the blocks of a script, holds variables, subs and the data model, and is
the context that functions (functions.FunctionContext) and dollar expansion (dollar.DollarContext)
see.
"""
from __future__ import annotations

import datetime as dt
import random
import sys
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from emulator import lexicon, statements
from emulator.blocks import build_blocks
from emulator.dollar import expand
from emulator.errors import (FILE_NOT_FOUND, SCRIPT_ERROR_TEXTS, InternalError, ScriptError,
                             UnsupportedSyntax)
from emulator.evaluator import Getter, compile_expr
from emulator.functions import compile_call, serial_from_datetime
from emulator.parser import parse_expression
from emulator.paths import TableFile, existing_file, local_path
from emulator.program import (Action, Block, ExitBlock, ExitScript, ExitSub, FieldSwitch, LoadContext,
                              Node, Simple, Statement, SubDefinition, Variables)
from emulator.splitter import split_statements
from emulator.system import local_clock, system_values
from emulator.tables import DataModel, LoadedValues
from emulator.values import Dual, Value, boolean, from_text, number, shown_with, text, to_number

_CACHE_LIMIT = 2000  # statements longer than this are not cached (Butler-style growing bodies)


class VariableScope:
    """Names outside a LOAD: a bare name reads the variable of that name (NULL if undefined)."""

    def __init__(self, runner: "Runner") -> None:
        # A proxy: the Runner holds its scope, and what the scope compiles (cached by the
        # Runner) must not keep the Runner alive, so that a finished run is freed without the
        # garbage collector.
        self.runner = weakref.proxy(runner)

    def ref(self, name: str) -> Getter:
        variables = self.runner.variables
        return lambda row: variables.get(name)

    def call(self, name: str, args: list[Getter]) -> Getter:
        runner = self.runner
        special = runner.special_function(name, args)
        if special is not None:
            return special
        return compile_call(name, args, runner)

    def exists(self, field: str, value: Getter | None) -> Getter:
        if value is None:
            raise ScriptError("Exists(field) without a value needs a LOAD (there is no current record)")
        runner = self.runner
        return lambda row: boolean(runner.loaded_values().contains(field, value(row)))


class Runner:
    """Runs one script: holds its variables, subs, data model, trace and recorded requests."""

    def __init__(self, connections: dict | None = None, variables: dict[str, str] | None = None,
                 out: TextIO | None = None, sleep: Callable[[float], None] | None = None,
                 now: Callable[[], dt.datetime] | None = None,
                 libs: dict[str, str] | None = None, system: dict[str, str] | None = None,
                 seed: int | None = None) -> None:
        self.connections = connections or {}
        self.libs = libs or {}  # lib://NAME/... -> folder
        self.variables = Variables({k: from_text(v) for k, v in (variables or {}).items()})
        self.model = DataModel()
        self.subs: dict[str, SubDefinition] = {}
        self.trace: list[str] = []
        self.requests: list = []
        self.connection = None
        self.qualified = FieldSwitch()
        self.null_as_value = FieldSwitch()
        self.out = out if out is not None else sys.stdout
        self.sleep = sleep or time.sleep
        self._now = now or local_clock(system or {})
        self.scope = VariableScope(self)
        self.load: LoadContext | None = None  # the LOAD level reading its source
        self.table_file: TableFile | None = None  # the file the LOAD in progress reads
        # Relative file names are "relative to the Qlik Sense app working directory" (Include
        # page), the main script's folder here, also in statements of an included file.
        self.document = "<script>"
        self.directory = ""  # set by the Directory statement: where relative names start
        self.pending_loads: list = []  # preceding loads waiting for the LOAD or SQL below them
        self._prepared: dict[str, Action] = {}
        self._expressions: dict[str, Getter] = {}
        self._counter_values: dict[str, list] = {}  # counter -> [n, its value], reused in a row
        self._script_error_set = False
        self.error_count = 0
        self.error_list: list[str] = []
        self.random = random.Random(seed)  # Rand(); a seed makes runs repeatable
        self._system_given = system or {}
        self.system = system_values("<script>", self._system_given)
        self.function_state: dict[str, dict] = {}  # AutoNumber counters and the like, per run

    # ------------------------------------------------------------ running
    def run_file(self, path: str | Path) -> None:
        path = Path(path)
        try:
            source = path.read_text(encoding="utf-8-sig")
        except OSError as e:
            raise ScriptError(f"Cannot read script: {e}", str(path), code=FILE_NOT_FOUND) from e
        self.run_text(source, str(path))

    def run_text(self, source: str, file: str = "<script>") -> None:
        # The error variables exist from the start: ScriptErrorCount "is always reset to 0 at
        # the start of script execution" (.../Scripting/ErrorVariables/ErrorVariables.htm).
        self.set_script_error(0)
        self.document = file
        self.directory = ""
        self.system = system_values(file, {"ReloadTime": str(serial_from_datetime(self.now())),
                                           **self._system_given})
        try:
            self.run_nodes(self.load_nodes(source, file))
            if self.pending_loads:
                raise ScriptError("A preceding LOAD must be followed by a LOAD or SQL statement",
                                  file)
        except ExitScript:
            pass
        except ExitBlock as e:
            what = type(e).__name__[4:]
            raise ScriptError(f"Exit {what} outside a {what}", file, e.stmt.line, e.stmt.text) from e
        finally:
            self.model.mappings.clear()

    def load_nodes(self, source: str, file: str) -> list[Node]:
        return build_blocks(split_statements(source, file))

    def run_nodes(self, nodes: list[Node]) -> None:
        for node in nodes:
            if type(node) is Simple:
                self.run_statement(node.stmt)
            else:
                self.run_block(node)

    def run_block(self, block: Block) -> None:
        """A Sub defined inside a control statement "can only be called from within the same
        control statement" (Call page, Limitations): the block's own definitions end with it.
        https://help.qlik.com/en-US/cloud-services/Subsystems/Hub/Content/Sense_Hub/Scripting/ScriptControlStatements/Call.htm"""
        if not block.scopes_subs:
            block.run(self, block)
            return
        outer = dict(self.subs)
        try:
            block.run(self, block)
        finally:
            self.subs = outer

    def prepared(self, stmt: Statement) -> Action:
        """The statement's action, dollar-expanded and parsed (cached by the expanded text)."""
        if "$(" not in stmt.text:
            return self._parsed(stmt.text)
        text = stmt.text if stmt.expanded else self.expand(stmt.text)
        include = lexicon.standalone_include(text)
        if include is not None:
            return self._including(include)
        text = self._inlined(text)
        if not stmt.expanded and ";" in text and statements.expansion_splits(stmt.text):
            parts = split_statements(text, stmt.file, stmt.line, expanded=True)
            if len(parts) != 1:
                return self._several(parts)
            text = parts[0].text
        return self._parsed(text)

    def _several(self, parts: list[Statement]) -> Action:
        """An expansion holding several statements (``$(v)`` with v = ``;LOAD ...``, which
        Qvc.GetFieldValues relies on) runs them one by one: dollar expansion is "technically a
        macro expansion", "made just before the script statement ... is evaluated".
        https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/dollar-sign-expansions.htm
        Trace keeps the ``;`` in its message (statements.Kind.text_argument). Each part checks
        the preceding loads pending before it, so this one counts as a table statement."""
        nodes = build_blocks(parts)

        def run_parts(r: "Runner") -> None:
            r.run_nodes(nodes)
        run_parts.table_statement = True
        return run_parts

    def _including(self, include: lexicon.IncludeRef) -> Action:
        """A statement that is (or expands to) one ``$(Include=...)``: the file's statements run
        in its place, each expanded just before it runs, errors naming the included file."""
        def run_include(r: "Runner") -> None:
            found = r.included_file(include)
            if found is not None:
                r.run_nodes(r.load_nodes(found.read_text(encoding="utf-8-sig"), str(found)))
        run_include.table_statement = True  # its own statements check the pending loads
        return run_include

    def _inlined(self, text: str) -> str:
        """An include inside a statement brings the file's text (comments dropped, expanded)
        where it stands: Include "is a dollar-sign expansion", and Qvc.Calendar includes its
        ExtFields file inside a LOAD through a variable holding ``$(Include=...)``.
        https://help.qlik.com/en-US/cloud-services/Subsystems/Hub/Content/Sense_Hub/Scripting/dollar-sign-expansions.htm"""
        includes = lexicon.includes_in(text) if "$" in text else []  # one char: a fast scan
        if not includes:
            return text
        out, pos = [], 0
        for include in includes:
            found = self.included_file(include)
            content = "" if found is None else found.read_text(encoding="utf-8-sig")
            out += [text[pos:include.start], self._inlined(self.expand(lexicon.without_comments(content)))]
            pos = include.end
        out.append(text[pos:])
        return "".join(out)

    def included_file(self, include: lexicon.IncludeRef) -> Path | None:
        """The file an include names (its path expanded, placed as paths.local_path says); None
        for a missing file of Include, which "will fail silently"; Must_Include fails.
        https://help.qlik.com/en-US/cloud-services/Subsystems/Hub/Content/Sense_Hub/Scripting/SystemVariables/Include.htm"""
        path_text = self.expand(include.path).strip()
        found = self.find_file(path_text)
        if found is None and include.must:
            raise ScriptError(f"Must_Include file not found: {path_text}", code=FILE_NOT_FOUND)
        return found

    def _parsed(self, text: str) -> Action:
        cacheable = len(text) < _CACHE_LIMIT
        action = self._prepared.get(text) if cacheable else None
        if action is None:
            action = statements.prepare(text, self)
            if cacheable:
                self._prepared[text] = action
        return action

    def clause(self, stmt: Statement) -> object:
        """Run a control clause (If condition, For header...) and return what it means."""
        try:
            return self.prepared(stmt)(self)
        except ScriptError as e:
            raise e.located(stmt.file, stmt.line, stmt.text)
        except (ExitBlock, ExitScript):
            raise
        except Exception as e:
            raise InternalError.of(e).located(stmt.file, stmt.line, stmt.text) from e

    def run_statement(self, stmt: Statement) -> None:
        try:
            action = self.prepared(stmt)
            if self.pending_loads and not hasattr(action, "table_statement"):
                self.pending_loads.clear()
                raise ScriptError("A preceding LOAD must be followed by a LOAD or SQL statement")
            action(self)
            if self._script_error_set:
                self.set_script_error(0)
        except ExitBlock as e:
            e.stmt = e.stmt or stmt
            raise
        except ExitScript:
            raise
        except ScriptError as e:
            e.located(stmt.file, stmt.line, stmt.text)
            if self.error_mode() != 0 or isinstance(e, (UnsupportedSyntax, InternalError)):
                raise
            self.error_count += 1
            self.error_list.append(e.message)
            self.set_script_error(e.code)
        except Exception as e:
            raise InternalError.of(e).located(stmt.file, stmt.line, stmt.text) from e

    def error_mode(self) -> float:
        n = to_number(self.variables.get("ErrorMode"))
        return 1 if n is None else n

    def set_script_error(self, code: int) -> None:
        self._script_error_set = code != 0
        self.variables["ScriptError"] = Dual(SCRIPT_ERROR_TEXTS.get(code, ""), float(code))
        self.variables["ScriptErrorCount"] = number(self.error_count)
        self.variables["ScriptErrorList"] = text("\n".join(self.error_list))

    # ------------------------------------------------------------ expressions and expansion
    def expand(self, text_: str) -> str:
        return expand(text_, self)

    def variable_text(self, name: str) -> str | None:
        value = self.variables.get(name)
        return None if value is None else value.text

    def evaluate_text(self, expression: str) -> str:
        value = self.evaluate(expression)
        return "" if value is None else value.text

    def evaluate(self, expression: str) -> Value:
        getter = self._expressions.get(expression)
        if getter is None:
            getter = compile_expr(parse_expression(expression), self.scope)
            if len(expression) < _CACHE_LIMIT:
                self._expressions[expression] = getter
        return getter(None)

    def compile(self, expr) -> Getter:
        return compile_expr(expr, self.scope)

    # The counters of the LOAD in progress are read here directly: they are called for every
    # row, and IterNo() exists only here. functions.py has RecNo/RowNo too, for other callers.
    _COUNTERS = {"iterno": "iter_no", "recno": "rec_no", "rowno": "row_no"}

    def special_function(self, name: str, args: list[Getter]) -> Getter | None:
        key = self._COUNTERS.get(name.lower())
        if key is None or args:
            return None
        last = self._counter_values.setdefault(key, [None, None])  # shared by every call site

        def counter(row: object) -> Value:
            load = self.load
            n = None if load is None else getattr(load, key)
            if n is None:
                return None
            if last[0] != n:
                last[0], last[1] = n, number(n)
            return last[1]
        return counter

    def loaded_values(self) -> LoadedValues:
        """Exists() looks here: inside a LOAD, the index the LOAD keeps; else a fresh one."""
        return self.load.values if self.load is not None else LoadedValues(self.model)

    # ------------------------------------------------------------ variables and subs
    def local_paths(self, written: str) -> list[Path]:
        """Where a file the running statement names is looked for (paths.local_path)."""
        return local_path(written, self.document, self.libs, self.directory)

    def find_file(self, written: str) -> Path | None:
        """The file a path the running statement names reads, if there is one (paths.existing_file)."""
        return existing_file(self.local_paths(written))

    def set_variable(self, name: str, value: Value) -> None:
        self.variables[name] = shown_with(value, self.variable_text("DecimalSep"))

    def define_sub(self, name: str, params: list[str], body: list[Statement]) -> None:
        self.subs[name.lower()] = SubDefinition(name, params, body, build_blocks)

    def call_sub(self, name: str, args: list[tuple[Value, str | None]]) -> None:
        """args: (value, name of the variable passed, if the argument was a bare name)."""
        sub = self.subs.get(name.lower())
        if sub is None:
            raise ScriptError(f"Sub '{name}' not found: a Sub statement must define it before the Call")
        if len(args) > len(sub.params):
            raise ScriptError(f"Sub '{sub.name}' takes {len(sub.params)} parameters, "
                              f"called with {len(args)}")
        missing = object()
        shadowed = {p: self.variables.get(p, missing) for p in sub.params}
        for i, param in enumerate(sub.params):
            self.variables[param] = args[i][0] if i < len(args) else None
        try:
            self.run_nodes(sub.body)
        except ExitSub:
            pass
        finally:
            finals = {p: self.variables.get(p) for p in sub.params}
            for param, old in shadowed.items():
                if old is missing:
                    self.variables.pop(param, None)
                else:
                    self.variables[param] = old
            for i, (_, var_name) in enumerate(args):
                if var_name is not None:
                    self.variables[var_name] = finals[sub.params[i]]

    # ------------------------------------------------------------ output
    def print_trace(self, message: str) -> None:
        self.trace.append(message)
        print(message, file=self.out, flush=True)

    # ------------------------------------------------------------ FunctionContext
    def table_contents(self, table: str | None):
        """(fields, rows) of a loaded table, or of the LOAD in progress when ``table`` is None."""
        return self._table_or_current(table)

    def _table_or_current(self, table: str | None):
        if table is None and self.load is not None:
            return self.load.fields, self.load.rows
        name = table if table is not None else self.model.last_loaded
        if name is None:
            return None
        t = self.model.tables.get(name)
        return None if t is None else (t.fields, t.rows)

    def peek(self, field: str, row: int, table: str | None) -> Value:
        found = self._table_or_current(table)
        if found is None:
            return None
        fields, rows = found
        if field not in fields or not -len(rows) <= row < len(rows):
            return None
        return rows[row][fields.index(field)]

    def no_of_rows(self, table: str) -> int | None:
        t = self.model.tables.get(table)
        return None if t is None else len(t.rows)

    def no_of_fields(self, table: str) -> int | None:
        t = self.model.tables.get(table)
        return None if t is None else len(t.fields)

    def no_of_tables(self) -> int:
        return len(self.model.tables)

    def table_name(self, index: int) -> str | None:
        names = list(self.model.tables)
        return names[index] if 0 <= index < len(names) else None

    def field_name(self, index: int, table: str) -> str | None:
        t = self.model.tables.get(table)
        return t.fields[index - 1] if t is not None and 1 <= index <= len(t.fields) else None

    def field_number(self, field: str, table: str) -> int:
        t = self.model.tables.get(table)
        return t.fields.index(field) + 1 if t is not None and field in t.fields else 0

    def field_values(self, field: str) -> list[Value]:
        return self.model.field_values(field)

    def row_no(self) -> int | None:
        return None if self.load is None else self.load.row_no

    def rec_no(self) -> int | None:
        return None if self.load is None else self.load.rec_no

    def mapping(self, name: str) -> dict[str, Value] | None:
        return self.model.mappings.get(name)

    def now(self) -> dt.datetime:
        return self._now()

    def system_value(self, name: str) -> str | None:
        return self.system.get(name.lower())

    def run_state(self, key: str) -> dict:
        return self.function_state.setdefault(key, {})
