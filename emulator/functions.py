"""Qlik script functions: ONE table (``FUNCTIONS``) and ONE place for NULL handling.

Each function is registered with :func:`script_function`, which records its arity and its
NULL policy. :func:`call_function` checks the arity, applies the policy, and turns an
argument outside a function's domain (``_Undefined``) into NULL, so the functions themselves
contain neither NULL checks nor error plumbing. Qlik's rule, from
https://help.qlik.com/en-US/qlikview/May2023/Subsystems/Client/Content/QV_QlikView/Scripting/propagate-null-values-expressions.htm :
"functions return NULL when the parameters fall outside the range for which the function is
defined" and "functions generally return NULL when any of the parameters necessary for the
evaluation are NULL", except the type-testing and conditional functions.

Date and time values are Qlik serial numbers: days since 1899-12-30, the time as the fraction.
"""
from __future__ import annotations

import colorsys
import datetime as dt
import functools
import enum
import json
import math
import random
import re
import statistics
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property, lru_cache, partial
from pathlib import Path
from typing import Protocol
from xml.etree import ElementTree

import yaml

from emulator.aggregations import AGGREGATIONS
from emulator.errors import SYNTAX_ERROR, ScriptError
from emulator.evaluator import Getter
from emulator.paths import TableFile
from emulator.program import Variables
from emulator.system import time_zone
from emulator.tables import value_key
from emulator.values import (Dual, Value, boolean, from_text, is_true, number, parse_number,
                             read_grouped_number, text, to_number, wildcard_regex)


class FunctionContext(Protocol):
    """What context-dependent functions need from the running script (E1's runner)."""

    def peek(self, field: str, row: int, table: str | None) -> Value: ...
    def no_of_rows(self, table: str) -> int | None: ...
    def no_of_fields(self, table: str) -> int | None: ...
    def no_of_tables(self) -> int: ...
    def table_name(self, index: int) -> str | None: ...
    def field_name(self, index: int, table: str) -> str | None: ...
    def field_number(self, field: str, table: str) -> int: ...
    def field_values(self, field: str) -> list[Value]: ...
    def table_contents(self, table: str | None) -> tuple[list[str], list[list[Value]]] | None: ...
    def evaluate(self, expression: str) -> Value: ...  # Evaluate(): an expression given as text
    def row_no(self) -> int | None: ...
    def rec_no(self) -> int | None: ...
    def mapping(self, name: str) -> dict[str, Value] | None: ...
    def now(self) -> dt.datetime: ...
    def system_value(self, name: str) -> str | None: ...  # system.py: OSUser, DocumentName...
    def run_state(self, key: str) -> dict: ...  # kept for the run: AutoNumber's counters
    def find_file(self, written: str) -> Path | None: ...  # the file a path names, if any
    table_file: TableFile | None  # the file the LOAD in progress reads (FileName()...)
    random: random.Random  # Rand()
    # Optional: `variables`, the script's variables (a mapping from name to value). When the
    # context has them, the settings the script sets (DateFormat, DecimalSep...) are honoured.


class Nulls(enum.Enum):
    PROPAGATE = "any NULL argument makes the result NULL"
    AS_EMPTY = "a NULL argument is read as the empty string"
    PASS = "the function sees NULL itself (type tests, conditionals, lookups)"


@dataclass(frozen=True)
class ScriptFunction:
    name: str
    impl: Callable[..., Value]
    min_args: int
    max_args: int | None  # None: any number
    nulls: Nulls
    uses_context: bool


FUNCTIONS: dict[str, ScriptFunction] = {}


_EMPTY = text("")


class _Undefined(Exception):
    """An argument outside the function's domain: the call returns NULL."""


def script_function(name: str, min_args: int, max_args: int | None = -1, *,
                    nulls: Nulls = Nulls.PROPAGATE, context: bool = False):
    """Register the decorated function in FUNCTIONS under ``name`` (case-insensitive).
    ``max_args`` defaults to ``min_args``; None means variadic."""
    def register(impl: Callable[..., Value]) -> Callable[..., Value]:
        upper = min_args if max_args == -1 else max_args
        FUNCTIONS[name.lower()] = ScriptFunction(name, impl, min_args, upper, nulls, context)
        return impl
    return register


def call_function(name: str, args: list[Value], ctx: FunctionContext) -> Value:
    return bind_function(name, len(args))(args, ctx)


def bind_function(name: str, arg_count: int) -> Callable[[list[Value], FunctionContext], Value]:
    """Look a function up and check its arity once; the result applies the NULL policy and
    calls the function."""
    spec = _checked(name, arg_count)
    return lambda args, ctx: _applier(spec, ctx)(*args)


def compile_call(name: str, args: list[Getter], ctx: FunctionContext) -> Getter:
    """``f(row)`` calling the function on what ``args`` give for the row: the lookup, the arity
    check and the NULL policy are settled here, once per compiled expression."""
    apply = _applier(_checked(name, len(args)), ctx)
    if not args:
        return lambda row: apply()
    if len(args) == 1:
        only, = args
        return lambda row: apply(only(row))
    if len(args) == 2:
        first, second = args
        return lambda row: apply(first(row), second(row))
    return lambda row: apply(*[a(row) for a in args])


def _checked(name: str, arg_count: int) -> ScriptFunction:
    spec = FUNCTIONS.get(name.lower())
    if spec is None:
        raise ScriptError(f"Unknown function: {name}", code=SYNTAX_ERROR)
    if arg_count < spec.min_args or (spec.max_args is not None and arg_count > spec.max_args):
        raise ScriptError(f"Wrong number of arguments to {spec.name}: {arg_count} "
                          f"(expected {_arity_text(spec)})", code=SYNTAX_ERROR)
    return spec


def _applier(spec: ScriptFunction, ctx: FunctionContext) -> Callable[..., Value]:
    """``apply(*args)``: the function (given ``ctx`` if it uses the context) with its NULL
    policy, an argument outside its domain giving NULL."""
    impl = partial(spec.impl, ctx) if spec.uses_context else spec.impl
    propagate, as_empty = spec.nulls is Nulls.PROPAGATE, spec.nulls is Nulls.AS_EMPTY

    def apply(*args: Value) -> Value:
        if propagate:
            for a in args:  # not `None in args`: that calls Dual.__eq__ for every argument
                if a is None:
                    return None
        elif as_empty:
            args = tuple(_EMPTY if a is None else a for a in args)
        try:
            return impl(*args)
        except _Undefined:
            return None
    return apply


def _arity_text(spec: ScriptFunction) -> str:
    if spec.max_args is None:
        return f"at least {spec.min_args}"
    if spec.max_args == spec.min_args:
        return str(spec.min_args)
    return f"{spec.min_args} to {spec.max_args}"


# ---------------------------------------------------------------- the script's settings

class Settings:
    """The script variables functions honour: ONE home for what each means, set or not. Each is
    read from the variables the first time a function asks for it, then kept."""

    def __init__(self, variables: Mapping[str, Value]) -> None:
        self._variables = variables

    def text(self, name: str) -> str | None:
        value = self._variables.get(name)
        return None if value is None else value.text

    def _text_or(self, name: str, default: str) -> str:
        value = self.text(name)
        return default if value is None else value

    def _int_or(self, name: str, default: int) -> int:
        n = parse_number(self.text(name) or "")
        return default if n is None else int(n)

    def _names_or(self, name: str, default: list[str]) -> list[str]:
        """MonthNames / DayNames: 'Jan;Feb;...' as set in the script, else the English names."""
        names = (self.text(name) or "").split(";")
        return names if len(names) == len(default) else default

    @cached_property
    def date_format(self) -> str:
        return self._text_or("DateFormat", DEFAULT_DATE_FORMAT)

    @cached_property
    def timestamp_format(self) -> str:
        return self._text_or("TimestampFormat", DEFAULT_TIMESTAMP_FORMAT)

    @cached_property
    def time_format(self) -> str:
        return self._text_or("TimeFormat", DEFAULT_TIME_FORMAT)

    @cached_property
    def data_formats(self) -> tuple[str, ...]:
        return data_formats(self.text)

    @cached_property
    def decimal_sep(self) -> str:  # without the script's DecimalSep/ThousandSep: an en-US app's
        return self._text_or("DecimalSep", ".")

    @cached_property
    def thousand_sep(self) -> str:
        return self._text_or("ThousandSep", ",")

    @cached_property
    def first_week_day(self) -> int:  # 0 is Monday
        return self._int_or("FirstWeekDay", 0)

    @cached_property
    def broken_weeks(self) -> bool:
        return self._int_or("BrokenWeeks", 0) != 0

    @cached_property
    def reference_day(self) -> int:
        return self._int_or("ReferenceDay", 4)

    @cached_property
    def first_month_of_year(self) -> int:
        return self._int_or("FirstMonthOfYear", 1)

    @cached_property
    def months(self) -> tuple[Dual, ...]:
        """What Month() returns for each month: its name (MonthNames) and number."""
        return tuple(Dual(name, float(i)) for i, name in enumerate(self._names_or("MonthNames", _MONTHS), 1))

    @cached_property
    def day_names(self) -> list[str]:
        return self._names_or("DayNames", _DAYS)


def script_settings(ctx: FunctionContext | None) -> Settings:
    """The settings of the script a function runs in. A context whose variables are a
    program.Variables keeps one Settings until a variable changes; otherwise they are read
    afresh (defaults when the context has no variables)."""
    try:
        return ctx.variables.derived[Settings]  # the common case, called for every row
    except (AttributeError, KeyError):
        pass
    variables = getattr(ctx, "variables", None)
    if not isinstance(variables, Variables):
        return Settings(variables or {})
    # a proxy: the variables keep their Settings, which must not keep the variables alive
    settings = variables.derived[Settings] = Settings(weakref.proxy(variables))
    return settings


# ---------------------------------------------------------------- argument conversions

def _num(v: Value) -> float:
    """The number of a value (a text that reads as a number counts); else undefined."""
    if v is not None and v.num is not None:  # to_number's common case, without the call
        return v.num
    n = to_number(v)
    if n is None:
        raise _Undefined
    return n


def _int(v: Value) -> int:
    """Qlik truncates non-integer counts and positions."""
    return int(_num(v))


def _opt_num(v: Value | None, default: float) -> float:
    return default if v is None else _num(v)


def _str(v: Value) -> str:
    if v is None:
        raise _Undefined
    return v.text


def _clean(n: float) -> float:
    """Drop binary noise such as 3.9000000000000004 from stepped arithmetic."""
    return float(f"{n:.15g}")


def _num_result(n: float) -> Dual:
    if math.isnan(n) or math.isinf(n):
        raise _Undefined
    return number(_clean(n))


# ---------------------------------------------------------------- string functions
# https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/StringFunctions/string-functions.htm

@script_function("Len", 1, nulls=Nulls.AS_EMPTY)
def _len(s: Value) -> Value:
    return number(len(s.text))


@script_function("Left", 2)
def _left(s: Value, n: Value) -> Value:
    return text(s.text[:max(_int(n), 0)])


@script_function("Right", 2)
def _right(s: Value, n: Value) -> Value:
    count = max(_int(n), 0)
    return text(s.text[len(s.text) - count:] if count else "")


@script_function("Mid", 2, 3)
def _mid(s: Value, start: Value, count: Value | None = None) -> Value:
    begin = max(_int(start), 1) - 1
    if count is None:
        return text(s.text[begin:])
    return text(s.text[begin:begin + max(_int(count), 0)])


@script_function("Index", 2, 3)
def _index(s: Value, sub: Value, count: Value | None = None) -> Value:
    return number(_nth_occurrence(s.text, sub.text, int(_opt_num(count, 1))))


def _nth_occurrence(haystack: str, needle: str, n: int) -> int:
    """1-based position of the n-th occurrence (n<0: counted from the end), 0 if none."""
    if not needle or n == 0:
        return 0
    positions = [i for i in range(len(haystack)) if haystack.startswith(needle, i)]
    if abs(n) > len(positions):
        return 0
    return positions[n - 1 if n > 0 else n] + 1


@script_function("Replace", 3)
def _replace(s: Value, old: Value, new: Value) -> Value:
    return text(s.text.replace(old.text, new.text) if old.text else s.text)


@script_function("Upper", 1)
def _upper(s: Value) -> Value:
    return text(s.text.upper())


@script_function("Lower", 1)
def _lower(s: Value) -> Value:
    return text(s.text.lower())


# Trim functions remove spaces only (the help pages say "spaces").
@script_function("Trim", 1)
def _trim(s: Value) -> Value:
    return text(s.text.strip(" "))


@script_function("LTrim", 1)
def _ltrim(s: Value) -> Value:
    return text(s.text.lstrip(" "))


@script_function("RTrim", 1)
def _rtrim(s: Value) -> Value:
    return text(s.text.rstrip(" "))


def subfield_all(s: str, delimiter: str) -> list[str]:
    """Every substring, for a Load that calls SubField without field_no (one row each)."""
    return s.split(delimiter) if delimiter else [s]


# SubField(Null, ';', 1) returns an empty string (documented), hence AS_EMPTY.
# Without field_no outside a Load there is one value to return: the first substring.
# A field_no beyond the number of substrings gives NULL (our choice; not documented).
@script_function("SubField", 2, 3, nulls=Nulls.AS_EMPTY)
def _subfield(s: Value, delimiter: Value, field_no: Value | None = None) -> Value:
    parts = subfield_all(s.text, delimiter.text)
    n = 1 if field_no is None else _int(field_no)
    if n == 0 or abs(n) > len(parts):
        return None
    return text(parts[n - 1 if n > 0 else n])


@script_function("TextBetween", 3, 4)
def _textbetween(s: Value, d1: Value, d2: Value, n: Value | None = None) -> Value:
    occurrence = int(_opt_num(n, 1))
    start = _nth_occurrence(s.text, d1.text, occurrence)
    if occurrence < 1 or start == 0:
        return None
    begin = start - 1 + len(d1.text)
    end = s.text.find(d2.text, begin)
    return None if end < 0 else text(s.text[begin:end])


@script_function("KeepChar", 2)
def _keepchar(s: Value, keep: Value) -> Value:
    return text("".join(c for c in s.text if c in keep.text))


@script_function("PurgeChar", 2)
def _purgechar(s: Value, purge: Value) -> Value:
    return text("".join(c for c in s.text if c not in purge.text))


@script_function("Repeat", 1, 2)
def _repeat(s: Value, count: Value | None = None) -> Value:
    return text(s.text * max(int(_opt_num(count, 1)), 0))


