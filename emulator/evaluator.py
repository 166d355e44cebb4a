"""Expression evaluation: the tree from parser.py compiled into Python closures.

A compiled expression is ``f(row) -> Value``; ``row`` is the record a LOAD is reading (None
outside a LOAD). How a bare name is read (field of the record, or variable) and how a function
is called is decided once, at compile time, by a :class:`Scope`.

Operators follow Qlik's documentation:
- NULL: https://help.qlik.com/en-US/qlikview/May2023/Subsystems/Client/Content/QV_QlikView/Scripting/propagate-null-values-expressions.htm
  (arithmetic with NULL gives NULL, ``A & NULL`` gives A; ``NULL rel.op NULL`` gives NULL,
  ``A <> NULL`` true, every other comparison with one NULL false).
- relational: https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/Operators/RelationalOperators.htm
  (a numeric comparison when both operands read as numbers, else a text comparison;
  precedes/follows always compare text).
- logical operators read 0 as false and anything else as true, and return -1 / 0.
"""
from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Protocol

from emulator.aggregations import AGGREGATIONS
from emulator.errors import SYNTAX_ERROR, ScriptError
from emulator.parser import Binary, Call, Expr, Literal, Ref, Unary
from emulator.values import BuiltText, Dual, Value, boolean, is_true, number, to_number, wildcard_regex

Getter = Callable[[object], Value]

TRUE = boolean(True)
FALSE = boolean(False)


class Scope(Protocol):
    def ref(self, name: str) -> Getter: ...
    def call(self, name: str, args: list[Getter]) -> Getter: ...
    def exists(self, field: str, value: Getter | None) -> Getter: ...
    # Optional: ``aggregate(call) -> Getter`` where aggregation functions (Sum, Count...) are
    # allowed: in a LOAD ... Group By (loads.GroupScope).


def compile_aggregate(call: Call, scope: Scope) -> Getter:
    aggregate = getattr(scope, "aggregate", None)
    if aggregate is None:
        raise ScriptError(f"Aggregation function {call.name} is only allowed in the field list "
                          f"of a LOAD, and not inside another aggregation", code=SYNTAX_ERROR)
    return aggregate(call)


def has_aggregation(expr: Expr | None) -> bool:
    if isinstance(expr, Call):
        return expr.name.lower() in AGGREGATIONS or any(map(has_aggregation, expr.args))
    if isinstance(expr, Unary):
        return has_aggregation(expr.operand)
    if isinstance(expr, Binary):
        return has_aggregation(expr.left) or has_aggregation(expr.right)
    return False


def compile_expr(expr: Expr, scope: Scope) -> Getter:
    if isinstance(expr, Literal):
        value = expr.value
        return lambda row: value
    if isinstance(expr, Ref):
        return scope.ref(expr.name)
    if isinstance(expr, Call):
        if expr.name.lower() == "exists":
            return _exists(expr, scope)
        if expr.name.lower() in AGGREGATIONS:
            return compile_aggregate(expr, scope)
        if expr.distinct:
            raise ScriptError(f"distinct is only allowed in aggregation functions, not in {expr.name}",
                              code=SYNTAX_ERROR)
        return scope.call(expr.name, [compile_expr(a, scope) for a in expr.args])
    if isinstance(expr, Unary):
        return _UNARY[expr.op](compile_expr(expr.operand, scope))
    if expr.op == "&":
        parts = [compile_expr(e, scope) for e in _concatenated(expr)]
        if len(parts) == 2:
            return _concat_pair(*parts)
        return lambda row: concat_all([p(row) for p in parts])
    left, right = compile_expr(expr.left, scope), compile_expr(expr.right, scope)
    op = BINARY[expr.op]
    return lambda row: op(left(row), right(row))


def _exists(call: Call, scope: Scope) -> Getter:
    """Exists(field [, expr]): the field is named, not evaluated (a bare name or a string)."""
    if not 1 <= len(call.args) <= 2:
        raise ScriptError("Exists takes 1 or 2 arguments", code=SYNTAX_ERROR)
    field = call.args[0]
    if isinstance(field, Ref):
        name = field.name
    elif isinstance(field, Literal) and field.value is not None:
        name = field.value.text
    else:
        raise ScriptError("Exists: the first argument must name a field", code=SYNTAX_ERROR)
    value = compile_expr(call.args[1], scope) if len(call.args) == 2 else None
    return scope.exists(name, value)


# ---------------------------------------------------------------- operators on values

def _arithmetic(fn: Callable[[float, float], float]) -> Callable[[Value, Value], Value]:
    def apply(a: Value, b: Value) -> Value:
        # to_number(v), its common case (a value with a number) without the call
        x = a.num if a is not None and a.num is not None else to_number(a)
        y = b.num if b is not None and b.num is not None else to_number(b)
        if x is None or y is None:
            return None
        try:
            return number(fn(x, y))
        except (ZeroDivisionError, OverflowError):
            return None
    return apply


