"""What a running script is made of, shared by the stages that build and run it: statements as
split, the blocks they are grouped into, the signals Exit raises, the context of a LOAD in
progress, and the interface (``Interpreter``) statements run against, which runner.py implements.

Keeping these here lets statements.py and loads.py be written against the interface without
importing the runner that imports them.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path
from dataclasses import dataclass, field
from typing import Protocol

from emulator.paths import TableFile
from emulator.tables import DataModel, LoadedValues, Row
from emulator.values import Value


@dataclass(frozen=True, slots=True)
class Statement:
    text: str
    line: int
    file: str
    expanded: bool = False  # cut from a dollar expansion's result: not expanded again

    @property
    def first_line(self) -> str:
        return self.text.split("\n", 1)[0]


# ---------------------------------------------------------------- blocks

@dataclass
class Simple:
    stmt: Statement


@dataclass
class Block:
    """A control statement with the clauses inside it: ``sections`` is (clause, body) for the
    opening clause and each clause after it (ElseIf, Else, Case, Default); ``closer`` is the
    closing statement (End If, Next, Loop...). ``run`` is the opener's entry in the statement
    table. A Sub's one section holds its statements as split (grouped when it is first called)."""
    run: Callable[["Interpreter", "Block"], None]
    sections: list[tuple[Statement, list]]
    closer: Statement
    scopes_subs: bool = True    # Subs defined inside are forgotten after it (not for a Sub)

    @property
    def opener(self) -> Statement:
        return self.sections[0][0]


Node = Simple | Block


@dataclass
class SubDefinition:
    """A Sub as its Sub statement defined it; the body is grouped into blocks when the Sub is
    first called (Sense skips an uncalled Sub to its End Sub)."""
    name: str
    params: list[str]
    statements: list[Statement]
    build: Callable[[list[Statement]], list[Node]]
    _body: list[Node] | None = None

    @property
    def body(self) -> list[Node]:
        if self._body is None:
            self._body = self.build(self.statements)
        return self._body


# ---------------------------------------------------------------- Exit signals
# Raised by the Exit statement, caught by the block it leaves.

class ExitScript(Exception):
    pass


class ExitBlock(Exception):
    """Exit Sub|For|Do; ``stmt`` is the Exit statement, for the error when nothing catches it."""
    stmt: Statement | None = None


class ExitSub(ExitBlock):
    pass


class ExitFor(ExitBlock):
    pass


class ExitDo(ExitBlock):
    pass


# ---------------------------------------------------------------- switches by field name

@dataclass
class FieldSwitch:
    """A switch per field that statements turn on and off by field-name patterns (Qualify/
    Unqualify, NullAsValue/NullAsNull): for a field, the last statement naming it wins; turning
    off ``*`` forgets every earlier statement."""
    rules: list[tuple[re.Pattern, bool]] = field(default_factory=list)

    def turn(self, patterns: list[re.Pattern], on: bool) -> None:
        if not on and any(x.pattern == ".*" for x in patterns):
            self.rules = []
        else:
            self.rules.extend((x, on) for x in patterns)

    def is_on(self, name: str) -> bool:
        result = False
        for pattern, on in self.rules:
            if pattern.fullmatch(name):
                result = on
        return result


# ---------------------------------------------------------------- variables

class Variables(dict):
    """The script's variables (name -> value). What is computed from them is kept in
    ``derived`` (the settings functions honour: functions.script_settings); every change to a
    variable empties it, so that it is computed again."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.derived: dict[object, object] = {}


def _emptying_derived(method: Callable) -> Callable:
    def changed(self: Variables, *args: object, **kwargs: object) -> object:
        self.derived.clear()
        return method(self, *args, **kwargs)
    return changed


for _name in ("__setitem__", "__delitem__", "__ior__", "pop", "popitem", "clear", "update", "setdefault"):
    setattr(Variables, _name, _emptying_derived(getattr(dict, _name)))


# ---------------------------------------------------------------- the LOAD in progress

@dataclass
class LoadContext:
    """One LOAD level while it reads its source: the rows it has made so far (Peek and Exists
    look at them), the counters RecNo, RowNo and IterNo of the record being read, and the record
    before it that Where kept."""
    fields: list[str]
    rows: list[Row]
    values: LoadedValues
    rec_no: int | None = None
    row_no: int | None = None
    iter_no: int | None = None
    previous: Row | None = None  # the last record Where kept (Previous())


# ---------------------------------------------------------------- the interpreter's interface

Action = Callable[["Interpreter"], object]


class Interpreter(Protocol):
    """What statements (statements.py, loads.py) use of the running script."""
    variables: dict[str, Value]
    model: DataModel
    connections: dict
    connection: object
    requests: list
    subs: dict[str, SubDefinition]
    qualified: FieldSwitch      # Qualify / Unqualify
    null_as_value: FieldSwitch  # NullAsValue / NullAsNull
    pending_loads: list         # preceding loads waiting for the LOAD or SQL below them
    load: LoadContext | None    # the LOAD level reading its source, if any
    table_file: TableFile | None  # the file the LOAD in progress reads, if any
    document: str               # the main script: relative paths start in its folder
    sleep: Callable[[float], None]
    scope: object

    def compile(self, expr: object) -> Callable[[object], Value]: ...
    def set_variable(self, name: str, value: Value) -> None: ...
    def call_sub(self, name: str, args: list[tuple[Value, str | None]]) -> None: ...
    def print_trace(self, message: str) -> None: ...
    def field_values(self, field: str) -> list[Value]: ...
    def run_nodes(self, nodes: list[Node]) -> None: ...
    def clause(self, stmt: Statement) -> object: ...
    def now(self) -> dt.datetime: ...
    def local_paths(self, written: str) -> list[Path]: ...
    def find_file(self, written: str) -> Path | None: ...


@dataclass
class Loading:
    """Sets ``interpreter.load`` for the duration of a ``with`` block."""
    interpreter: Interpreter
    context: LoadContext
    _previous: LoadContext | None = field(default=None, init=False)

    def __enter__(self) -> LoadContext:
        self._previous, self.interpreter.load = self.interpreter.load, self.context
        return self.context

    def __exit__(self, *exc: object) -> None:
        self.interpreter.load = self._previous