# Chr(149) returns a bullet (help page example): codes 128-159 are read as Windows-1252,
# where that range holds printable characters; everything else is a Unicode code point.
@script_function("Chr", 1)
def _chr(code: Value) -> Value:
    n = _int(code)
    if not 0 <= n <= 0x10FFFF:
        raise _Undefined
    if 128 <= n <= 159:
        try:
            return text(bytes([n]).decode("cp1252"))
        except UnicodeDecodeError:
            pass
    return text(chr(n))


@script_function("Ord", 1)
def _ord(s: Value) -> Value:
    if not s.text:
        raise _Undefined
    return number(ord(s.text[0]))


# A letter is capitalised when it starts the text or follows a character that is not a
# letter or digit: 'a-ha' -> 'A-Ha', 'washingTon d.C.' -> 'Washington D.C.' (help page examples).
@script_function("Capitalize", 1)
def _capitalize(s: Value) -> Value:
    out, previous = [], ""
    for c in s.text:
        out.append(c.upper() if not previous.isalnum() else c.lower())
        previous = c
    return text("".join(out))


@script_function("SubStringCount", 2)
def _substringcount(s: Value, sub: Value) -> Value:
    return number(s.text.count(sub.text) if sub.text else 0)


@script_function("FindOneOf", 2, 3)
def _findoneof(s: Value, chars: Value, count: Value | None = None) -> Value:
    n = int(_opt_num(count, 1))
    hits = [i + 1 for i, c in enumerate(s.text) if c in chars.text]
    return number(hits[n - 1] if 0 < n <= len(hits) else 0)


# ---------------------------------------------------------------- conditional and NULL functions

@script_function("If", 2, 3, nulls=Nulls.PASS)
def _if(condition: Value, then: Value, otherwise: Value = None) -> Value:
    return then if is_true(condition) else otherwise


@script_function("Alt", 1, None, nulls=Nulls.PASS)
def _alt(*args: Value) -> Value:
    for v in args[:-1]:
        if _has_number(v):
            return v
    return args[-1]


def _has_number(v: Value) -> bool:
    return to_number(v) is not None


@script_function("Coalesce", 1, None, nulls=Nulls.PASS)
def _coalesce(*args: Value) -> Value:
    return next((v for v in args if v is not None), None)


@script_function("EmptyIsNull", 1, nulls=Nulls.PASS)
def _emptyisnull(v: Value) -> Value:
    return None if v is None or v.text == "" else v


def _match_position(s: Value, candidates: tuple[Value, ...], same: Callable[[str, str], bool]) -> Value:
    if s is None:
        return number(0)
    for position, candidate in enumerate(candidates, start=1):
        if candidate is not None and same(s.text, candidate.text):
            return number(position)
    return number(0)


@script_function("Match", 2, None, nulls=Nulls.PASS)
def _match(s: Value, *candidates: Value) -> Value:
    return _match_position(s, candidates, lambda a, b: a == b)


@script_function("MixMatch", 2, None, nulls=Nulls.PASS)
def _mixmatch(s: Value, *candidates: Value) -> Value:
    return _match_position(s, candidates, lambda a, b: a.casefold() == b.casefold())


@script_function("WildMatch", 2, None, nulls=Nulls.PASS)
def _wildmatch(s: Value, *candidates: Value) -> Value:
    return _match_position(s, candidates, _wildcard_equal)


def _wildcard_equal(s: str, pattern: str) -> bool:
    return wildcard_regex(pattern, True).fullmatch(s) is not None


@script_function("Pick", 2, None, nulls=Nulls.PASS)
def _pick(n: Value, *choices: Value) -> Value:
    index = _int(n)
    return choices[index - 1] if 1 <= index <= len(choices) else None


@script_function("Null", 0)
def _null() -> Value:
    return None


@script_function("IsNull", 1, nulls=Nulls.PASS)
def _isnull(v: Value) -> Value:
    return boolean(v is None)


@script_function("IsNum", 1, nulls=Nulls.PASS)
def _isnum(v: Value) -> Value:
    return boolean(_has_number(v))


# IsText is true for a value with no numeric interpretation; inline '23' is a number
# (https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/LogicalFunctions/logical-functions.htm).
@script_function("IsText", 1, nulls=Nulls.PASS)
def _istext(v: Value) -> Value:
    return boolean(v is not None and v.num is None)


# ---------------------------------------------------------------- numeric functions
# https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/ChartFunctions/GeneralNumericFunctions/general-numeric-functions.htm

def _stepped(x: Value, step: Value | None, offset: Value | None,
             to_integer: Callable[[float], float]) -> Value:
    s, o = _opt_num(step, 1), _opt_num(offset, 0)
    if s == 0:
        raise _Undefined
    # round() first so that 0.3/0.1 = 2.9999999999999996 counts as 3
    return _num_result(o + s * to_integer(round((_num(x) - o) / s, 9)))


@script_function("Round", 1, 3)
def _round(x: Value, step: Value | None = None, offset: Value | None = None) -> Value:
    return _stepped(x, step, offset, lambda q: math.floor(q + 0.5))


@script_function("Floor", 1, 3)
def _floor(x: Value, step: Value | None = None, offset: Value | None = None) -> Value:
    return _stepped(x, step, offset, math.floor)


@script_function("Ceil", 1, 3)
def _ceil(x: Value, step: Value | None = None, offset: Value | None = None) -> Value:
    return _stepped(x, step, offset, math.ceil)


# Mod: both arguments integers, the divisor positive; the result is never negative.
@script_function("Mod", 2)
def _mod(a: Value, b: Value) -> Value:
    x, y = _num(a), _num(b)
    if x != int(x) or y != int(y) or y <= 0:
        raise _Undefined
    return number(int(x) % int(y))


@script_function("Div", 2)
def _div(a: Value, b: Value) -> Value:
    y = _num(b)
    if y == 0:
        raise _Undefined
    return number(math.trunc(_num(a) / y))


@script_function("Fabs", 1)
def _fabs(x: Value) -> Value:
    return _num_result(abs(_num(x)))


@script_function("Frac", 1)
def _frac(x: Value) -> Value:
    n = _num(x)
    return _num_result(n - math.floor(n))


def _math(name: str, fn: Callable[..., float], arity: int = 1) -> None:
    """A numeric function: NULL when an argument is not a number or outside fn's domain."""
    def impl(*args: Value) -> Value:
        try:
            return _num_result(fn(*map(_num, args)))
        except (ValueError, ZeroDivisionError, OverflowError) as e:
            raise _Undefined from e
    script_function(name, arity)(impl)


# https://help.qlik.com/en-US/cloud-services/Subsystems/Hub/Content/Sense_Hub/Scripting/ExponentialLogarithmicFunctions/exponential-logarithmic-functions.htm
# https://help.qlik.com/en-US/cloud-services/Subsystems/Hub/Content/Sense_Hub/Scripting/TrigonometricHyperbolicFunctions/trigonometric-hyperbolic-functions.htm
for _name, _fn in {"Sqrt": math.sqrt, "Exp": math.exp, "Log": math.log, "Log10": math.log10,
                   "Sin": math.sin, "Cos": math.cos, "Tan": math.tan, "Atan": math.atan,
                   "Asin": math.asin, "Acos": math.acos}.items():
    _math(_name, _fn)
_math("Pow", math.pow, 2)
_math("Atan2", math.atan2, 2)
_math("Sign", lambda x: float((x > 0) - (x < 0)))


@script_function("Pi", 0)
def _pi() -> Value:
    return number(math.pi)


# ---------------------------------------------------------------- range functions
# https://help.qlik.com/en-US/cloud-services/Subsystems/Hub/Content/Sense_Hub/Scripting/RangeFunctions/range-functions.htm

def _range_numbers(args: tuple[Value, ...]) -> list[float]:
    return [n for n in map(to_number, args) if n is not None]


@script_function("RangeSum", 1, None, nulls=Nulls.PASS)
def _rangesum(*args: Value) -> Value:
    """Non-numeric values count as 0 (unlike the + operator)."""
    return _num_result(sum(_range_numbers(args)))


@script_function("RangeMin", 1, None, nulls=Nulls.PASS)
def _rangemin(*args: Value) -> Value:
    found = _range_numbers(args)
    return number(min(found)) if found else None


@script_function("RangeMax", 1, None, nulls=Nulls.PASS)
def _rangemax(*args: Value) -> Value:
    found = _range_numbers(args)
    return number(max(found)) if found else None


@script_function("RangeAvg", 1, None, nulls=Nulls.PASS)
def _rangeavg(*args: Value) -> Value:
    found = _range_numbers(args)
    return _num_result(sum(found) / len(found)) if found else None


@script_function("RangeCount", 1, None, nulls=Nulls.PASS)
def _rangecount(*args: Value) -> Value:
    return number(sum(v is not None for v in args))


@script_function("RangeNumericCount", 1, None, nulls=Nulls.PASS)
def _rangenumericcount(*args: Value) -> Value:
    return number(len(_range_numbers(args)))


@script_function("RangeTextCount", 1, None, nulls=Nulls.PASS)
def _rangetextcount(*args: Value) -> Value:
    return number(sum(v is not None and to_number(v) is None for v in args))


@script_function("RangeNullCount", 1, None, nulls=Nulls.PASS)
def _rangenullcount(*args: Value) -> Value:
    return number(sum(v is None for v in args))


@script_function("RangeMissingCount", 1, None, nulls=Nulls.PASS)
def _rangemissingcount(*args: Value) -> Value:
    """Values that are not numbers, NULL included (.../RangeFunctions/rangemissingcount.htm)."""
    return number(len(args) - len(_range_numbers(args)))


@script_function("RangeStdev", 1, None, nulls=Nulls.PASS)
def _rangestdev(*args: Value) -> Value:
    """The sample standard deviation: RangeStdev(1,2,4) is 1.5275252316519 (rangestdev.htm).
    Fewer than two numbers give NULL (our choice: the sample deviation is undefined)."""
    found = _range_numbers(args)
    return number(statistics.stdev(found)) if len(found) > 1 else None


@script_function("RangeFractile", 2, None, nulls=Nulls.PASS)
def _rangefractile(fractile: Value, *args: Value) -> Value:
    """Linear interpolation between the closest ranks: RangeFractile(0.24,1,2,4,6) is 1.72
    (.../RangeFunctions/rangefractile.htm)."""
    found = sorted(_range_numbers(args))
    f = to_number(fractile)
    if not found or f is None or not 0 <= f <= 1:
        return None
    position = f * (len(found) - 1)
    low = math.floor(position)
    high = min(low + 1, len(found) - 1)
    return _num_result(found[low] + (position - low) * (found[high] - found[low]))


@script_function("RangeMode", 1, None, nulls=Nulls.PASS)
def _rangemode(*args: Value) -> Value:
    """The most common value, NULL when several share the highest count: RangeMode('a',4,'a',4)
    is NULL (.../RangeFunctions/rangemode.htm)."""
    return AGGREGATIONS["mode"].impl([list(args)])


@script_function("RangeOnly", 1, None, nulls=Nulls.PASS)
def _rangeonly(*args: Value) -> Value:
    return AGGREGATIONS["only"].impl([list(args)])


@script_function("RangeMinString", 1, None, nulls=Nulls.PASS)
def _rangeminstring(*args: Value) -> Value:
    return AGGREGATIONS["minstring"].impl([list(args)])


@script_function("RangeMaxString", 1, None, nulls=Nulls.PASS)
def _rangemaxstring(*args: Value) -> Value:
    return AGGREGATIONS["maxstring"].impl([list(args)])


# ---------------------------------------------------------------- formatting and interpretation
# https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/FormattingFunctions/Num.htm
# A number format is "[prefix]digits[.decimals][suffix]": '0' a mandatory digit, '#' an
# optional one, the thousands separator between digit characters, a '%' multiplies by 100.

_NUMBER_PATTERN = re.compile(r"^(?P<prefix>[^0#]*)(?P<body>[0#].*?[0#]?)(?P<suffix>[^0#]*)$")


@dataclass(frozen=True)
class _NumberFormat:
    prefix: str
    suffix: str
    min_int_digits: int
    min_decimals: int
    max_decimals: int
    group_size: int  # digits between thousands separators; 0: no grouping
    percent: bool


@functools.lru_cache(maxsize=256)  # data values read through MoneyFormat ask for it per value
def _parse_number_format(fmt: str, dec_sep: str, thou_sep: str) -> _NumberFormat:
    m = _NUMBER_PATTERN.match(fmt)
    if not m:
        raise _Undefined
    body = m["body"]
    int_part, _, dec_part = body.partition(dec_sep) if dec_sep in body else (body, "", "")
    return _NumberFormat(
        prefix=m["prefix"], suffix=m["suffix"],
        min_int_digits=int_part.count("0"),
        min_decimals=dec_part.count("0"),
        max_decimals=dec_part.count("0") + dec_part.count("#"),
        # '0000-0000-0000' with separator '-' groups by four (conventions page)
        group_size=len(int_part.split(thou_sep)[-1]) if thou_sep and thou_sep in int_part else 0,
        percent="%" in m["suffix"] or "%" in m["prefix"],
    )


def _apply_number_format(n: float, f: _NumberFormat, dec_sep: str, thou_sep: str) -> str:
    value = abs(n * 100 if f.percent else n)
    digits = f"{value:.{f.max_decimals}f}"
    int_digits, _, decimals = digits.partition(".")
    decimals = decimals.rstrip("0").ljust(f.min_decimals, "0")
    int_digits = int_digits.lstrip("0").rjust(f.min_int_digits, "0")
    if f.group_size:
        head = len(int_digits) % f.group_size or f.group_size
        int_digits = thou_sep.join([int_digits[:head]] + [int_digits[i:i + f.group_size]
                                   for i in range(head, len(int_digits), f.group_size)])
    body = int_digits + (dec_sep + decimals if decimals else "")
    sign = "-" if n < 0 and float(digits) != 0 else ""
    return f"{sign}{f.prefix}{body}{f.suffix}"


@script_function("Num", 1, 4, context=True)
def _num_fn(ctx: FunctionContext, x: Value, fmt: Value | None = None, dec_sep: Value | None = None,
            thou_sep: Value | None = None) -> Value:
    n = _num(x)
    if fmt is None:
        return number(n)
    if radix := _RADIX_FORMAT.fullmatch(fmt.text):
        return Dual(_in_radix(round(n), radix[1]), n)
    d, t = _separators(ctx, dec_sep, thou_sep)
    return Dual(format_number(n, fmt.text, d, t), n)


def format_number(n: float, fmt: str, dec_sep: str, thou_sep: str) -> str:
    """``n`` shown in a number format; a format 'positive;negative' shows a negative number's
    absolute value in the second section, which carries its own sign or brackets."""
    positive, _, negative = fmt.partition(";")
    if n < 0 and negative:
        return _apply_number_format(-n, _parse_number_format(negative, dec_sep, thou_sep), dec_sep, thou_sep)
    return _apply_number_format(n, _parse_number_format(positive, dec_sep, thou_sep), dec_sep, thou_sep)