def _concatenated(expr: Expr) -> list[Expr]:
    """The operands of a chain ``a & b & c`` (parsed as ``(a & b) & c``)."""
    if isinstance(expr, Binary) and expr.op == "&":
        return _concatenated(expr.left) + [expr.right]
    return [expr]


_BUILD_FROM = 4096  # texts longer than this are built lazily (values.BuiltText)


def concat_all(values: list[Value]) -> Value:
    """``a & b & ...``: NULL only when every operand is NULL; a NULL operand adds nothing."""
    first = values[0]
    if type(first) is BuiltText:
        return first.extended([v.text for v in values[1:] if v is not None])
    texts = [v.text for v in values if v is not None]
    if not texts:
        return None
    if len(texts) == 1 or sum(map(len, texts)) < _BUILD_FROM:
        return Dual("".join(texts))
    return BuiltText(texts, len(texts))


def _concat_pair(left: Getter, right: Getter) -> Getter:
    """``a & b``, the common case of concat_all, without building lists."""
    def apply(row: object) -> Value:
        a, b = left(row), right(row)
        if a is None or b is None or type(a) is BuiltText:
            return concat_all([a, b])
        joined = a.text + b.text
        return Dual(joined) if len(joined) < _BUILD_FROM else BuiltText([joined], 1)
    return apply


def concat(a: Value, b: Value) -> Value:
    return concat_all([a, b])


def _relational(fn: Callable[[object, object], bool], ne: bool = False) -> Callable[[Value, Value], Value]:
    def apply(a: Value, b: Value) -> Value:
        if a is None or b is None:
            if a is None and b is None:
                return None
            return TRUE if ne else FALSE
        x = a.num if a.num is not None else to_number(a)  # as in _arithmetic
        y = b.num if b.num is not None else to_number(b)
        if x is not None and y is not None:
            return TRUE if fn(x, y) else FALSE
        return TRUE if fn(a.text, b.text) else FALSE
    return apply


def _text_order(fn: Callable[[str, str], bool]) -> Callable[[Value, Value], Value]:
    def apply(a: Value, b: Value) -> Value:
        if a is None or b is None:
            return None if a is None and b is None else FALSE
        return TRUE if fn(a.text, b.text) else FALSE
    return apply


def like(a: Value, b: Value) -> Value:
    """``'abc' like 'a*'``: * any characters, ? one character (case-insensitive)."""
    if a is None or b is None:
        return None if a is None and b is None else FALSE
    return TRUE if wildcard_regex(b.text, True).fullmatch(a.text) else FALSE


def _logical(fn: Callable[[bool, bool], bool]) -> Callable[[Value, Value], Value]:
    return lambda a, b: TRUE if fn(is_true(a), is_true(b)) else FALSE


def _int32(n: float) -> int:
    i = int(n) & 0xFFFFFFFF
    return i - (1 << 32) if i & 0x80000000 else i


def _bitwise(fn: Callable[[int, int], int]) -> Callable[[Value, Value], Value]:
    return _arithmetic(lambda x, y: _int32(fn(_int32(x), _int32(y))))


BINARY: dict[str, Callable[[Value, Value], Value]] = {
    "+": _arithmetic(operator.add),
    "-": _arithmetic(operator.sub),
    "*": _arithmetic(operator.mul),
    "/": _arithmetic(operator.truediv),
    "&": concat,
    "=": _relational(operator.eq),
    "<>": _relational(operator.ne, ne=True),
    "<": _relational(operator.lt),
    "<=": _relational(operator.le),
    ">": _relational(operator.gt),
    ">=": _relational(operator.ge),
    "precedes": _text_order(operator.lt),
    "follows": _text_order(operator.gt),
    "like": like,
    "and": _logical(operator.and_),
    "or": _logical(operator.or_),
    "xor": _logical(operator.ne),
    "bitand": _bitwise(operator.and_),
    "bitor": _bitwise(operator.or_),
    "bitxor": _bitwise(operator.xor),
    ">>": _bitwise(operator.rshift),
    "<<": _bitwise(operator.lshift),
}


def _negate(operand: Getter) -> Getter:
    def apply(row: object) -> Value:
        n = to_number(operand(row))
        return None if n is None else number(-n)
    return apply


def _not(operand: Getter) -> Getter:
    return lambda row: FALSE if is_true(operand(row)) else TRUE


def _bitnot(operand: Getter) -> Getter:
    def apply(row: object) -> Value:
        n = to_number(operand(row))
        return None if n is None else number(~_int32(n))
    return apply


_UNARY: dict[str, Callable[[Getter], Getter]] = {"-": _negate, "not": _not, "bitnot": _bitnot}
