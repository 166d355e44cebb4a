"""The control structure of a script: statements grouped into blocks (If, For, Do, Switch, Sub).

Which statements open, continue and close a block is the statement table's knowledge
(statements.STATEMENTS, each opener's ``BlockShape``); this module only groups. Blocks are
recognised from each statement's first keywords before any dollar expansion (a control
clause is expanded and parsed when it runs). A block left open or closed twice fails with the
file and line of the clause.
https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/ScriptControlStatements/script-control-statements.htm
"""
from __future__ import annotations

from emulator.errors import SYNTAX_ERROR, ScriptError
from emulator.program import Block, Node, Simple, Statement
from emulator.statements import STATEMENTS, BlockShape, lookup

# Every clause that may only stand inside a block (ElseIf, Else, End If, Next, Case...).
_INNER = frozenset(key for kind in STATEMENTS.values() if kind.block
                   for key in kind.block.clauses | kind.block.closers)


def build_blocks(statements: list[Statement]) -> list[Node]:
    builder = _Builder(statements)
    nodes = builder.block(frozenset())
    if builder.pos < len(statements):
        raise _unexpected(statements[builder.pos])
    return nodes


def _unexpected(stmt: Statement) -> ScriptError:
    return ScriptError(f"Unexpected '{stmt.first_line}' (no matching opening statement)",
                       stmt.file, stmt.line, stmt.text, SYNTAX_ERROR)


def _never_closed(opener: Statement, shape: BlockShape) -> ScriptError:
    closers = " / ".join(sorted(shape.closers))
    return ScriptError(f"'{opener.first_line}' is never closed ({closers} missing)",
                       opener.file, opener.line, opener.text, SYNTAX_ERROR)


class _Builder:
    def __init__(self, statements: list[Statement]) -> None:
        self.statements = statements
        self.pos = 0

    def block(self, stops: frozenset[str]) -> list[Node]:
        """Nodes up to (not including) a statement whose key is in ``stops``."""
        nodes: list[Node] = []
        while self.pos < len(self.statements):
            stmt = self.statements[self.pos]
            key, kind = lookup(stmt.text)
            if key in stops:
                return nodes
            if key in _INNER:
                raise _unexpected(stmt)
            self.pos += 1
            nodes.append(self.node(stmt, kind.block if kind else None))
        return nodes

    def node(self, stmt: Statement, shape: BlockShape | None) -> Node:
        if shape is None:
            return Simple(stmt)
        if shape.raw_body:
            return self.raw_block(stmt, shape)
        sections = [(stmt, self.block(shape.clauses | shape.closers))]
        if shape.empty_head and sections[0][1]:
            allowed = " or ".join(sorted(c.title() for c in shape.clauses))
            raise ScriptError(f"Only {allowed} may follow '{stmt.first_line}'", stmt.file,
                              stmt.line, stmt.text, SYNTAX_ERROR)
        while True:
            if self.pos >= len(self.statements):
                raise _never_closed(stmt, shape)
            clause = self.statements[self.pos]
            self.pos += 1
            key = lookup(clause.text)[0]
            if key in shape.closers:
                return Block(shape.run, sections, clause)
            if shape.final_clause and lookup(sections[-1][0].text)[0] == shape.final_clause:
                raise _unexpected(clause)  # nothing but the closer after Else
            sections.append((clause, self.block(shape.clauses | shape.closers)))

    def raw_block(self, opener: Statement, shape: BlockShape) -> Block:
        """A Sub: its statements up to the matching closer, grouped only when it is called."""
        opener_key = lookup(opener.text)[0]
        start, depth = self.pos, 0
        while self.pos < len(self.statements):
            stmt = self.statements[self.pos]
            key = lookup(stmt.text)[0]
            self.pos += 1
            if key == opener_key:
                depth += 1
            elif key in shape.closers:
                if depth == 0:
                    return Block(shape.run, [(opener, self.statements[start:self.pos - 1])], stmt,
                                 scopes_subs=False)
                depth -= 1
        raise _never_closed(opener, shape)