# Special formats of the conventions page: (bin), (oct), (hex)/(HEX), (dec) and (rNN)/(RNN) for
# any radix 2-36; the upper-case spelling gives upper-case digits.
_RADIX_FORMAT = re.compile(r"\((bin|oct|hex|HEX|dec|[rR]\d\d)\)")
_RADIX_NAMES = {"bin": 2, "oct": 8, "hex": 16, "HEX": 16, "dec": 10}


def _in_radix(n: int, spec: str) -> str:
    base = _RADIX_NAMES.get(spec) or int(spec[1:])
    if not 2 <= base <= 36:
        raise _Undefined
    digits, rest = "", abs(n)
    while True:
        rest, d = divmod(rest, base)
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"[d] + digits
        if rest == 0:
            break
    upper = spec == "HEX" or spec.startswith("R")
    return ("-" if n < 0 else "") + (digits.upper() if upper else digits)


def _separators(ctx: FunctionContext, dec_sep: Value | None, thou_sep: Value | None) -> tuple[str, str]:
    settings = script_settings(ctx)
    return (settings.decimal_sep if dec_sep is None else dec_sep.text,
            settings.thousand_sep if thou_sep is None else thou_sep.text)


# Num#(text[, format[, dec_sep[, thou_sep]]]) keeps the original text and adds the number.
@script_function("Num#", 1, 4, context=True)
def _num_interpret(ctx: FunctionContext, s: Value, fmt: Value | None = None, dec_sep: Value | None = None,
                   thou_sep: Value | None = None) -> Value:
    d, t = _separators(ctx, dec_sep, thou_sep)
    return _interpreted(s.text, None if fmt is None else fmt.text, d, t)


def _interpreted(s: str, fmt: str | None, dec_sep: str, thou_sep: str) -> Value:
    """Num#/Money#: the text kept, with the number it reads as in ``fmt``."""
    n = _read_formatted(s, fmt, dec_sep, thou_sep)
    # the help page: "returns the string 35.648,3123 and NULL (-) as numeric value"
    return text(s) if n is None else Dual(s, n)


def _read_formatted(s: str, fmt: str | None, dec_sep: str, thou_sep: str, marked: bool = False) -> float | None:
    """The number ``s`` reads as in ``fmt``: its prefix and suffix dropped; a text in the
    format's negative section reads as a negative number. ``marked``: only a text that carries
    the section's symbol (its prefix or suffix) reads, as data values do through MoneyFormat."""
    raw = s.strip()
    percent = fmt is not None and "%" in fmt and raw.endswith("%")
    sign = 1
    if fmt is not None:
        positive, _, negative = fmt.partition(";")
        f = _parse_number_format(positive, dec_sep, thou_sep)
        if negative:
            g = _parse_number_format(negative, dec_sep, thou_sep)
            if (g.prefix.strip() or g.suffix.strip()) and raw.startswith(g.prefix.strip()) \
                    and raw.endswith(g.suffix.strip()) and g.prefix.strip() != f.prefix.strip():
                f, sign = g, -1
        prefix, suffix = f.prefix.strip(), f.suffix.strip()
        if marked and not ((prefix or suffix) and raw.startswith(prefix) and raw.endswith(suffix)):
            return None
        raw = raw.removeprefix(prefix).removesuffix(suffix).strip()
    n = read_grouped_number(raw, dec_sep, thou_sep)
    return None if n is None else sign * (n / 100 if percent else n)


@script_function("Text", 1)
def _text(x: Value) -> Value:
    return text(x.text)


@script_function("Dual", 2)
def _dual(s: Value, n: Value) -> Value:
    return Dual(s.text, _num(n))


# ---------------------------------------------------------------- dates and times
# Without a format argument the script's DateFormat/TimestampFormat is used when the context
# offers variables, else ISO 'YYYY-MM-DD' and 'YYYY-MM-DD hh:mm:ss' (our choice).

DEFAULT_DATE_FORMAT = "YYYY-MM-DD"
DEFAULT_TIMESTAMP_FORMAT = "YYYY-MM-DD hh:mm:ss"
DEFAULT_TIME_FORMAT = "hh:mm:ss"
_EPOCH = dt.datetime(1899, 12, 30)
_EPOCH_ORDINAL = _EPOCH.toordinal()
_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
_LONG_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
                "September", "October", "November", "December"]
_DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
_LONG_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_DATE_TOKEN = re.compile(r"YYYY|YY|MMMM|MMM|MM|M|DD|D|WWWW|WWW|hh|h|mm|m|ss|s|fff|ff|f|TT|tt",
                         re.IGNORECASE)


def serial_from_datetime(moment: dt.datetime) -> float:
    """Qlik's serial number of a moment (days since 1899-12-30)."""
    return (moment.replace(tzinfo=None) - _EPOCH) / dt.timedelta(days=1)


def datetime_from_serial(serial: float) -> dt.datetime:
    """The moment of a serial number; one outside years 1-9999 makes the calling function
    NULL (our choice: Qlik documents no range)."""
    try:  # round to milliseconds so 0.6638888889 days shows as 15:56:00, not 15:55:59.999
        return _EPOCH + dt.timedelta(milliseconds=round(serial * 86_400_000))
    except (OverflowError, ValueError) as e:
        raise _Undefined from e


def _date_of_day(day: int) -> dt.date:
    """The date of a day number; as `datetime_from_serial`, outside years 1-9999 NULL."""
    try:
        return dt.date.fromordinal(_EPOCH_ORDINAL + day)
    except (OverflowError, ValueError) as e:
        raise _Undefined from e


def _canonical_token(token: str) -> str:
    """Date tokens are case-insensitive except M (month) vs m (minute)."""
    if token[0] in "Mm" and len(token) <= 2:
        return token
    if token[0] in "Tt":
        return token
    return token.lower() if token[0].lower() in "hsf" else token.upper()


