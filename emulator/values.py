"""Qlik's value model: NULL, text, numbers and dual values.

Every script value is either ``None`` (Qlik's NULL) or a :class:`Dual`: a text
representation plus an optional number. A plain string has ``num is None``; a
plain number has the text Qlik would show for it; ``Dual('Jan', 1)`` is both.
See https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/data-types-in-scripts.htm
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from collections.abc import Callable
from functools import lru_cache
from typing import TypeVar

# Qlik's TRUE is -1 and FALSE is 0 (both numbers).
TRUE_NUM = -1.0
FALSE_NUM = 0.0


@dataclass(frozen=True, slots=True)
class Dual:
    text: str
    num: float | None = None

    @property
    def is_num(self) -> bool:
        return self.num is not None

    def __str__(self) -> str:
        return self.text


Value = Dual | None
T = TypeVar("T")


def format_number(n: float) -> str:
    """The text Qlik shows for a number with no explicit format."""
    if n.is_integer() and -1e15 < n < 1e15:
        return str(int(n))
    if math.isnan(n) or math.isinf(n):
        return "-" if math.isnan(n) else ("+Inf" if n > 0 else "-Inf")
    return f"{n:.14g}"


def text(s: str) -> Dual:
    return Dual(s, None)


def number(n: float) -> Dual:
    return NumberValue(n if type(n) is float else float(n))


def boolean(b: bool) -> Dual:
    return number(TRUE_NUM if b else FALSE_NUM)


def parse_number(s: str) -> float | None:
    """Interpret text as a number the way the script's default interpretation does
    (decimal point '.', optional sign and exponent); None if it is not a number."""
    t = s.strip()
    if not t:
        return None
    try:
        n = float(t)
    except ValueError:
        return None
    if t.lower() in ("nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"):
        return None
    return n


def read_grouped_number(raw: str, dec_sep: str, thou_sep: str) -> float | None:
    """'35,648.31' with separators '.' and ',' is 35648.31; a thousands separator must sit
    between groups of three digits of the integer part ('35.648,3123' is not a number).
    Spaces are ignored: Num#('35 648.312', '#', '.', ',') is 35648.312 (help page example)."""
    raw = raw.replace(" ", "")
    integer, _, decimals = raw.partition(dec_sep) if dec_sep else (raw, "", "")
    if thou_sep and thou_sep in integer:
        groups = integer.split(thou_sep)
        if any(len(g.lstrip("+-")) != 3 for g in groups[1:]) or not groups[0].lstrip("+-"):
            return None
        integer = "".join(groups)
    if thou_sep and thou_sep in decimals:
        return None
    return parse_number(integer + ("." + decimals if decimals else ""))


def from_text(s: str) -> Dual:
    """A value read from a source (inline table, variable, JSON text): text that is
    also a number when it reads as one, keeping the original text."""
    return Dual(s, parse_number(s))


def to_number(v: Value) -> float | None:
    """The number a value stands for: its own, or its text read as a number; else None."""
    if v is None:
        return None
    return v.num if v.num is not None else parse_number(v.text)


def shown_with(v: Value, decimal_sep: str | None) -> Value:
    """A plain number as the script shows it once stored: with its DecimalSep, which "replaces
    the decimal symbol for the operating system" when numbers are formatted
    (.../Scripting/NumberInterpretationVariables/DecimalSep.htm). Other values are unchanged."""
    if not decimal_sep or decimal_sep == "." or type(v) is not NumberValue or "." not in v.text:
        return v
    return Dual(v.text.replace(".", decimal_sep), v.num)


def is_true(v: Value) -> bool:
    """Qlik's truth: a non-zero number is true; NULL and non-numeric text are false."""
    n = to_number(v)
    return n is not None and n != 0


@lru_cache(maxsize=256)
def wildcard_regex(pattern: str, ignore_case: bool = False) -> re.Pattern:
    """A regex for a pattern with * (any characters) and ? (one character), as in ``like``,
    WildMatch and Qualify."""
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body, (re.IGNORECASE if ignore_case else 0) | re.DOTALL)


class FieldTexts:
    """One text per number in each field: "When several data items read into one field have
    different string representations but the same valid number representation, they will all
    share the first string representation encountered."
    https://help.qlik.com/en-US/cloud-services/Subsystems/Hub/Content/Sense_Hub/Scripting/FormattingFunctions/Dual.htm"""

    def __init__(self) -> None:
        self._first: dict[str, dict[float, Dual]] = {}

    def share(self, fields: list[str], rows: list[list[Value]]) -> None:
        """Give each value of ``rows`` (laid out as ``fields``) the first value its field held
        with the same number, in place."""
        for i, name in enumerate(fields):
            first = self._first.setdefault(name, {})
            for row in rows:
                v = row[i]
                if v is not None and v.num is not None:
                    row[i] = first.setdefault(v.num, v)


def sharing(make: Callable[[T], Value], limit: int = 65_536) -> Callable[[T], Value]:
    """``make`` returning one object per distinct value: a LOAD computing Mod(RecNo(), 1000) for
    1,000,000 rows then holds 1,000 values, not 1,000,000. Only values nothing can tell apart
    are shared (a plain number by its number, a dual or text by its text and number), so this
    changes no result; which text a field shows for a number is FieldTexts' rule, applied where
    the rows are stored. A field with more than ``limit`` distinct values is left as it is made
    (every value distinct, as RecNo(): remembering them would cost more than it saves)."""
    seen: dict[object, Value] = {}

    def shared(x: T) -> Value:
        v = make(x)
        kind = type(v)
        if kind is NumberValue:
            key: object = v.num
        elif kind is Dual:
            key = (v.text, v.num)
        else:
            return v
        first = seen.get(key)
        if first is not None:
            return first
        if len(seen) < limit:
            seen[key] = v
        return v
    return shared


class BuiltText(Dual):
    """Text made by repeated concatenation (``Let v = v & ...`` in a loop). The parts are joined
    only when the text is read, so appending to a variable 10,000 times costs linear time, not
    the quadratic time of copying the growing text at every step.

    Several values may share one parts list: a value covers its first ``count`` parts, and
    extending a value that is not the newest one copies the list first."""

    __slots__ = ("_parts", "_count", "_joined")

    def __init__(self, parts: list[str], count: int) -> None:
        object.__setattr__(self, "num", None)
        object.__setattr__(self, "_parts", parts)
        object.__setattr__(self, "_count", count)
        object.__setattr__(self, "_joined", None)

    @property
    def text(self) -> str:  # type: ignore[override]
        if self._joined is None:
            object.__setattr__(self, "_joined", "".join(self._parts[:self._count]))
        return self._joined

    def extended(self, more: list[str]) -> "BuiltText":
        if self._joined is not None:  # already read (Len(v) in the loop): start from that text
            parts = [self._joined]
        elif len(self._parts) == self._count:
            parts = self._parts
        else:
            parts = self._parts[:self._count]
        parts.extend(more)
        return BuiltText(parts, len(parts))


class NumberValue(Dual):
    """A number whose text (format_number) is made only when something reads it: a LOAD of
    100,000 rows computes many numbers that are only compared, never shown."""

    __slots__ = ("_text",)

    def __init__(self, n: float) -> None:
        _set_num(self, n)  # the slots' own setters: a third faster than object.__setattr__
        _set_text(self, None)

    @property
    def text(self) -> str:  # type: ignore[override]
        if self._text is None:
            object.__setattr__(self, "_text", format_number(self.num))
        return self._text


_set_num = Dual.__dict__["num"].__set__
_set_text = NumberValue.__dict__["_text"].__set__
