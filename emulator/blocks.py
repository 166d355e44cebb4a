"""The control structure of a script: statements grouped into If, For, Do, Switch and Sub blocks.

Blocks are recognised from each statement's first keywords before any dollar expansion (a
control clause's condition is expanded and parsed when it runs). A block left open or closed
twice fails with the file and line of the clause.
https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/ScriptControlStatements/script-control-statements.htm
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from emulator.errors import SYNTAX_ERROR, ScriptError
from emulator.splitter import Statement


@dataclass
class Simple:
    stmt: Statement


@dataclass
class IfBlock:
    branches: list[tuple[Statement, list]]     # ('if ... then' | 'elseif ... then', body)
    otherwise: list | None = None


@dataclass
class ForBlock:
    header: Statement
    body: list
    each: bool


@dataclass
class DoBlock:
    header: Statement
    body: list
    footer: Statement


@dataclass
class SwitchBlock:
    header: Statement
    cases: list[tuple[Statement, list]] = field(default_factory=list)
    default: list | None = None


@dataclass
class SubBlock:
    """A Sub's body is grouped into blocks when the Sub is first called: Sense skips an uncalled
    Sub to its End Sub, and Butler's own file has a Sub (PostToSlack) whose If ends in 'endif'."""
    header: Statement
    name: str
    params: list[str]
    statements: list[Statement]
    _body: list | None = None

    @property
    def body(self) -> list:
        if self._body is None:
            self._body = build_blocks(self.statements)
        return self._body


@dataclass
class Include:
    stmt: Statement
    must: bool
    path: str


Node = Simple | IfBlock | ForBlock | DoBlock | SwitchBlock | SubBlock | Include

# Exit Script|Sub|For|Do: raised by the Exit statement, caught by the block it leaves.

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


_KEYWORDS = re.compile(r"\s*([A-Za-z]+)(?:\s+([A-Za-z]+))?")
_SUB_HEADER = re.compile(r"(?is)sub\s+([^\s(]+)\s*(?:\((.*)\))?\s*$")
_INCLUDE = re.compile(r"(?is)\$\((must_)?include\s*=(.*)\)\s*$")
_IF_CLAUSES = frozenset({"elseif", "else", "end if"})
_SWITCH_CLAUSES = frozenset({"case", "default", "end switch"})


def keywords(stmt: Statement) -> tuple[str, str]:
    """The first two words of a statement, lower case ('' where absent)."""
    m = _KEYWORDS.match(stmt.text)
    if not m:
        return "", ""
    return m.group(1).lower(), (m.group(2) or "").lower()


def build_blocks(statements: list[Statement]) -> list[Node]:
    builder = _Builder(statements)
    nodes = builder.block(frozenset())
    if builder.pos < len(statements):
        stmt = statements[builder.pos]
        raise _unexpected(stmt)
    return nodes


def _unexpected(stmt: Statement) -> ScriptError:
    return ScriptError(f"Unexpected '{stmt.first_line}' (no matching opening statement)",
                       stmt.file, stmt.line, stmt.text, SYNTAX_ERROR)


class _Builder:
    def __init__(self, statements: list[Statement]) -> None:
        self.statements = statements
        self.pos = 0

    def block(self, terminators: frozenset[str]) -> list[Node]:
        """Nodes up to (not including) a statement whose keyword is in ``terminators``."""
        nodes: list[Node] = []
        while self.pos < len(self.statements):
            stmt = self.statements[self.pos]
            first, second = keywords(stmt)
            key = f"end {second}" if first == "end" else first
            if key in terminators:
                return nodes
            if key in ("elseif", "else", "next", "loop", "case", "default") or first == "end":
                raise _unexpected(stmt)
            self.pos += 1
            nodes.append(self.node(stmt, first, second))
        return nodes

    def node(self, stmt: Statement, first: str, second: str) -> Node:
        if first == "if":
            return self.if_block(stmt)
        if first == "for":
            body = self.closed_block(stmt, frozenset({"next"}))
            return ForBlock(stmt, body, each=second == "each")
        if first == "do":
            body = self.closed_block(stmt, frozenset({"loop"}))
            return DoBlock(stmt, body, self.statements[self.pos - 1])
        if first == "switch":
            return self.switch_block(stmt)
        if first == "sub":
            return self.sub_block(stmt)
        include = _INCLUDE.match(stmt.text)
        if include:
            return Include(stmt, bool(include.group(1)), include.group(2).strip())
        return Simple(stmt)

    def closed_block(self, opener: Statement, closers: frozenset[str]) -> list[Node]:
        body = self.block(closers)
        if self.pos >= len(self.statements):
            raise ScriptError(f"'{opener.first_line}' is never closed ({' / '.join(sorted(closers))} missing)",
                              opener.file, opener.line, opener.text, SYNTAX_ERROR)
        self.pos += 1
        return body

    def if_block(self, opener: Statement) -> IfBlock:
        result = IfBlock([(opener, self.block(_IF_CLAUSES))])
        for keyword, clause, body in self.clauses(opener, _IF_CLAUSES):
            if result.otherwise is not None:
                raise _unexpected(clause)  # nothing but End If after Else
            if keyword == "elseif":
                result.branches.append((clause, body))
            else:
                result.otherwise = body
        return result

    def switch_block(self, opener: Statement) -> SwitchBlock:
        result = SwitchBlock(opener)
        if self.block(_SWITCH_CLAUSES):
            raise ScriptError("Only Case or Default may follow Switch", opener.file, opener.line,
                              opener.text, SYNTAX_ERROR)
        for keyword, clause, body in self.clauses(opener, _SWITCH_CLAUSES):
            if keyword == "case":
                result.cases.append((clause, body))
            else:
                result.default = body
        return result

    def clauses(self, opener: Statement, stops: frozenset[str]) -> list[tuple[str, Statement, list]]:
        """(keyword, clause, body) for each clause up to the closing End clause."""
        found = []
        while True:
            if self.pos >= len(self.statements):
                raise ScriptError(f"'{opener.first_line}' is never closed", opener.file,
                                  opener.line, opener.text, SYNTAX_ERROR)
            clause = self.statements[self.pos]
            self.pos += 1
            keyword = keywords(clause)[0]
            if keyword == "end":
                return found
            found.append((keyword, clause, self.block(stops)))

    def sub_block(self, opener: Statement) -> SubBlock:
        m = _SUB_HEADER.match(opener.text)
        if not m:
            raise ScriptError("Syntax error in Sub statement", opener.file, opener.line,
                              opener.text, SYNTAX_ERROR)
        params = [p.strip() for p in (m.group(2) or "").split(",") if p.strip()]
        start, depth = self.pos, 0
        while self.pos < len(self.statements):
            first, second = keywords(self.statements[self.pos])
            self.pos += 1
            if first == "sub":
                depth += 1
            elif (first, second) == ("end", "sub"):
                if depth == 0:
                    return SubBlock(opener, m.group(1), params, self.statements[start:self.pos - 1])
                depth -= 1
        raise ScriptError(f"'{opener.first_line}' is never closed (end sub missing)", opener.file,
                          opener.line, opener.text, SYNTAX_ERROR)