_TOKEN_TEXT: dict[str, Callable[[dt.datetime, int], str]] = {  # (moment, hour as shown)
    "YYYY": lambda m, h: f"{m.year:04d}", "YY": lambda m, h: f"{m.year % 100:02d}",
    "MMMM": lambda m, h: _LONG_MONTHS[m.month - 1], "MMM": lambda m, h: _MONTHS[m.month - 1],
    "MM": lambda m, h: f"{m.month:02d}", "M": lambda m, h: str(m.month),
    "DD": lambda m, h: f"{m.day:02d}", "D": lambda m, h: str(m.day),
    "WWWW": lambda m, h: _LONG_DAYS[m.weekday()], "WWW": lambda m, h: _DAYS[m.weekday()],
    "hh": lambda m, h: f"{h:02d}", "h": lambda m, h: str(h),
    "mm": lambda m, h: f"{m.minute:02d}", "m": lambda m, h: str(m.minute),
    "ss": lambda m, h: f"{m.second:02d}", "s": lambda m, h: str(m.second),
    "fff": lambda m, h: f"{m.microsecond // 1000:03d}", "ff": lambda m, h: f"{m.microsecond // 10000:02d}",
    "f": lambda m, h: str(m.microsecond // 100000),
    "TT": lambda m, h: "AM" if m.hour < 12 else "PM", "tt": lambda m, h: "am" if m.hour < 12 else "pm",
}


_OPTIONAL_PART = re.compile(r"\[(.*?)\]")


@lru_cache(maxsize=8192)  # a calendar formats each month's first day thirty times
def format_serial(serial: float, fmt: str) -> str:
    """Render a serial number in a Qlik date/time format ('YYYY-MM-DD hh:mm:ss', 'h:mm TT').
    A bracketed part, as in Sense's default 'M/D/YYYY h:mm:ss[.fff] TT', shows only when the
    time has fractions of a second."""
    moment = datetime_from_serial(serial)
    pieces, twelve_hour = _format_pieces(fmt, moment.microsecond != 0)
    hour = (moment.hour % 12 or 12) if twelve_hour else moment.hour
    return "".join([piece if type(piece) is str else piece(moment, hour) for piece in pieces])


@lru_cache(maxsize=64)
def _format_pieces(fmt: str, fractions: bool) -> tuple[tuple[str | Callable[[dt.datetime, int], str], ...], bool]:
    """A format read once: its literal texts and the renderers of its tokens (_TOKEN_TEXT), and
    whether it shows a 12-hour clock."""
    fmt = _OPTIONAL_PART.sub(lambda m: m.group(1) if fractions else "", fmt)
    pieces: list[str | Callable[[dt.datetime, int], str]] = []
    pos = 0
    for m in _DATE_TOKEN.finditer(fmt):
        pieces += [fmt[pos:m.start()], _TOKEN_TEXT[_canonical_token(m.group(0))]]
        pos = m.end()
    pieces.append(fmt[pos:])
    return tuple(piece for piece in pieces if piece != ""), re.search("TT|tt", fmt, re.IGNORECASE) is not None


def _format_date_value(x: Value, fmt: Value | None, default: str, whole_days: bool) -> Value:
    serial = _num(x)
    shown = math.floor(serial) if whole_days else serial
    return Dual(format_serial(shown, default if fmt is None else fmt.text), serial)


@script_function("Date", 1, 2, context=True)
def _date(ctx: FunctionContext, x: Value, fmt: Value | None = None) -> Value:
    return _format_date_value(x, fmt, script_settings(ctx).date_format, whole_days=True)


@script_function("Timestamp", 1, 2, context=True)
def _timestamp(ctx: FunctionContext, x: Value, fmt: Value | None = None) -> Value:
    return _format_date_value(x, fmt, script_settings(ctx).timestamp_format, whole_days=False)


def _date_dual(serial: float, fmt: str) -> Dual:
    return Dual(format_serial(serial, fmt), serial)


@script_function("MakeDate", 1, 3, context=True)
def _makedate(ctx: FunctionContext, year: Value, month: Value | None = None, day: Value | None = None) -> Value:
    yyyy = _int(year)
    # makedate(12) is 2012-01-01 (help page example): two-digit years are in 2000-2099
    yyyy = yyyy + 2000 if 0 <= yyyy < 100 else yyyy
    try:
        moment = dt.datetime(yyyy, int(_opt_num(month, 1)), int(_opt_num(day, 1)))
    except ValueError as e:
        raise _Undefined from e
    return _date_dual(serial_from_datetime(moment), script_settings(ctx).date_format)


@script_function("Now", 0, 1, context=True)
def _now(ctx: FunctionContext, timer_mode: Value | None = None) -> Value:
    return _date_dual(serial_from_datetime(ctx.now()), script_settings(ctx).timestamp_format)


@script_function("Today", 0, 1, context=True)
def _today(ctx: FunctionContext, timer_mode: Value | None = None) -> Value:
    return _date_dual(float(math.floor(serial_from_datetime(ctx.now()))), script_settings(ctx).date_format)


_NAME_TOKENS = ("MMMM", "MMM", "WWWW", "WWW", "TT", "tt")
_TOKEN_PATTERNS = {"YYYY": "[0-9]{4}", "YY": "[0-9]{2}", "fff": "[0-9]{3}", "ff": "[0-9]{2}", "f": "[0-9]",
                   **{t: "[A-Za-z]+" for t in _NAME_TOKENS}}


@lru_cache(maxsize=64)  # data files try every value against the script's few formats
def _format_regex(fmt: str) -> tuple[re.Pattern, list[str]]:
    """A regular expression reading text in a date/time format, and the tokens of its groups."""
    tokens: list[str] = []
    pattern = ""
    for i, part in enumerate(_OPTIONAL_PART.split(fmt)):  # odd parts were in brackets
        regex, part_tokens = _format_part_regex(part)
        pattern += f"(?:{regex})?" if i % 2 else regex
        tokens += part_tokens
    return re.compile(pattern), tokens


def _format_part_regex(fmt: str) -> tuple[str, list[str]]:
    tokens: list[str] = []
    pattern, pos = "", 0
    for m in _DATE_TOKEN.finditer(fmt):
        tokens.append(_canonical_token(m.group(0)))
        pattern += re.escape(fmt[pos:m.start()]) + f"({_TOKEN_PATTERNS.get(tokens[-1], '[0-9]{1,2}')})"
        pos = m.end()
    return pattern + re.escape(fmt[pos:]), tokens


def _parse_with_format(s: str, fmt: str) -> float:
    """Read text written in a date/timestamp format; the serial number, else undefined."""
    pattern, tokens = _format_regex(fmt)
    found = pattern.fullmatch(s.strip())
    if not found:
        raise _Undefined
    return _matched_serial(found, tokens)


def _matched_serial(found: re.Match, tokens: list[str]) -> float:
    parts = {"Y": 1899, "M": 12, "D": 30, "h": 0, "m": 0, "s": 0}
    fraction, pm = 0.0, None
    for token, value in zip(tokens, found.groups()):
        if value is None:  # in a bracketed part that was absent
            continue
        if token in ("MMMM", "MMM"):
            parts["M"] = _month_number(value, _LONG_MONTHS if token == "MMMM" else _MONTHS)
        elif token in ("TT", "tt"):
            pm = value.upper() == "PM"
        elif token[0] == "f":
            fraction = float("0." + value)
        elif token == "YY":  # our choice: 00-29 are 2000-2029, 30-99 are 1930-1999
            parts["Y"] = int(value) + (2000 if int(value) < 30 else 1900)
        elif token not in ("WWWW", "WWW"):
            parts[token[0]] = int(value)
    if pm is not None:
        parts["h"] = parts["h"] % 12 + (12 if pm else 0)
    try:
        moment = dt.datetime(parts["Y"], parts["M"], parts["D"], parts["h"], parts["m"], parts["s"])
    except ValueError as e:
        raise _Undefined from e
    return serial_from_datetime(moment) + fraction / 86400


def _month_number(name: str, names: list[str]) -> int:
    lowered = [n.lower() for n in names]
    if name.lower() not in lowered:
        raise _Undefined
    return lowered.index(name.lower()) + 1


@script_function("Date#", 1, 2, context=True)
def _date_interpret(ctx: FunctionContext, s: Value, fmt: Value | None = None) -> Value:
    return Dual(s.text, _parse_with_format(s.text, script_settings(ctx).date_format if fmt is None else fmt.text))


@script_function("Timestamp#", 1, 2, context=True)
def _timestamp_interpret(ctx: FunctionContext, s: Value, fmt: Value | None = None) -> Value:
    return Dual(s.text, _parse_with_format(s.text, script_settings(ctx).timestamp_format if fmt is None else fmt.text))


# Year, Month and Day read a date written as text in DateFormat or TimestampFormat, as every
# date function does (date-and-time-functions.htm: "Qlik Sense attempts to interpret the string
# according to the date and time environment variables").
@script_function("Year", 1, context=True)
def _year(ctx: FunctionContext, x: Value) -> Value:
    return number(_calendar_day(ctx, x).year)


@script_function("Month", 1, context=True)
def _month(ctx: FunctionContext, x: Value) -> Value:
    month = _calendar_day(ctx, x).month
    return script_settings(ctx).months[month - 1]


@script_function("Day", 1, context=True)
def _day(ctx: FunctionContext, x: Value) -> Value:
    return number(_calendar_day(ctx, x).day)


# ---------------------------------------------------------------- calendar periods
# Weeks, months, quarters and years, honouring the script's FirstWeekDay, BrokenWeeks,
# ReferenceDay, FirstMonthOfYear, MonthNames and DayNames (Monday, ISO weeks, January and
# English names when unset: "By default, Qlik Sense functions use Monday as the first day of
# the week", https://help.qlik.com/en-us/sense/June2017/Subsystems/Hub/Content/Scripting/NumberInterpretationVariables/FirstWeekDay.htm).
# https://help.qlik.com/en-US/cloud-services/Subsystems/Hub/Content/Sense_Hub/Scripting/DateAndTimeFunctions/date-and-time-functions.htm

_LAST_MILLISECOND = 1 / 86_400_000


def _given_or(given: Value | None, setting: int) -> int:
    """A function's own argument (first_week_day...), else the script's setting."""
    return setting if given is None else _int(given)


def _date_number(ctx: FunctionContext, x: Value) -> float:
    """A date argument: a number, or a text in the script's DateFormat, TimestampFormat or
    TimeFormat (as Qlik reads '10/19/2001' in MonthStart('10/19/2001') with DateFormat
    MM/DD/YYYY), read as data values are (data_formats)."""
    if x is not None and x.num is not None:  # the common case, first
        return x.num
    n = to_number(x)
    if n is None:
        n = read_date_text(_str(x), script_settings(ctx).data_formats)
    if n is None:
        raise _Undefined
    return n


def read_date_text(s: str, formats: tuple[str, ...]) -> float | None:
    """The serial number of a text written in the first of ``formats`` that reads it, else None."""
    text_ = s.strip()
    for fmt in formats:
        pattern, tokens = _format_regex(fmt)
        found = pattern.fullmatch(text_)  # most data values are not dates: no exception for them
        if found:
            try:
                return _matched_serial(found, tokens)
            except _Undefined:
                continue
    return None


def data_formats(setting: Callable[[str], str | None]) -> tuple[str, ...]:
    """The script's DateFormat, TimestampFormat and TimeFormat (or our defaults): the formats
    data values are read with ("Qlik Sense interprets the data as a mix of numbers, dates,
    times, time stamps and strings, using the default settings for number format, date format,
    and time format, defined by script variables", .../InterpretationFunctions/interpretation-functions.htm)."""
    return (setting("DateFormat") or DEFAULT_DATE_FORMAT, setting("TimestampFormat") or DEFAULT_TIMESTAMP_FORMAT,
            setting("TimeFormat") or DEFAULT_TIME_FORMAT)


# Periods are computed on day numbers: the serial numbers of whole days (1899-12-30 is 0).

def _day_number(ctx: FunctionContext, x: Value) -> int:
    return math.floor(_date_number(ctx, x))


def _calendar_day(ctx: FunctionContext, x: Value) -> dt.date:
    return _date_of_day(math.floor(_date_number(ctx, x)))


def _serial(day: dt.date) -> float:
    return float(day.toordinal() - _EPOCH_ORDINAL)


def _week_start(day: int, first_week_day: int) -> int:
    """The day number of the first day of the week holding ``day`` (day number 0 is a Saturday;
    first_week_day 0 is Monday)."""
    return day - ((day + 5) % 7 - first_week_day) % 7


@lru_cache(maxsize=1024)
def _month_start(index: int) -> int:
    """The day number of the first day of month ``index`` (year * 12 + month - 1)."""
    return _first_of_month(index).toordinal() - _EPOCH_ORDINAL


def _period_dual(ctx: FunctionContext, start: int, end: int | None) -> Dual:
    """A period's first day (or, given ``end``, the last millisecond before day ``end``) shown
    with DateFormat."""
    serial = float(start) if end is None else end - _LAST_MILLISECOND
    return Dual(format_serial(math.floor(serial), script_settings(ctx).date_format), serial)


@script_function("WeekDay", 1, 2, context=True)
def _weekday(ctx: FunctionContext, x: Value, first_week_day: Value | None = None) -> Value:
    """Day name (DayNames) and 0-6 counted from the first day of the week: with Sunday first,
    a Wednesday is 3 (weekday page)."""
    day = _calendar_day(ctx, x)
    settings = script_settings(ctx)
    first = _given_or(first_week_day, settings.first_week_day)
    return Dual(settings.day_names[day.weekday()], float((day.weekday() - first) % 7))


def _week_and_year(ctx: FunctionContext, x: Value, first_week_day: Value | None = None,
                   broken_weeks: Value | None = None, reference_day: Value | None = None) -> tuple[int, int]:
    """(week number, the year it belongs to). Unbroken weeks: week 1 is the week holding January's
    ReferenceDay; broken weeks: week 1 starts on January 1st and each week at FirstWeekDay.
    https://help.qlik.com/en-US/cloud-services/Subsystems/Hub/Content/Sense_Hub/Scripting/DateAndTimeFunctions/week.htm"""
    first, broken, reference = _week_rules(ctx, first_week_day, broken_weeks, reference_day)
    day = _day_number(ctx, x)
    year = _date_of_day(day).year
    if broken:
        return (day - _week_one(year, first, broken, reference)) // 7 + 1, year
    start = _week_start(day, first)
    for week_year in (year + 1, year, year - 1):
        week1 = _week_one(week_year, first, broken, reference)
        if start >= week1:
            return (start - week1) // 7 + 1, week_year
    raise _Undefined


def _week_rules(ctx: FunctionContext, first_week_day: Value | None, broken_weeks: Value | None,
                reference_day: Value | None) -> tuple[int, bool, int]:
    """(first week day, broken weeks, reference day): the function's arguments, else the script's."""
    settings = script_settings(ctx)
    first = _given_or(first_week_day, settings.first_week_day)
    broken = settings.broken_weeks if broken_weeks is None else _int(broken_weeks) != 0
    return first, broken, _given_or(reference_day, settings.reference_day) or 4


def _week_one(year: int, first: int, broken: bool, reference: int) -> int:
    """The day number of the first day of week 1 of ``year``."""
    january_1st = _month_start(year * 12)
    return _week_start(january_1st if broken else january_1st + reference - 1, first)


@script_function("Week", 1, 4, context=True)
def _week(ctx: FunctionContext, x: Value, *args: Value | None) -> Value:
    return number(_week_and_year(ctx, x, *args)[0])


@script_function("WeekYear", 1, 4, context=True)
def _weekyear(ctx: FunctionContext, x: Value, *args: Value | None) -> Value:
    return number(_week_and_year(ctx, x, *args)[1])


def _week_bounds(ctx: FunctionContext, x: Value, period_no: Value | None,
                 first_week_day: Value | None) -> tuple[int, int]:
    """The day numbers of the week's first day and of the day after it."""
    first = _given_or(first_week_day, script_settings(ctx).first_week_day)
    start = _week_start(_day_number(ctx, x), first) + 7 * int(_opt_num(period_no, 0))
    return start, start + 7


@script_function("WeekStart", 1, 3, context=True)
def _weekstart(ctx: FunctionContext, x: Value, period_no: Value | None = None,
               first_week_day: Value | None = None) -> Value:
    return _period_dual(ctx, _week_bounds(ctx, x, period_no, first_week_day)[0], None)


@script_function("WeekEnd", 1, 3, context=True)
def _weekend(ctx: FunctionContext, x: Value, period_no: Value | None = None,
             first_week_day: Value | None = None) -> Value:
    start, end = _week_bounds(ctx, x, period_no, first_week_day)
    return _period_dual(ctx, start, end)


def _add_months(day: dt.date, months: int) -> dt.date:
    """The first day of the month ``months`` after day's month."""
    return _first_of_month(day.year * 12 + day.month - 1 + months)


def _first_of_month(index: int) -> dt.date:
    """The first day of month ``index`` (year * 12 + month - 1); as `datetime_from_serial`,
    outside years 1-9999 NULL."""
    try:
        return dt.date(index // 12, index % 12 + 1, 1)
    except ValueError as e:
        raise _Undefined from e


def _months_bounds(ctx: FunctionContext, x: Value, size: int, period_no: Value | None,
                   first_month: Value | None) -> tuple[int, int]:
    """The period of ``size`` months holding x (quarters and years start at FirstMonthOfYear):
    the day numbers of its first day and of the day after it."""
    day = _calendar_day(ctx, x)
    offset = (_given_or(first_month, script_settings(ctx).first_month_of_year) - 1) if size > 1 else 0
    months_in = (day.month - 1 - offset) % size
    start = day.year * 12 + day.month - 1 - months_in + size * int(_opt_num(period_no, 0))
    return _month_start(start), _month_start(start + size)


def _period_functions(name: str, size: int, has_first_month: bool) -> None:
    """XStart(date[, period_no[, first_month_of_year]]) and XEnd(...) for months, quarters, years."""
    max_args = 3 if has_first_month else 2

    @script_function(f"{name}Start", 1, max_args, context=True)
    def start(ctx: FunctionContext, x: Value, period_no: Value | None = None,
              first_month: Value | None = None) -> Value:
        return _period_dual(ctx, _months_bounds(ctx, x, size, period_no, first_month)[0], None)

    @script_function(f"{name}End", 1, max_args, context=True)
    def end(ctx: FunctionContext, x: Value, period_no: Value | None = None,
            first_month: Value | None = None) -> Value:
        first, after = _months_bounds(ctx, x, size, period_no, first_month)
        return _period_dual(ctx, first, after)


_period_functions("Month", 1, has_first_month=False)
_period_functions("Quarter", 3, has_first_month=True)
_period_functions("Year", 12, has_first_month=True)


def _months_size(v: Value) -> int:
    """n_months of MonthsStart/MonthsName/InMonths...: one of 1, 2, 3, 4, 6 (12 as InMonths takes)."""
    months = _int(v)
    if months not in (1, 2, 3, 4, 6, 12):
        raise _Undefined
    return months


@script_function("MonthsStart", 2, 4, context=True)
def _monthsstart(ctx: FunctionContext, n: Value, x: Value, period_no: Value | None = None,
                 first_month: Value | None = None) -> Value:
    """.../DateAndTimeFunctions/monthsstart.htm"""
    return _period_dual(ctx, _months_bounds(ctx, x, _months_size(n), period_no, first_month)[0], None)


@script_function("MonthsEnd", 2, 4, context=True)
def _monthsend(ctx: FunctionContext, n: Value, x: Value, period_no: Value | None = None,
               first_month: Value | None = None) -> Value:
    """.../DateAndTimeFunctions/monthsend.htm"""
    first, after = _months_bounds(ctx, x, _months_size(n), period_no, first_month)
    return _period_dual(ctx, first, after)


def _months_name(ctx: FunctionContext, bounds: tuple[int, int]) -> Dual:
    """'Oct 2013', or for several months 'Sep-Dec 2013' (MonthNames; the year of the last month,
    as monthsname.htm shows 'Oct-Jan 2014'), on the period's first day."""
    first, last = _date_of_day(bounds[0]), _date_of_day(bounds[1] - 1)
    months = script_settings(ctx).months
    label = months[first.month - 1].text
    if first.month != last.month:
        label += f"-{months[last.month - 1].text}"
    return Dual(f"{label} {last.year}", float(bounds[0]))


@script_function("MonthName", 1, 2, context=True)
def _monthname(ctx: FunctionContext, x: Value, period_no: Value | None = None) -> Value:
    """.../DateAndTimeFunctions/monthname.htm"""
    return _months_name(ctx, _months_bounds(ctx, x, 1, period_no, None))


@script_function("MonthsName", 2, 4, context=True)
def _monthsname(ctx: FunctionContext, n: Value, x: Value, period_no: Value | None = None,
                first_month: Value | None = None) -> Value:
    """.../DateAndTimeFunctions/monthsname.htm"""
    return _months_name(ctx, _months_bounds(ctx, x, _months_size(n), period_no, first_month))


@script_function("QuarterName", 1, 3, context=True)
def _quartername(ctx: FunctionContext, x: Value, period_no: Value | None = None,
                 first_month: Value | None = None) -> Value:
    """.../DateAndTimeFunctions/quartername.htm"""
    return _months_name(ctx, _months_bounds(ctx, x, 3, period_no, first_month))


@script_function("YearName", 1, 3, context=True)
def _yearname(ctx: FunctionContext, x: Value, period_no: Value | None = None,
              first_month: Value | None = None) -> Value:
    """'2001', or '2001-2002' for a year not starting in January (yearname.htm)."""
    start, _ = _months_bounds(ctx, x, 12, period_no, first_month)
    first = _date_of_day(start)
    label = str(first.year) if first.month == 1 else f"{first.year}-{first.year + 1}"
    return Dual(label, float(start))


@script_function("WeekName", 1, 5, context=True)
def _weekname(ctx: FunctionContext, x: Value, period_no: Value | None = None, first_week_day: Value | None = None,
              broken_weeks: Value | None = None, reference_day: Value | None = None) -> Value:
    """'2013/02': the year and number (Week, WeekYear) of the week period_no weeks after date's,
    on the week's first day. .../DateAndTimeFunctions/weekname.htm"""
    start, _ = _week_bounds(ctx, x, period_no, first_week_day)
    moved = number(_day_number(ctx, x) + 7 * int(_opt_num(period_no, 0)))
    week, year = _week_and_year(ctx, moved, first_week_day, broken_weeks, reference_day)
    return Dual(f"{year}/{week:02d}", float(start))


def _day_bounds(ctx: FunctionContext, x: Value, period_no: Value | None, day_start: Value | None) -> tuple[float, float]:
    """The day (starting day_start, a fraction of a day, after midnight) holding x, moved by
    period_no days: its first moment and the moment after it. .../DateAndTimeFunctions/daystart.htm"""
    offset = _opt_num(day_start, 0)
    start = math.floor(_date_number(ctx, x) - offset) + offset + int(_opt_num(period_no, 0))
    return start, start + 1


def _moment_dual(serial: float, fmt: str) -> Dual:
    return Dual(format_serial(serial, fmt), serial)


@script_function("DayStart", 1, 3, context=True)
def _daystart(ctx: FunctionContext, x: Value, period_no: Value | None = None, day_start: Value | None = None) -> Value:
    return _moment_dual(_day_bounds(ctx, x, period_no, day_start)[0], script_settings(ctx).timestamp_format)


@script_function("DayEnd", 1, 3, context=True)
def _dayend(ctx: FunctionContext, x: Value, period_no: Value | None = None, day_start: Value | None = None) -> Value:
    """The day's last millisecond. .../DateAndTimeFunctions/dayend.htm"""
    end = _day_bounds(ctx, x, period_no, day_start)[1] - _LAST_MILLISECOND
    return _moment_dual(end, script_settings(ctx).timestamp_format)


@script_function("DayName", 1, 3, context=True)
def _dayname(ctx: FunctionContext, x: Value, period_no: Value | None = None, day_start: Value | None = None) -> Value:
    """The day's first moment shown with DateFormat. .../DateAndTimeFunctions/dayname.htm"""
    start = _day_bounds(ctx, x, period_no, day_start)[0]
    return Dual(format_serial(math.floor(start), script_settings(ctx).date_format), start)


@script_function("AddMonths", 2, 3, context=True)
def _addmonths(ctx: FunctionContext, x: Value, n: Value, mode: Value | None = None) -> Value:
    """The same day n months later, the month's last day when it is shorter; mode 1: the same
    distance from the month's end. .../DateAndTimeFunctions/addmonths.htm"""
    serial = _date_number(ctx, x)
    day = _calendar_day(ctx, x)
    if _opt_num(mode, 0) == 1:
        first = _add_months(day, _int(n))
        from_end = (_add_months(day, 1) - day).days
        target = first + dt.timedelta(days=max((_add_months(first, 1) - first).days - from_end, 0))
    else:
        target = _shift_months(day, _int(n))
    moved = _serial(target) + (serial - math.floor(serial))
    return Dual(format_serial(moved, script_settings(ctx).date_format), moved)


def _shift_months(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` months later, the month's last day when that month is shorter."""
    first = _add_months(day, months)
    length = (_add_months(first, 1) - first).days
    return first + dt.timedelta(days=min(day.day, length) - 1)


@script_function("AddYears", 2, context=True)
def _addyears(ctx: FunctionContext, x: Value, n: Value) -> Value:
    return _addmonths(ctx, x, number(12 * _int(n)))


# ---------------------------------------------------------------- periods holding a date (booleans)
# InWeek/InMonth/InQuarter/InYear(timestamp, base_date, period_no[, first_day_or_month]): true
# when timestamp lies in the period holding base_date, moved by period_no periods.
# .../DateAndTimeFunctions/inmonth.htm, inquarter.htm, inyear.htm, inweek.htm, inmonths.htm

def _holds(ctx: FunctionContext, x: Value, bounds: tuple[int, int]) -> Value:
    """Whether x lies from the first day number up to, not including, the second."""
    serial = _date_number(ctx, x)
    return boolean(bounds[0] <= serial < bounds[1])


_Bounds = Callable[[FunctionContext, Value, int, Value | None, Value | None], tuple[int, int]]


def _in_months_function(name: str, size: int | None, period_bounds: _Bounds | None = None) -> None:
    """size None: InMonths(n_months, ...), whose first argument is the period's length.
    ``period_bounds``: the days the period holding the base date spans (_months_bounds unless
    given)."""
    has_first_month = size != 1
    extra = 0 if size else 1
    max_args = 3 + extra + has_first_month

    @script_function(name, 3 + extra, max_args, context=True)
    def impl(ctx: FunctionContext, *args: Value) -> Value:
        months = size or _months_size(args[0])
        x, base, period_no, *first = args[extra:]
        bounds = (period_bounds or _months_bounds)(ctx, base, months, period_no, first[0] if first else None)
        return _holds(ctx, x, bounds)


_in_months_function("InMonth", 1)
_in_months_function("InQuarter", 3)
_in_months_function("InYear", 12)
_in_months_function("InMonths", None)


@script_function("InWeek", 3, 4, context=True)
def _inweek(ctx: FunctionContext, x: Value, base: Value, period_no: Value,
            first_week_day: Value | None = None) -> Value:
    return _holds(ctx, x, _week_bounds(ctx, base, period_no, first_week_day))


@script_function("YearToDate", 1, 4, context=True)
def _yeartodate(ctx: FunctionContext, x: Value, year_offset: Value | None = None,
                first_month: Value | None = None, today: Value | None = None) -> Value:
    """From the start of the (fiscal) year up to and including the day of the reload (or
    todaydate), moved by year_offset years. .../DateAndTimeFunctions/yeartodate.htm"""
    last_day = (_calendar_day(ctx, today) if today is not None else ctx.now().date())
    offset = int(_opt_num(year_offset, 0))
    start, _ = _months_bounds(ctx, number(_serial(last_day)), 12, number(offset), first_month)
    end = _add_months(last_day, 12 * offset) + dt.timedelta(days=last_day.day)  # the day after
    return _holds(ctx, x, (start, int(_serial(end))))


@script_function("Age", 2, context=True)
def _age(ctx: FunctionContext, x: Value, born: Value) -> Value:
    """Completed years at x of somebody born on born. .../DateAndTimeFunctions/age.htm"""
    day, birth = _calendar_day(ctx, x), _calendar_day(ctx, born)
    return number(day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day)))


@script_function("NetWorkDays", 2, None, context=True)
def _networkdays(ctx: FunctionContext, start: Value, end: Value, *holidays: Value) -> Value:
    """Monday to Friday from start to end, both included, less the holidays among them
    (.../DateAndTimeFunctions/networkdays.htm). An end before the start gives 0 (our choice)."""
    first, last = _calendar_day(ctx, start), _calendar_day(ctx, end)
    days = max((last - first).days + 1, 0)
    weeks, rest = divmod(days, 7)
    count = weeks * 5 + sum((first + dt.timedelta(days=i)).weekday() < 5 for i in range(rest))
    off = {_calendar_day(ctx, h) for h in holidays}
    return number(count - sum(first <= h <= last and h.weekday() < 5 for h in off))


# ---------------------------------------------------------------- time of day

@script_function("Hour", 1, context=True)
def _hour(ctx: FunctionContext, x: Value) -> Value:
    return number(datetime_from_serial(_date_number(ctx, x)).hour)


@script_function("Minute", 1, context=True)
def _minute(ctx: FunctionContext, x: Value) -> Value:
    return number(datetime_from_serial(_date_number(ctx, x)).minute)


@script_function("Second", 1, context=True)
def _second(ctx: FunctionContext, x: Value) -> Value:
    return number(datetime_from_serial(_date_number(ctx, x)).second)


@script_function("Time", 1, 2, context=True)
def _time(ctx: FunctionContext, x: Value, fmt: Value | None = None) -> Value:
    serial = _num(x)
    return Dual(format_serial(serial, script_settings(ctx).time_format if fmt is None else fmt.text), serial)


@script_function("MakeTime", 1, 3, context=True)
def _maketime(ctx: FunctionContext, hh: Value, mm: Value | None = None, ss: Value | None = None) -> Value:
    serial = (_num(hh) * 3600 + _opt_num(mm, 0) * 60 + _opt_num(ss, 0)) / 86400
    return Dual(format_serial(serial, script_settings(ctx).time_format), serial)


@script_function("Time#", 1, 2, context=True)
def _time_interpret(ctx: FunctionContext, s: Value, fmt: Value | None = None) -> Value:
    return Dual(s.text, _parse_with_format(s.text, script_settings(ctx).time_format if fmt is None else fmt.text) % 1)


# Intervals: a duration in days, shown without wrapping at 24 hours. The largest unit in the
# format takes the whole duration: Interval(1.375, 'hh:mm') is 33:00, with 'd hh' it is 1 09
# (.../FormattingFunctions/Interval.htm, results table).
_INTERVAL_UNITS = {"D": 86_400_000, "h": 3_600_000, "m": 60_000, "s": 1000, "f": 1}
_INTERVAL_TOKEN = re.compile(r"[Dd]+|h+|m+|s+|f+")


def _interval_token(token: str) -> str:
    return "D" if token[0] in "Dd" else token[0]


@script_function("Interval", 1, 2, context=True)
def _interval(ctx: FunctionContext, x: Value, fmt: Value | None = None) -> Value:
    n = _num(x)
    layout = script_settings(ctx).time_format if fmt is None else fmt.text
    rest = round(abs(n) * 86_400_000)
    shown = []
    for token in _INTERVAL_TOKEN.findall(layout):
        unit = _INTERVAL_UNITS[_interval_token(token)]
        if token[0] == "f":
            shown.append(f"{rest * 10 ** len(token) // 1000:0{len(token)}d}"[:len(token)])
            continue
        count, rest = divmod(rest, unit)
        shown.append(f"{count:0{min(len(token), 2)}d}")
    parts = iter(shown)
    text_ = _INTERVAL_TOKEN.sub(lambda m: next(parts), layout)
    return Dual(("-" if n < 0 else "") + text_, n)


@script_function("Interval#", 1, 2, context=True)
def _interval_interpret(ctx: FunctionContext, s: Value, fmt: Value | None = None) -> Value:
    layout = script_settings(ctx).time_format if fmt is None else fmt.text
    tokens = [_interval_token(t) for t in _INTERVAL_TOKEN.findall(layout)]
    pattern = _INTERVAL_TOKEN.sub(lambda m: "([0-9]+)", re.escape(layout))
    found = re.fullmatch(pattern, s.text.strip())
    if not found:
        return text(s.text)
    millis = sum(int(v) * (_INTERVAL_UNITS[t] if t != "f" else 10 ** (3 - len(v)))
                 for t, v in zip(tokens, found.groups()))
    return Dual(s.text, millis / 86_400_000)


# ---------------------------------------------------------------- tables and fields (context)
# https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/TableFunctions/table-functions.htm

@script_function("Peek", 1, 3, nulls=Nulls.PASS, context=True)
def _peek(ctx: FunctionContext, field: Value, row: Value = None, table: Value = None) -> Value:
    index = -1 if row is None else _int(row)
    return ctx.peek(_str(field), index, None if table is None else table.text)


@script_function("NoOfRows", 1, context=True)
def _noofrows(ctx: FunctionContext, table: Value) -> Value:
    return _count_or_null(ctx.no_of_rows(table.text))


@script_function("NoOfFields", 1, context=True)
def _nooffields(ctx: FunctionContext, table: Value) -> Value:
    return _count_or_null(ctx.no_of_fields(table.text))


def _count_or_null(n: int | None) -> Value:
    return None if n is None else number(n)


@script_function("NoOfTables", 0, context=True)
def _nooftables(ctx: FunctionContext) -> Value:
    return number(ctx.no_of_tables())


@script_function("TableName", 1, context=True)
def _tablename(ctx: FunctionContext, index: Value) -> Value:
    return _text_or_null(ctx.table_name(_int(index)))


@script_function("FieldName", 2, context=True)
def _fieldname(ctx: FunctionContext, index: Value, table: Value) -> Value:
    return _text_or_null(ctx.field_name(_int(index), table.text))


def _text_or_null(s: str | None) -> Value:
    return None if s is None else text(s)


@script_function("FieldNumber", 2, context=True)
def _fieldnumber(ctx: FunctionContext, field: Value, table: Value) -> Value:
    return number(ctx.field_number(field.text, table.text))


@script_function("FieldValue", 2, context=True)
def _fieldvalue(ctx: FunctionContext, field: Value, n: Value) -> Value:
    values = ctx.field_values(field.text)
    index = _int(n)
    return values[index - 1] if 1 <= index <= len(values) else None


@script_function("FieldValueCount", 1, context=True)
def _fieldvaluecount(ctx: FunctionContext, field: Value) -> Value:
    return number(len(ctx.field_values(field.text)))


@script_function("RowNo", 0, context=True)
def _rowno(ctx: FunctionContext) -> Value:
    return _count_or_null(ctx.row_no())


@script_function("RecNo", 0, context=True)
def _recno(ctx: FunctionContext) -> Value:
    return _count_or_null(ctx.rec_no())


# ApplyMap('map', expr[, default]): without a default, an unmapped expr is returned as is.
# A missing mapping table fails the statement, as in Sense.
@script_function("ApplyMap", 2, 3, nulls=Nulls.PASS, context=True)
def _applymap(ctx: FunctionContext, name: Value, key: Value, default: Value = ...) -> Value:
    table = ctx.mapping(_str(name))
    if table is None:
        raise ScriptError(f"ApplyMap: mapping table not found: {name.text}")
    if key is not None and key.text in table:
        return table[key.text]
    return key if default is ... else default


@script_function("TableNumber", 1, context=True)
def _tablenumber(ctx: FunctionContext, name: Value) -> Value:
    """0 for the first table, like TableName; NULL for no such table (.../TableFunctions/tablenumber.htm)."""
    names = [ctx.table_name(i) for i in range(ctx.no_of_tables())]
    return number(names.index(name.text)) if name.text in names else None


# MapSubString: "case sensitive and non-iterative, and substrings are mapped from left to right"
# (.../MappingFunctions/MapSubstring.htm); where several keys start at one place the longest
# wins (our choice).
@script_function("MapSubString", 2, context=True)
def _mapsubstring(ctx: FunctionContext, name: Value, s: Value) -> Value:
    table = ctx.mapping(name.text)
    if table is None:
        raise ScriptError(f"MapSubString: mapping table not found: {name.text}")
    keys = sorted((k for k in table if k), key=len, reverse=True)
    if not keys:
        return text(s.text)
    pattern = re.compile("|".join(map(re.escape, keys)))
    return text(pattern.sub(lambda m: _text_of(table[m.group(0)]), s.text))


def _text_of(v: Value) -> str:
    return "" if v is None else v.text


# AutoNumber(expression[, AutoID]): 1, 2, 3... for each distinct value in the order first seen,
# one counter per AutoID (.../CounterFunctions/autonumber.htm).
@script_function("AutoNumber", 1, 2, context=True)
def _autonumber(ctx: FunctionContext, x: Value, counter: Value | None = None) -> Value:
    numbers = ctx.run_state("AutoNumber").setdefault("" if counter is None else counter.text, {})
    return number(numbers.setdefault(value_key(x), len(numbers) + 1))


# AutoNumberHash128/256(expression {, expression}): "a unique integer value for each distinct
# hash value" of the combined values: 1, 2, 3... per distinct combination in the order first seen,
# one counter per function (our choice; .../CounterFunctions/autonumberhash128.htm).
def _autonumber_combined(name: str):
    @script_function(name, 1, None, nulls=Nulls.PASS, context=True)
    def combined(ctx: FunctionContext, *values: Value) -> Value:
        numbers = ctx.run_state(name)
        return number(numbers.setdefault(tuple(map(value_key, values)), len(numbers) + 1))
    return combined


_autonumber_combined("AutoNumberHash128")
_autonumber_combined("AutoNumberHash256")


# Rand(): uniform in [0, 1); the emulator's --seed option makes the sequence repeatable.
@script_function("Rand", 0, context=True)
def _rand(ctx: FunctionContext) -> Value:
    return number(ctx.random.random())


# ---------------------------------------------------------------- system and document functions
# Values from system.py: defaults from the machine and the script, set with --system NAME=VALUE.
# .../Scripting/SystemFunctions/system-functions.htm, .../DocumentFunctions/...

def _system_text(name: str) -> None:
    @script_function(name, 0, context=True)
    def impl(ctx: FunctionContext) -> Value:
        return _text_or_null(ctx.system_value(name))


for _name in ("QlikViewVersion", "EngineVersion", "ProductVersion", "OSUser", "ComputerName",
              "DocumentPath", "DocumentName", "DocumentTitle"):
    _system_text(_name)


@script_function("IsPartialReload", 0, context=True)
def _ispartialreload(ctx: FunctionContext) -> Value:
    return boolean(is_true(from_text(ctx.system_value("IsPartialReload") or "0")))


@script_function("ReloadTime", 0, context=True)
def _reloadtime(ctx: FunctionContext) -> Value:
    """The start of this run unless --system ReloadTime=... says otherwise (a serial number or
    a timestamp in the script's TimestampFormat)."""
    given = text(ctx.system_value("ReloadTime") or "")
    return _date_dual(_date_number(ctx, given), script_settings(ctx).timestamp_format)


# GetFolderPath('Desktop'): --system GetFolderPath.Desktop=DIR, else that name in the home folder.
@script_function("GetFolderPath", 1, context=True)
def _getfolderpath(ctx: FunctionContext, folder: Value) -> Value:
    given = ctx.system_value(f"GetFolderPath.{folder.text}")
    return text(given if given is not None else str(Path.home() / folder.text))


# ---------------------------------------------------------------- files
# https://help.qlik.com/en-US/cloud-services/Subsystems/Hub/Content/Sense_Hub/Scripting/FileFunctions/file-functions.htm
# FileSize(name) and FileTime(name): a file the script names (found as From and Include find
# files), NULL when there is none. Without a name they, and FileName(), FileBaseName(),
# FileExtension(), FilePath() and FileDir(), describe "the table file currently being read":
# NULL where no LOAD reads a file (our choice: the pages say nothing of it).

def _table_file(ctx: FunctionContext) -> TableFile:
    if ctx.table_file is None:
        raise _Undefined
    return ctx.table_file


def _existing_file(ctx: FunctionContext, written: Value | None) -> Path:
    if written is None:
        return _table_file(ctx).found
    found = ctx.find_file(written.text)
    if found is None:
        raise _Undefined
    return found


@script_function("FileSize", 0, 1, context=True)
def _filesize(ctx: FunctionContext, written: Value | None = None) -> Value:
    return number(_existing_file(ctx, written).stat().st_size)


@script_function("FileTime", 0, 1, context=True)
def _filetime(ctx: FunctionContext, written: Value | None = None) -> Value:
    modified = dt.datetime.fromtimestamp(_existing_file(ctx, written).stat().st_mtime)
    return _date_dual(serial_from_datetime(modified), script_settings(ctx).timestamp_format)


# QvdNoOfRecords, QvdCreateTime, QvdTableName, QvdNoOfFields, QvdFieldName: read the XML
# header of a QVD file the script names (NULL when there is none or it is no QVD file).
# https://help.qlik.com/en-US/cloud-services/Subsystems/Hub/Content/Sense_Hub/Scripting/FileFunctions/QvdFieldName.htm
# ("QvdFieldName ('MyFile.qvd', 5)" returns "the fifth field": numbers start at 1).

_QVD_HEADER_END = b"</QvdTableHeader>"


def _qvd_header(ctx: FunctionContext, written: Value) -> "ElementTree.Element":
    head = _existing_file(ctx, written).read_bytes().split(_QVD_HEADER_END, 1)[0]
    try:
        return ElementTree.fromstring(head + _QVD_HEADER_END)
    except ElementTree.ParseError:
        raise _Undefined from None


def _qvd_item(ctx: FunctionContext, written: Value, path: str) -> str:
    found = _qvd_header(ctx, written).findtext(path)
    if found is None:
        raise _Undefined
    return found


@script_function("QvdNoOfRecords", 1, context=True)
def _qvd_no_of_records(ctx: FunctionContext, written: Value) -> Value:
    return number(int(_qvd_item(ctx, written, "NoOfRecords")))


@script_function("QvdCreateTime", 1, context=True)
def _qvd_create_time(ctx: FunctionContext, written: Value) -> Value:
    """The header's CreateUtcTime ("In the timestamp, time is provided in UTC"), shown in
    TimestampFormat; Qlik writes it as 'YYYY-MM-DD hh:mm:ss', PyQvd with a 'T'.
    https://help.qlik.com/en-US/cloud-services/Subsystems/Hub/Content/Sense_Hub/Scripting/FileFunctions/QvdCreateTime.htm"""
    try:
        moment = dt.datetime.fromisoformat(_qvd_item(ctx, written, "CreateUtcTime").strip())
    except ValueError:
        raise _Undefined from None
    return _date_dual(serial_from_datetime(moment), script_settings(ctx).timestamp_format)


@script_function("QvdTableName", 1, context=True)
def _qvd_table_name(ctx: FunctionContext, written: Value) -> Value:
    """https://help.qlik.com/en-US/cloud-services/Subsystems/Hub/Content/Sense_Hub/Scripting/FileFunctions/QvdTableName.htm"""
    return text(_qvd_item(ctx, written, "TableName"))


@script_function("QvdNoOfFields", 1, context=True)
def _qvd_no_of_fields(ctx: FunctionContext, written: Value) -> Value:
    return number(len(_qvd_header(ctx, written).findall("Fields/QvdFieldHeader")))


@script_function("QvdFieldName", 2, context=True)
def _qvd_field_name(ctx: FunctionContext, written: Value, field_no: Value) -> Value:
    names = [f.findtext("FieldName") for f in _qvd_header(ctx, written).findall("Fields/QvdFieldHeader")]
    n = _int(field_no)
    if not 1 <= n <= len(names):
        raise _Undefined
    return text(names[n - 1])


@script_function("FilePath", 0, context=True)
def _filepath(ctx: FunctionContext) -> Value:
    return text(_table_file(ctx).path)


@script_function("FileDir", 0, context=True)
def _filedir(ctx: FunctionContext) -> Value:
    return text(_table_file(ctx).folder)


@script_function("FileName", 0, context=True)
def _filename(ctx: FunctionContext) -> Value:
    return text(_table_file(ctx).name)


@script_function("FileBaseName", 0, context=True)
def _filebasename(ctx: FunctionContext) -> Value:
    return text(_name_parts(ctx)[0])


@script_function("FileExtension", 0, context=True)
def _fileextension(ctx: FunctionContext) -> Value:
    return text(_name_parts(ctx)[1])


def _name_parts(ctx: FunctionContext) -> tuple[str, str]:
    """'abc.txt' -> ('abc', 'txt'), as the FileBaseName and FileExtension pages' examples."""
    base, dot, extension = _table_file(ctx).name.rpartition(".")
    return (base, extension) if dot else (extension, "")


# ---------------------------------------------------------------- more dates and times (issue 14g)
# InDay, InDayToTime, the ...ToDate functions, DayNumberOfYear/Quarter, MakeWeekDate,
# SetDateYear/SetDateYearMonth and the lunar weeks, each from its page under
# https://help.qlik.com/en-US/cloud-services/Subsystems/Hub/Content/Sense_Hub/Scripting/DateAndTimeFunctions/

def _holds_up_to(ctx: FunctionContext, x: Value, start: float, last: float) -> Value:
    """Whether x lies from ``start`` up to and including the moment ``last``."""
    serial = _date_number(ctx, x)
    return boolean(start <= serial <= last)


@script_function("InDay", 3, 4, context=True)
def _inday(ctx: FunctionContext, x: Value, base: Value, period_no: Value,
           day_start: Value | None = None) -> Value:
    return _holds(ctx, x, _day_bounds(ctx, base, period_no, day_start))


@script_function("InDayToTime", 3, 4, context=True)
def _indaytotime(ctx: FunctionContext, x: Value, base: Value, period_no: Value,
                 day_start: Value | None = None) -> Value:
    """From the start of base's day up to and including base's own moment (indaytotime.htm)."""
    start, _ = _day_bounds(ctx, base, period_no, day_start)
    return _holds_up_to(ctx, x, start, _date_number(ctx, base) + _int(period_no))


# The ...ToDate functions: period_no moves base_date itself by whole periods (inweektodate.htm:
# with -1 "the effective date ... is 01/11/2006"; inquartertodate.htm: '06/09/2013' with -1 searches
# 01/01/2013 to 03/09/2013); the period holding the moved date counts up to the end of its day.

def _to_date_bounds(ctx: FunctionContext, base: Value, size: int, period_no: Value,
                    first_month: Value | None) -> tuple[int, int]:
    """Periods of ``size`` months: the first day of the period holding the moved base date, and
    the day after that date."""
    day = _shift_months(_calendar_day(ctx, base), size * _int(period_no))
    moved = number(_serial(day))
    return _months_bounds(ctx, moved, size, None, first_month)[0], int(moved.num) + 1


_in_months_function("InMonthToDate", 1, _to_date_bounds)
_in_months_function("InQuarterToDate", 3, _to_date_bounds)
_in_months_function("InYearToDate", 12, _to_date_bounds)
_in_months_function("InMonthsToDate", None, _to_date_bounds)


@script_function("InWeekToDate", 3, 4, context=True)
def _inweektodate(ctx: FunctionContext, x: Value, base: Value, period_no: Value,
                  first_week_day: Value | None = None) -> Value:
    start, _ = _week_bounds(ctx, base, period_no, first_week_day)
    return _holds(ctx, x, (start, _day_number(ctx, base) + 7 * _int(period_no) + 1))


# The day numbers count every year as a leap year, so a date keeps its number: 06/30/2022 is day
# 182 and 12/09/2014 (DD/MM) day 256 (daynumberofyear.htm), 03/01/2022 day 61 of its quarter
# (daynumberofquarter.htm).
_LEAP_YEAR_MONTHS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _day_number_in(ctx: FunctionContext, x: Value, size: int, start_month: Value | None) -> Value:
    """The number of x's day in its period of ``size`` months, the year starting in start_month
    ("1, if omitted"), 1 for the period's first day."""
    day = _calendar_day(ctx, x)
    first = 1 if start_month is None else _int(start_month)
    if not 1 <= first <= 12:
        raise _Undefined
    months_in = (day.month - first) % size
    return number(sum(_LEAP_YEAR_MONTHS[(day.month - 1 - i) % 12] for i in range(1, months_in + 1)) + day.day)


@script_function("DayNumberOfYear", 1, 2, context=True)
def _daynumberofyear(ctx: FunctionContext, x: Value, start_month: Value | None = None) -> Value:
    return _day_number_in(ctx, x, 12, start_month)


@script_function("DayNumberOfQuarter", 1, 2, context=True)
def _daynumberofquarter(ctx: FunctionContext, x: Value, start_month: Value | None = None) -> Value:
    return _day_number_in(ctx, x, 3, start_month)


@script_function("MakeWeekDate", 1, 6, context=True)
def _makeweekdate(ctx: FunctionContext, week_year: Value, week: Value | None = None,
                  weekday: Value | None = None, first_week_day: Value | None = None,
                  broken_weeks: Value | None = None, reference_day: Value | None = None) -> Value:
    """Day ``weekday`` (0 the week's first) of week ``week`` of the week year, as Week() and
    WeekYear() count them (makeweekdate.htm)."""
    rules = _week_rules(ctx, first_week_day, broken_weeks, reference_day)
    day = _week_one(_int(week_year), *rules) + 7 * (int(_opt_num(week, 1)) - 1) + int(_opt_num(weekday, 0))
    _date_of_day(day)  # outside years 1-9999: NULL
    return _period_dual(ctx, day, None)


def _with_year_month(ctx: FunctionContext, x: Value, year: Value, month: Value | None) -> Value:
    """x with its year (and month) replaced, the time of day kept, shown with DateFormat
    (setdateyear.htm). A day the new month lacks becomes its last day (our choice, as AddMonths)."""
    serial = _date_number(ctx, x)
    day = _date_of_day(math.floor(serial))
    new_month = day.month if month is None else _int(month)
    if not 1 <= new_month <= 12:
        raise _Undefined
    months = (_int(year) - day.year) * 12 + new_month - day.month
    moved = _serial(_shift_months(day, months)) + serial - math.floor(serial)
    return Dual(format_serial(math.floor(moved), script_settings(ctx).date_format), moved)


@script_function("SetDateYear", 2, context=True)
def _setdateyear(ctx: FunctionContext, x: Value, year: Value) -> Value:
    return _with_year_month(ctx, x, year, None)


@script_function("SetDateYearMonth", 3, context=True)
def _setdateyearmonth(ctx: FunctionContext, x: Value, year: Value, month: Value) -> Value:
    return _with_year_month(ctx, x, year, month)


# FirstWorkDate/LastWorkDate: the working days (Monday to Friday, not a holiday) counted back from
# end_date or on from start_date, the given day included when it is one. The pages' examples show
# the result as a date (DateFormat); fewer than one working day is NULL (our choice).
_MOST_WORKING_DAYS = 2_700_000  # more than years 1-9999 hold


def _working_day(ctx: FunctionContext, x: Value, count: Value, holidays: tuple[Value, ...], step: int) -> Value:
    wanted = _int(count)
    if not 1 <= wanted <= _MOST_WORKING_DAYS:
        raise _Undefined
    off = {_day_number(ctx, h) for h in holidays}
    day = _day_number(ctx, x) - step
    while wanted:
        day += step
        wanted -= (day + 5) % 7 < 5 and day not in off  # day number 0 is a Saturday
    _date_of_day(day)  # outside years 1-9999: NULL
    return _period_dual(ctx, day, None)


@script_function("FirstWorkDate", 2, None, context=True)
def _firstworkdate(ctx: FunctionContext, end: Value, count: Value, *holidays: Value) -> Value:
    """.../DateAndTimeFunctions/firstworkdate.htm"""
    return _working_day(ctx, end, count, holidays, -1)


@script_function("LastWorkDate", 2, None, context=True)
def _lastworkdate(ctx: FunctionContext, start: Value, count: Value, *holidays: Value) -> Value:
    """.../DateAndTimeFunctions/lastworkdate.htm"""
    return _working_day(ctx, start, count, holidays, 1)


# Lunar weeks: week 1 starts on January 1st (moved by first_week_day, "an offset ... in days and/or
# fractions of a day"), each week has seven days but the year's last, cut at the next year's start
# (lunarweekstart.htm). Every year so has 53 weeks, the last of one or two days; period_no counts
# that short week as a week (our choice: the pages do not say).
_LUNAR_WEEKS = 53


@dataclass(frozen=True)
class _LunarWeek:
    year: int
    number: int  # 1-53
    start: float
    after: float  # the moment after the week


def _lunar_week(ctx: FunctionContext, x: Value, period_no: Value | None, first_week_day: Value | None) -> _LunarWeek:
    offset = _opt_num(first_week_day, 0)
    serial = _date_number(ctx, x)
    year = _date_of_day(math.floor(serial - offset)).year
    index = int((serial - _month_start(year * 12) - offset) // 7)
    year, index = divmod(year * _LUNAR_WEEKS + index + int(_opt_num(period_no, 0)), _LUNAR_WEEKS)
    start = _month_start(year * 12) + offset + 7 * index
    return _LunarWeek(year, index + 1, start, min(start + 7, _month_start(year * 12 + 12) + offset))


@script_function("LunarWeekStart", 1, 3, context=True)
def _lunarweekstart(ctx: FunctionContext, x: Value, period_no: Value | None = None,
                    first_week_day: Value | None = None) -> Value:
    week = _lunar_week(ctx, x, period_no, first_week_day)
    return Dual(format_serial(math.floor(week.start), script_settings(ctx).date_format), week.start)


@script_function("LunarWeekEnd", 1, 3, context=True)
def _lunarweekend(ctx: FunctionContext, x: Value, period_no: Value | None = None,
                  first_week_day: Value | None = None) -> Value:
    end = _lunar_week(ctx, x, period_no, first_week_day).after - _LAST_MILLISECOND
    return Dual(format_serial(math.floor(end), script_settings(ctx).date_format), end)


@script_function("LunarWeekName", 1, 3, context=True)
def _lunarweekname(ctx: FunctionContext, x: Value, period_no: Value | None = None,
                   first_week_day: Value | None = None) -> Value:
    """'2013/02', on the week's first moment (lunarweekname.htm: "year/weekcount")."""
    week = _lunar_week(ctx, x, period_no, first_week_day)
    return Dual(f"{week.year}/{week.number:02d}", week.start)


@script_function("InLunarWeek", 3, 4, context=True)
def _inlunarweek(ctx: FunctionContext, x: Value, base: Value, period_no: Value,
                 first_week_day: Value | None = None) -> Value:
    week = _lunar_week(ctx, base, period_no, first_week_day)
    return _holds(ctx, x, (week.start, week.after))


@script_function("InLunarWeekToDate", 3, 4, context=True)
def _inlunarweektodate(ctx: FunctionContext, x: Value, base: Value, period_no: Value,
                       first_week_day: Value | None = None) -> Value:
    """The moved week up to the end of base's day, counted from the week's start: base's day
    moved by whole weeks, cut at the week's end (our choice where the moved week is shorter)."""
    own = _lunar_week(ctx, base, None, first_week_day)
    moved = _lunar_week(ctx, base, period_no, first_week_day)
    base_day_end = math.floor(_date_number(ctx, base)) + 1
    return _holds(ctx, x, (moved.start, min(moved.start + base_day_end - own.start, moved.after)))


# ---------------------------------------------------------------- time zones (issue 14g)
# "Now" is the run's clock, the local time of the local zone: the machine's, or the IANA zone
# --system TimeZone=NAME names (system.local_clock). Places are the pages' table of places, GMT,
# UTC and GMT/UTC+-hh:mm ("only standard time offsets": whole hours and :30/:45 from -12:00 to
# +14:00, fixed, without DST), and any IANA zone name (our addition).
# .../DateAndTimeFunctions/converttolocaltime.htm, localtime.htm, UTC.htm, GMT.htm, timezone.htm

_PLACE_ZONES = {name.casefold(): zone for name, zone in yaml.safe_load(
    (Path(__file__).parent / "time_zone_places.yaml").read_text(encoding="utf-8")).items()}
_OFFSET_PLACE = re.compile(r"(?:GMT|UTC)(?:([+-])(\d\d):(\d\d))?", re.IGNORECASE)
_UTC = dt.timezone.utc


def _place_zone(function: str, place: str) -> dt.tzinfo:
    offset = _OFFSET_PLACE.fullmatch(place.strip())
    if offset:
        return _offset_zone(function, place, offset)
    zone = _PLACE_ZONES.get(place.strip().casefold())
    try:
        return time_zone(zone or place.strip())
    except ScriptError:
        raise ScriptError(f"{function}: unknown place or time zone: {place}") from None


def _offset_zone(function: str, place: str, offset: re.Match) -> dt.tzinfo:
    if offset[1] is None:
        return _UTC
    hours, minutes = int(offset[2]), int(offset[3])
    signed = -hours if offset[1] == "-" else hours
    if minutes not in (0, 30, 45) or not -12 <= signed <= 14:
        raise ScriptError(f"{function}: not a standard time offset: {place}")
    return dt.timezone((-1 if offset[1] == "-" else 1) * dt.timedelta(hours=hours, minutes=minutes))


def _local_zone(ctx: FunctionContext) -> dt.tzinfo | None:
    """The --system TimeZone zone; None: the machine's (Python's astimezone() without a zone)."""
    name = ctx.system_value("TimeZone")
    return None if name is None else time_zone(name)


def _utc_now(ctx: FunctionContext) -> dt.datetime:
    zone = _local_zone(ctx)
    local = ctx.now()
    return (local.replace(tzinfo=zone) if zone else local).astimezone(_UTC)


def _ignores_dst(v: Value | None) -> bool:
    """Only a value evaluating to False (0) keeps DST; "if the ignore_dst argument value is
    invalid, the function evaluates the expression as if the ignore_dst value evaluates to True"."""
    return v is not None and to_number(v) != 0


def _in_place(ctx: FunctionContext, function: str, moment: dt.datetime, place: Value | None,
              ignore_dst: Value | None) -> Dual:
    """The UTC ``moment`` as the local time of ``place`` (the local zone without one), in
    TimestampFormat."""
    zone = _local_zone(ctx) if place is None else _place_zone(function, place.text)
    try:
        local = moment.astimezone(zone)
        if _ignores_dst(ignore_dst):
            local -= _dst(local, machine=zone is None)
    except (OverflowError, OSError) as e:  # the machine's zone before 1970 on Windows, year 9999...
        raise _Undefined from e
    return _date_dual(serial_from_datetime(local), script_settings(ctx).timestamp_format)


def _dst(local: dt.datetime, machine: bool) -> dt.timedelta:
    """The daylight saving part of local's offset; in the machine's zone as the system tells it."""
    if not machine:
        return local.dst() or dt.timedelta(0)
    in_dst = time.localtime(local.timestamp()).tm_isdst > 0
    return dt.timedelta(seconds=time.timezone - time.altzone) if in_dst else dt.timedelta(0)


@script_function("UTC", 0, context=True)
def _utc(ctx: FunctionContext) -> Value:
    return _date_dual(serial_from_datetime(_utc_now(ctx)), script_settings(ctx).timestamp_format)


@script_function("GMT", 0, context=True)
def _gmt(ctx: FunctionContext) -> Value:
    return _utc(ctx)


@script_function("LocalTime", 0, 2, context=True)
def _localtime(ctx: FunctionContext, place: Value | None = None, ignore_dst: Value | None = None) -> Value:
    return _in_place(ctx, "LocalTime", _utc_now(ctx), place, ignore_dst)


@script_function("ConvertToLocalTime", 1, 3, context=True)
def _converttolocaltime(ctx: FunctionContext, x: Value, place: Value | None = None,
                        ignore_dst: Value | None = None) -> Value:
    """x is a UTC timestamp; without a place, the local zone's time (our choice)."""
    moment = datetime_from_serial(_date_number(ctx, x)).replace(tzinfo=_UTC)
    return _in_place(ctx, "ConvertToLocalTime", moment, place, ignore_dst)


@script_function("TimeZone", 0, context=True)
def _timezone(ctx: FunctionContext) -> Value:
    """The --system TimeZone name, else the machine zone's name as the system gives it (our choice)."""
    return text(ctx.system_value("TimeZone") or dt.datetime.now().astimezone().tzname() or "UTC")


@script_function("DaylightSaving", 0, context=True)
def _daylightsaving(ctx: FunctionContext) -> Value:
    """The local zone's current daylight saving adjustment (daylightsaving.htm), shown as Interval
    shows it in TimeFormat (our choice: the page shows no value)."""
    zone = _local_zone(ctx)
    local = ctx.now().replace(tzinfo=zone) if zone else ctx.now().astimezone()
    return _interval(ctx, number(_dst(local, machine=zone is None) / dt.timedelta(days=1)))


# ---------------------------------------------------------------- True() and False() (issue 14j)
# .../Scripting/script-expressions.htm: "logical functions and operators return 0 for False
# and -1 for True"; the same values the comparisons give.
@script_function("True", 0)
def _true() -> Value:
    return boolean(True)


@script_function("False", 0)
def _false() -> Value:
    return boolean(False)


# ---------------------------------------------------------------- issue 14h: numbers, money, finance, colours, strings
# https://help.qlik.com/en-US/cloud-services/Subsystems/Hub/Content/Sense_Hub/ChartFunctions/GeneralNumericFunctions/general-numeric-functions.htm

@script_function("Fmod", 2)
def _fmod(a: Value, b: Value) -> Value:
    """The remainder takes the dividend's sign: Fmod(-4,3) is -1, Fmod(4,-3) is 1 (fmod.htm)."""
    y = _num(b)
    if y == 0:
        raise _Undefined
    return _num_result(math.fmod(_num(a), y))


def _whole(x: Value) -> int:
    """Even/Odd: an argument that is not an integer gives NULL (even.htm, odd.htm)."""
    n = _num(x)
    if not n.is_integer():
        raise _Undefined
    return int(n)


@script_function("Even", 1)
def _even(x: Value) -> Value:
    return boolean(_whole(x) % 2 == 0)


@script_function("Odd", 1)
def _odd(x: Value) -> Value:
    return boolean(_whole(x) % 2 == 1)


@script_function("Fact", 1)
def _fact(x: Value) -> Value:
    """Truncated to an integer; non-positive numbers give NULL (fact.htm)."""
    n = _int(x)
    if not 1 <= n <= 170:  # beyond 170! a double overflows
        raise _Undefined
    return _num_result(float(math.factorial(n)))


def _choose(fn: Callable[[int, int], int]) -> Callable[[Value, Value], Value]:
    """Combin/Permut: both truncated (combin.htm, permut.htm); q outside 0..p gives NULL (our
    choice: the pages are silent)."""
    def impl(p: Value, q: Value) -> Value:
        items, picked = _int(p), _int(q)
        if items < 0 or not 0 <= picked <= items:
            raise _Undefined
        return _num_result(float(fn(items, picked)))
    return impl


script_function("Combin", 2)(_choose(math.comb))
script_function("Permut", 2)(_choose(math.perm))


@script_function("BitCount", 1)
def _bitcount(x: Value) -> Value:
    """Bits set in the integer, negatives in 64-bit two's complement: BitCount(-1) is 64
    (bitcount.htm). A non-integer is truncated (our choice)."""
    return number((_int(x) & (2 ** 64 - 1)).bit_count())


@script_function("e", 0)
def _e() -> Value:
    return number(math.e)


for _name, _fn in {"Cosh": math.cosh, "Sinh": math.sinh, "Tanh": math.tanh}.items():
    _math(_name, _fn)


# https://help.qlik.com/en-US/cloud-services/Subsystems/Hub/Content/Sense_Hub/Scripting/FormattingFunctions/Money.htm
# Without MoneyFormat/MoneyDecimalSep/MoneyThousandSep in the script: the lines a new en-US app's
# script sets (our choice), which the financial functions' examples ($786.72, -$2,594.66) show.
DEFAULT_MONEY_FORMAT = "$#,##0.00;-$#,##0.00"


def money_formats(setting: Callable[[str], str | None]) -> tuple[str, str, str]:
    """The script's MoneyFormat, MoneyDecimalSep and MoneyThousandSep (or our defaults)."""
    return (setting("MoneyFormat") or DEFAULT_MONEY_FORMAT, setting("MoneyDecimalSep") or ".",
            setting("MoneyThousandSep") or ",")


def money_text_reader(formats: tuple[str, str, str]) -> Callable[[str], float | None]:
    """How a data value reads in the money format: "when numerical text fields are interpreted
    by Qlik Sense, if the currency symbol of the text field matches that of the symbol defined
    in the MoneyFormat variable, Qlik Sense will interpret this field as a monetary value"
    (.../Scripting/NumberInterpretationVariables/MoneyFormat.htm). A text holding none of the
    format's symbols is passed over at once (most data values)."""
    fmt, dec_sep, thou_sep = formats
    try:
        sections = [_parse_number_format(section, dec_sep, thou_sep) for section in fmt.split(";")]
    except _Undefined:  # a MoneyFormat that is no number format reads no data as money
        return lambda s: None
    marks = {m for f in sections for m in (f.prefix.strip(), f.suffix.strip()) if m}

    def read(s: str) -> float | None:
        if not any(m in s for m in marks):
            return None
        try:
            return _read_formatted(s, fmt, dec_sep, thou_sep, marked=True)
        except _Undefined:
            return None
    return read


def _money_settings(ctx: FunctionContext, fmt: Value | None, dec_sep: Value | None,
                    thou_sep: Value | None) -> tuple[str, str, str]:
    f, d, t = money_formats(script_settings(ctx).text)
    return (f if fmt is None else fmt.text, d if dec_sep is None else dec_sep.text,
            t if thou_sep is None else thou_sep.text)


def _money_dual(ctx: FunctionContext, n: float) -> Dual:
    fmt, d, t = _money_settings(ctx, None, None, None)
    return Dual(format_number(_clean(n), fmt, d, t), _clean(n))


@script_function("Money", 1, 4, context=True)
def _money(ctx: FunctionContext, x: Value, fmt: Value | None = None, dec_sep: Value | None = None,
           thou_sep: Value | None = None) -> Value:
    f, d, t = _money_settings(ctx, fmt, dec_sep, thou_sep)
    n = _num(x)
    return Dual(format_number(n, f, d, t), n)


@script_function("Money#", 1, 4, context=True)
def _money_interpret(ctx: FunctionContext, s: Value, fmt: Value | None = None, dec_sep: Value | None = None,
                     thou_sep: Value | None = None) -> Value:
    f, d, t = _money_settings(ctx, fmt, dec_sep, thou_sep)
    return _interpreted(s.text, f, d, t)


# https://help.qlik.com/en-US/cloud-services/Subsystems/Hub/Content/Sense_Hub/Scripting/FinancialFunctions/financial-functions.htm
# Cash paid out is negative. `due` is the type argument: 1 when payments fall at the start of a
# period. FV, PV and Pmt are shown as money, Rate as '0.00%', nPer as a plain number.

def _growth(rate: float, periods: float) -> float:
    return (1 + rate) ** periods


def _annuity(rate: float, periods: float, due: float) -> float:
    """What a payment of 1 a period adds up to at the end: the factor of pmt in FV."""
    if rate == 0:
        return periods
    return (1 + rate * due) * (_growth(rate, periods) - 1) / rate


@script_function("FV", 3, 5, context=True)
def _fv(ctx: FunctionContext, rate: Value, nper: Value, pmt: Value, pv: Value | None = None,
        due: Value | None = None) -> Value:
    r, n, p = _num(rate), _num(nper), _num(pmt)
    present, t = _opt_num(pv, 0), _opt_num(due, 0)
    return _money_dual(ctx, -(present * _growth(r, n) + p * _annuity(r, n, t)))


@script_function("PV", 3, 5, context=True)
def _pv(ctx: FunctionContext, rate: Value, nper: Value, pmt: Value, fv: Value | None = None,
        due: Value | None = None) -> Value:
    r, n, p = _num(rate), _num(nper), _num(pmt)
    future, t = _opt_num(fv, 0), _opt_num(due, 0)
    return _money_dual(ctx, -(future + p * _annuity(r, n, t)) / _growth(r, n))


@script_function("Pmt", 3, 5, context=True)
def _pmt(ctx: FunctionContext, rate: Value, nper: Value, pv: Value, fv: Value | None = None,
         due: Value | None = None) -> Value:
    r, n, present = _num(rate), _num(nper), _num(pv)
    future, t = _opt_num(fv, 0), _opt_num(due, 0)
    factor = _annuity(r, n, t)
    if factor == 0:
        raise _Undefined
    return _money_dual(ctx, -(future + present * _growth(r, n)) / factor)


@script_function("nPer", 3, 5)
def _nper(rate: Value, pmt: Value, pv: Value, fv: Value | None = None, due: Value | None = None) -> Value:
    r, p, present = _num(rate), _num(pmt), _num(pv)
    future, t = _opt_num(fv, 0), _opt_num(due, 0)
    if r == 0:
        if p == 0:
            raise _Undefined
        return _num_result(-(present + future) / p)
    paid = p * (1 + r * t)
    try:
        return _num_result(math.log((paid - future * r) / (paid + present * r)) / math.log(1 + r))
    except (ValueError, ZeroDivisionError) as e:
        raise _Undefined from e


def _rate_balance(r: float, n: float, p: float, present: float, future: float, due: float) -> float:
    """What is left at the end at rate ``r``: zero at the rate sought."""
    return present * _growth(r, n) + p * _annuity(r, n, due) + future


@script_function("Rate", 3, 5, context=True)
def _rate(ctx: FunctionContext, nper: Value, pmt: Value, pv: Value, fv: Value | None = None,
          due: Value | None = None) -> Value:
    """Found by iteration (the secant method from 10%); NULL when it does not converge, as the
    page says (Rate.htm)."""
    n, p, present = _num(nper), _num(pmt), _num(pv)
    future, t = _opt_num(fv, 0), _opt_num(due, 0)
    balance = partial(_rate_balance, n=n, p=p, present=present, future=future, due=t)
    r0, r1 = 0.1, 0.11
    try:
        for _ in range(100):
            f0, f1 = balance(r0), balance(r1)
            if f1 == f0:
                break
            r0, r1 = r1, r1 - f1 * (r1 - r0) / (f1 - f0)
            if abs(r1 - r0) < 1e-12:
                d, th = _separators(ctx, None, None)
                return Dual(format_number(r1, "0.00%", d, th), r1)
    except (OverflowError, ZeroDivisionError, ValueError):
        pass
    raise _Undefined


# ---------------------------------------------------------------- colours
# https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/ChartFunctions/ColorFunctions/color-functions-charts.htm
# A colour is a dual: the number 0xAARRGGBB (light green is 4 278 255 360, FF00FF00: RGB.htm) and
# the text 'RGB(r,g,b)', or 'ARGB(a,r,g,b)' when an alpha is given (Blue(128) is ARGB(128,0,0,128)).

def _component(v: Value) -> int:
    """A colour component: an integer 0-255; outside that range NULL (our choice)."""
    n = _int(v)
    if not 0 <= n <= 255:
        raise _Undefined
    return n


def _colour(alpha: int | None, r: int, g: int, b: int) -> Dual:
    shown = f"RGB({r},{g},{b})" if alpha is None else f"ARGB({alpha},{r},{g},{b})"
    return Dual(shown, float(((255 if alpha is None else alpha) << 24) | (r << 16) | (g << 8) | b))


@script_function("RGB", 3)
def _rgb(r: Value, g: Value, b: Value) -> Value:
    return _colour(None, _component(r), _component(g), _component(b))


@script_function("ARGB", 4)
def _argb(alpha: Value, r: Value, g: Value, b: Value) -> Value:
    return _colour(_component(alpha), _component(r), _component(g), _component(b))


@script_function("HSL", 3)
def _hsl(hue: Value, saturation: Value, luminosity: Value) -> Value:
    """Components 0-1 (HSL.htm): HSL(80/240, 1, 0.5) is light green, RGB(0,255,0)."""
    h, s, lum = _num(hue), _num(saturation), _num(luminosity)
    if not all(0 <= x <= 1 for x in (h, s, lum)):
        raise _Undefined
    return _colour(None, *(round(c * 255) for c in colorsys.hls_to_rgb(h, lum, s)))


_NAMED_COLOURS = {"black": (0, 0, 0), "blue": (0, 0, 128), "brown": (128, 128, 0), "cyan": (0, 128, 128),
                  "darkgray": (128, 128, 128), "green": (0, 128, 0), "lightblue": (0, 0, 255),
                  "lightcyan": (0, 255, 255), "lightgray": (192, 192, 192), "lightgreen": (0, 255, 0),
                  "lightmagenta": (255, 0, 255), "lightred": (255, 0, 0), "magenta": (128, 0, 128),
                  "red": (128, 0, 0), "white": (255, 255, 255), "yellow": (255, 255, 0)}


def _named_colour(name: str, rgb: tuple[int, int, int]) -> None:
    def impl(alpha: Value | None = None) -> Value:
        return _colour(None if alpha is None else _component(alpha), *rgb)
    script_function(name, 0, 1)(impl)


for _name, _rgb_value in _NAMED_COLOURS.items():
    _named_colour(_name, _rgb_value)


# ---------------------------------------------------------------- more string functions

@script_function("LevenshteinDist", 2, nulls=Nulls.AS_EMPTY)
def _levenshteindist(a: Value, b: Value) -> Value:
    """Single-character insertions, deletions and substitutions (LevenshteinDist.htm)."""
    first, second = a.text, b.text
    previous = list(range(len(second) + 1))
    for i, x in enumerate(first, 1):
        current = [i]
        for j, y in enumerate(second, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return number(previous[-1])


@script_function("Class", 2, 4)
def _class(x: Value, interval: Value, label: Value | None = None, offset: Value | None = None) -> Value:
    """The bin 'a<=x<b' holding x, its lower bound as the number (ConditionalFunctions/class.htm):
    Class(23,10) is '20<=x<30', Class(23,5,'value') '20<= value <25'. A label other than 'x' is
    set between spaces, as the page's examples show."""
    width, start = _num(interval), _opt_num(offset, 0)
    if width <= 0:
        raise _Undefined
    low = start + width * math.floor((_num(x) - start) / width)
    name = "x" if label is None else label.text
    middle = name if name == "x" else f" {name} "
    lower, upper = number(_clean(low)).text, number(_clean(low + width)).text
    return Dual(f"{lower}<={middle}<{upper}", _clean(low))


# ---------------------------------------------------------------- inter-record: Lookup, FieldIndex

@script_function("Lookup", 3, 4, nulls=Nulls.PASS, context=True)
def _lookup(ctx: FunctionContext, field: Value, match_field: Value, match_value: Value,
            table: Value = None) -> Value:
    """The value of ``field`` in the first row, in load order, whose ``match_field`` holds
    ``match_value``; the current table when none is named; NULL without a match
    (InterRecordFunctions/LookUp.htm)."""
    found = ctx.table_contents(None if table is None else _str(table))
    if found is None or match_value is None:
        return None
    fields, rows = found
    wanted, key = _str(field), _str(match_field)
    if wanted not in fields or key not in fields:
        return None
    at, of = fields.index(wanted), fields.index(key)
    target = value_key(match_value)
    return next((row[at] for row in rows if row[of] is not None and value_key(row[of]) == target), None)


@script_function("FieldIndex", 2, context=True)
def _fieldindex(ctx: FunctionContext, field: Value, value: Value) -> Value:
    """The position of ``value`` among the field's distinct values in load order, 0 when absent
    (InterRecordFunctions/fieldindex.htm)."""
    target = value_key(value)
    keys = [value_key(v) for v in ctx.field_values(field.text)]
    return number(keys.index(target) + 1 if target in keys else 0)


# ---------------------------------------------------------------- JSON
# https://help.qlik.com/en-US/cloud-services/Subsystems/Hub/Content/Sense_Hub/Scripting/StringFunctions/JsonGet.htm
# Paths are JSON pointers (RFC 6901): '' is the whole document, '/a/0' member a's first element.

class _NotJson(Exception):
    pass


def _reject_constant(name: str) -> None:
    raise _NotJson(name)  # NaN and Infinity are not JSON


def _json_value(s: str) -> object:
    try:
        return json.loads(s, parse_constant=_reject_constant)
    except (ValueError, _NotJson) as e:
        raise _Undefined from e


def _json_text(doc: object) -> str:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise _Undefined
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _child(node: object, key: str) -> object:
    if isinstance(node, dict) and key in node:
        return node[key]
    if isinstance(node, list) and key.isdigit() and int(key) < len(node):
        return node[int(key)]
    raise _Undefined


_JSON_TYPES: dict[str, Callable[[object], bool]] = {
    "value": lambda v: True, "object": lambda v: isinstance(v, dict), "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str), "boolean": lambda v: isinstance(v, bool), "null": lambda v: v is None,
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)}


@script_function("IsJson", 1, 2)
def _isjson(s: Value, kind: Value | None = None) -> Value:
    """-1 when the text is JSON (of the type named: value, object, array, string, number,
    boolean, null); an unknown type name gives 0 (IsJson.htm)."""
    test = _JSON_TYPES.get("value" if kind is None else kind.text.lower())
    try:
        return boolean(test is not None and test(_json_value(s.text)))
    except _Undefined:
        return boolean(False)


@script_function("JsonGet", 2)
def _jsonget(s: Value, path: Value) -> Value:
    """The part of the JSON the path points to; NULL when the text is not JSON or the path leads
    nowhere. A string is returned without its quotes, a number as a dual (our reading of the
    page, whose examples return abc for '/b/1')."""
    node = _json_value(s.text)
    for key in _pointer(path.text):
        node = _child(node, key)
    if isinstance(node, str):
        return text(node)
    if isinstance(node, (int, float)) and not isinstance(node, bool):
        return Dual(_json_text(node), float(node))
    return text(_json_text(node))


def _set_at(node: object, keys: list[str], value: object) -> object:
    if not keys:
        return value
    key, rest = keys[0], keys[1:]
    if isinstance(node, dict):
        if rest and key not in node:
            raise _Undefined
        return {**node, key: _set_at(node[key], rest, value) if rest else value}
    if isinstance(node, list):
        at = len(node) if key == "-" else int(key) if key.isdigit() else -1
        if not 0 <= at <= len(node) or (rest and at == len(node)):
            raise _Undefined
        if at == len(node):
            return node + [value]
        return node[:at] + [_set_at(node[at], rest, value) if rest else value] + node[at + 1:]
    raise _Undefined


@script_function("JsonSet", 3)
def _jsonset(s: Value, path: Value, value: Value) -> Value:
    """The JSON with the value (itself JSON text) set at the path, a new member or array element
    added; NULL when either text is not JSON or the path is invalid (JsonSet.htm)."""
    return text(_json_text(_set_at(_json_value(s.text), _pointer(path.text), _json_value(value.text))))


# ---------------------------------------------------------------- statistical distributions
# https://help.qlik.com/en-US/cloud-services/Subsystems/Hub/Content/Sense_Hub/Scripting/StatisticalDistributionFunctions/NormDist.htm

def _normal(mean: Value | None, sd: Value | None) -> statistics.NormalDist:
    deviation = _opt_num(sd, 1)
    if deviation <= 0:
        raise _Undefined
    return statistics.NormalDist(_opt_num(mean, 0), deviation)


@script_function("NormDist", 1, 4)
def _normdist(x: Value, mean: Value | None = None, sd: Value | None = None,
              cumulative: Value | None = None) -> Value:
    """Cumulative unless the fourth argument is 0, which gives the density."""
    dist = _normal(mean, sd)
    if _opt_num(cumulative, 1) == 0:
        return _num_result(dist.pdf(_num(x)))
    return _num_result(dist.cdf(_num(x)))


@script_function("NormInv", 3)
def _norminv(p: Value, mean: Value, sd: Value) -> Value:
    probability = _num(p)
    if not 0 < probability < 1:
        raise _Undefined
    return _num_result(_normal(mean, sd).inv_cdf(probability))


# ---------------------------------------------------------------- Evaluate
# https://help.qlik.com/en-US/cloud-services/Subsystems/Hub/Content/Sense_Hub/Scripting/StringFunctions/Evaluate.htm

@script_function("Evaluate", 1, context=True)
def _evaluate(ctx: FunctionContext, expression: Value) -> Value:
    """The value of the text read as an expression; NULL when it is not a valid one. A text
    that names no field of the load (Bob on the page) is not a valid expression here."""
    as_number = parse_number(expression.text.strip())
    if as_number is not None:  # '0123456789012345678' keeps its text (the page's example)
        return Dual(expression.text, as_number)
    try:
        return ctx.evaluate(expression.text)
    except ScriptError as e:
        raise _Undefined from e
