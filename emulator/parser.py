"""Recursive-descent parser: expressions, and the parts of statements built from them.

Operator precedence, loosest first (Qlik's help lists the operators but no precedence table;
this order gives the documented examples their documented results):

    or, xor  <  and  <  not  <  = <> < > <= >= like precedes follows  <  &
      <  bitand bitor bitxor << >>  <  + -  <  * /  <  unary - + bitnot

https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/Operators/operators.htm
"""
from __future__ import annotations

from dataclasses import dataclass, field

from emulator.errors import SYNTAX_ERROR, ScriptError, UnsupportedSyntax
from emulator.tokens import END, NAME, NUMBER, OP, STRING, WORD, Token, tokenize
from emulator.values import Value, number, text

# ---------------------------------------------------------------- expression tree


@dataclass(frozen=True, slots=True)
class Literal:
    value: Value


@dataclass(frozen=True, slots=True)
class Ref:
    """A field or variable name (which one is decided when the expression is compiled)."""
    name: str


@dataclass(frozen=True, slots=True)
class Call:
    name: str
    args: tuple
    distinct: bool = False     # Count(distinct X)


@dataclass(frozen=True, slots=True)
class Unary:
    op: str
    operand: object


@dataclass(frozen=True, slots=True)
class Binary:
    op: str
    left: object
    right: object


Expr = Literal | Ref | Call | Unary | Binary

# Binary operator levels, loosest first; _NOT marks where the prefix 'not' binds.
_NOT = "not"
_LEVELS: list[frozenset[str] | str] = [
    frozenset({"or", "xor"}),
    frozenset({"and"}),
    _NOT,
    frozenset({"=", "<>", "<", ">", "<=", ">=", "like", "precedes", "follows"}),
    frozenset({"&"}),
    frozenset({"bitand", "bitor", "bitxor", "<<", ">>"}),
    frozenset({"+", "-"}),
    frozenset({"*", "/"}),
]
_RELATIONAL_LEVEL = 3


# ---------------------------------------------------------------- the parser

class Parser:
    """A cursor over tokens with the expression grammar and small helpers for statements."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = tokenize(source)
        self.i = 0

    # -- cursor helpers
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def peek(self, offset: int = 1) -> Token:
        return self.tokens[min(self.i + offset, len(self.tokens) - 1)]

    def next(self) -> Token:
        token = self.tokens[self.i]
        if token.kind != END:
            self.i += 1
        return token

    def at_end(self) -> bool:
        return self.tok.kind == END or self.tok.is_op(";")

    def accept_word(self, *words: str) -> bool:
        if self.tok.is_word(*words):
            self.i += 1
            return True
        return False

    def accept_op(self, *ops: str) -> bool:
        if self.tok.is_op(*ops):
            self.i += 1
            return True
        return False

    def expect_word(self, *words: str) -> Token:
        if not self.tok.is_word(*words):
            self.fail(f"expected {' or '.join(words)}")
        return self.next()

    def expect_op(self, op: str) -> None:
        if not self.accept_op(op):
            self.fail(f"expected '{op}'")

    def expect_end(self) -> None:
        if not self.at_end():
            self.fail("unexpected text")

    def fail(self, message: str):
        found = self.tok.text or "end of statement"
        raise ScriptError(f"Syntax error: {message}, found {found!r}", code=SYNTAX_ERROR)

    def name(self) -> str:
        """A table, field or variable name: a word, a quoted name or a string literal."""
        token = self.tok
        if token.kind in (WORD, NAME, STRING):
            self.i += 1
            return token.value
        self.fail("expected a name")

    def rest_text(self) -> str:
        """The remaining tokens, for messages."""
        return " ".join(t.text for t in self.tokens[self.i:] if t.kind != END)

    # -- expressions
    def expression(self) -> Expr:
        return self.binary(0)

    def binary(self, level: int) -> Expr:
        if level == len(_LEVELS):
            return self.unary()
        ops = _LEVELS[level]
        if ops is _NOT:
            if self.accept_word("not"):
                return Unary("not", self.binary(level))
            return self.binary(level + 1)
        left = self.binary(level + 1)
        while True:
            op = self.binary_op(ops)
            if op is None:
                return left
            left = Binary(op, left, self.binary(level + 1))

    def binary_op(self, ops: frozenset[str]) -> str | None:
        token = self.tok
        candidate = token.value.lower() if token.kind == WORD else token.value if token.kind == OP else None
        if candidate in ops:
            self.i += 1
            return candidate
        return None

    def unary(self) -> Expr:
        if self.accept_op("-"):
            return Unary("-", self.unary())
        if self.accept_op("+"):
            return self.unary()
        if self.accept_word("bitnot"):
            return Unary("bitnot", self.unary())
        return self.primary()

    def primary(self) -> Expr:
        token = self.tok
        if token.kind == NUMBER:
            self.i += 1
            return Literal(number(float(token.value)))
        if token.kind == STRING:
            self.i += 1
            return Literal(text(token.value))
        if token.kind == NAME:
            self.i += 1
            return Ref(token.value)
        if token.kind == WORD:
            self.i += 1
            if self.tok.is_op("("):
                return self.call(token.value)
            return Ref(token.value)
        if self.accept_op("("):
            inner = self.expression()
            self.expect_op(")")
            return inner
        self.fail("expected an expression")

    def call(self, name: str) -> Call:
        """``f(a, b)``; an aggregation may have ``distinct`` before its first argument."""
        self.expect_op("(")
        distinct = self.tok.is_word("distinct") and (self.peek().kind != OP or self.peek().is_op("("))
        if distinct:
            self.i += 1
        return Call(name, self.arguments(), distinct)

    def arguments(self) -> tuple:
        """The arguments after a call's opening parenthesis, and the closing one."""
        args: list[Expr] = []
        if self.accept_op(")"):
            return ()
        while True:
            if self.tok.is_word("total") and self.peek().kind != OP:
                self.fail("the aggregation qualifier Total is not supported in a script")
            args.append(self.expression())
            if self.accept_op(")"):
                return tuple(args)
            self.expect_op(",")

    def expression_list(self) -> list[Expr | None]:
        """Comma-separated expressions where an item may be empty (``Call f(, Null(), x)``)."""
        items: list[Expr | None] = []
        while True:
            if self.tok.is_op(",", ")") or self.at_end():
                items.append(None)
            else:
                items.append(self.expression())
            if not self.accept_op(","):
                return items


def parse_expression(source: str) -> Expr:
    parser = Parser(source)
    expr = parser.expression()
    parser.expect_end()
    return expr


# ---------------------------------------------------------------- LOAD statements

@dataclass
class FieldSpec:
    expr: Expr | None          # None for '*'
    alias: str | None = None
    source: str = ""           # the expression as written: the field's name when no alias


@dataclass
class LoadStatement:
    """``[Label:] [Mapping|NoConcatenate|Concatenate [(T)]] LOAD fields <source> [Where|While]``."""
    label: str | None
    fields: list[FieldSpec]
    source: str                # 'inline', 'resident', 'autogenerate', 'preceding'
    mapping: bool = False
    no_concatenate: bool = False
    concatenate: bool = False
    concatenate_to: str | None = None
    join: "JoinPrefix | None" = None     # the prefixes are parsed and run by prefixes.py
    first: Expr | None = None
    sample: Expr | None = None
    reload: "Reload | None" = None       # Add, Replace, Merge
    reshape: "Reshape | None" = None     # Crosstable, Generic, IntervalMatch
    distinct: bool = False
    data: str = ""      # the text between Inline's brackets, or the path after From
    format_spec: list[list[Token]] = field(default_factory=list)
    resident: str = ""
    count: Expr | None = None
    where: Expr | None = None
    while_: Expr | None = None
    group_by: list[Expr] | None = None   # field names (Ref), or expressions (loads.py)
    order_by: list[tuple[str, bool]] = field(default_factory=list)   # (field, descending)


def parse_load(p: Parser, label: str | None, prefixes: dict) -> LoadStatement:
    p.expect_word("load")
    stmt = LoadStatement(label=label, fields=[], source="preceding", **prefixes)
    stmt.distinct = p.accept_word("distinct")
    stmt.fields = _field_list(p)
    if p.accept_word("inline"):
        if p.tok.kind not in (NAME, STRING):  # [ ], " ", ' ' or ` ` (inline-loads page)
            p.fail("expected the data in [ ], \" \", ' ' or ` ` after Inline")
        stmt.source, stmt.data = "inline", p.next().value
        if p.tok.is_op("("):
            stmt.format_spec = format_spec(p)
    elif p.accept_word("from"):
        stmt.source, stmt.data = "file", file_path(p)
        if p.tok.is_op("("):
            stmt.format_spec = format_spec(p)
    elif p.accept_word("resident"):
        stmt.source, stmt.resident = "resident", p.name()
    elif p.accept_word("autogenerate"):
        stmt.source = "autogenerate"
        stmt.count = p.binary(_RELATIONAL_LEVEL + 1)
    elif p.tok.is_word("extension"):
        raise UnsupportedSyntax(f"Unsupported LOAD source: {p.rest_text()}")
    if p.accept_word("where"):
        stmt.where = p.expression()
    elif p.accept_word("while"):
        stmt.while_ = p.expression()
    if p.accept_word("group"):
        p.expect_word("by")
        stmt.group_by = _expressions(p)
    if p.accept_word("order"):
        p.expect_word("by")
        if stmt.source != "resident":
            raise ScriptError("Order By is only allowed in a LOAD ... Resident", code=SYNTAX_ERROR)
        stmt.order_by = _order_by(p)
    p.expect_end()
    return stmt


def _expressions(p: Parser) -> list[Expr]:
    items = [p.expression()]
    while p.accept_op(","):
        items.append(p.expression())
    return items


def _order_by(p: Parser) -> list[tuple[str, bool]]:
    """``Order By F1 [asc|desc], F2...``"""
    items = []
    while True:
        name = p.name()
        descending = p.next().value.lower() == "desc" if p.tok.is_word("asc", "desc") else False
        items.append((name, descending))
        if not p.accept_op(","):
            return items


def file_path(p: Parser) -> str:
    """A file path after From: [quoted], 'quoted', or written plainly up to '(' or a clause."""
    if p.tok.kind in (NAME, STRING):
        return p.next().value
    start = p.tok.pos
    while not (p.at_end() or p.tok.is_op("(") or p.tok.is_word("where", "while")):
        p.next()
    return p.source[start:p.tok.pos].strip()


def _field_list(p: Parser) -> list[FieldSpec]:
    fields: list[FieldSpec] = []
    while True:
        if p.accept_op("*"):
            fields.append(FieldSpec(None))
        else:
            start = p.tok.pos
            expr = p.expression()
            written = p.source[start:p.tok.pos].strip()
            alias = p.name() if p.accept_word("as") else None
            fields.append(FieldSpec(expr, alias, written))
        if not p.accept_op(","):
            return fields


def format_spec(p: Parser) -> list[list[Token]]:
    """``(txt, delimiter is ';', embedded labels)``: a list of items, each a list of tokens."""
    p.expect_op("(")
    items: list[list[Token]] = [[]]
    while not p.accept_op(")"):
        if p.at_end():
            p.fail("expected ')'")
        token = p.next()
        if token.is_op(","):
            items.append([])
        else:
            items[-1].append(token)
    return [item for item in items if item]
