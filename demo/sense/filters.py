"""The QRS filter language: a tokenizer, a recursive-descent parser and an evaluator.

Documented by Qlik ("Filtering", https://help.qlik.com/en-US/sense-developer/February2024/
Subsystems/RepositoryServiceAPI/Content/Sense_RepositoryServiceAPI/RepositoryServiceAPI-Filtering.htm):
`property op value` joined with `and` / `or`; eq, ne for every type; gt, ge, lt, le for Int,
Enum, Char and DateTime (not String or GUID); sw, ew, so for strings only; string comparisons
case-insensitive. Measured on a live Sense (qlik-facts §6): string literals are single-quoted,
a quote inside is `\\'` and a backslash `\\\\`; a doubled quote `''` inside a literal and
double-quoted literals are rejected with 400 "Cannot parse the expression"; parentheses
group; an empty group `()` is 400 "Invalid expression". GUIDs, numbers, booleans, `null` and
enum names are written bare (`id eq <guid>`, `status eq FinishedFail`).

Choices where Sense's behaviour is not recorded (README): property names and the keywords
`and`/`or`/operators are case-insensitive; a property path runs through nested objects and
arrays, and a comparison holds when ANY element reached holds it (`tags.name eq 'x'`);
`and` binds tighter than `or`; `not` is not supported; a backslash before anything but `'`
or `\\` is a parse error; an unknown property is a parse error.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, NamedTuple

from demo.sense.seed import STATUSES

OPERATORS = ("eq", "ne", "gt", "ge", "lt", "le", "sw", "ew", "so")
_ORDERING = {"gt": lambda c: c > 0, "ge": lambda c: c >= 0, "lt": lambda c: c < 0, "le": lambda c: c <= 0}
# Enum-typed properties, by their last path segment (qlik-facts §5).
ENUMS = {
    "status": STATUSES,
    "tasktype": ["Reload", "ExternalProgram", "UserSync", "Distribute", "Preload"],
    "detailstype": ["Error", "Warning", "Information"],
    "abortreason": ["Undefined", "Manual", "Timeout", "DeletedTask"],
}
_WORD = r"[A-Za-z0-9_.:\-+]+"
# each token after its spaces; anything else (an unbalanced quote, a stray character) `other`
_TOKENS = re.compile(rf"\s*(?:([()])|'((?:[^'\\]|\\['\\])*)'|({_WORD})|(\S))")
_ESCAPED = re.compile(r"\\(['\\])")
_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_NUMBER = re.compile(r"-?\d+(\.\d+)?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?")


class FilterError(ValueError):
    """A filter Sense would refuse; `message` is Sense's plain-text 400 body."""


class Token(NamedTuple):  # a tuple: made thousands of times a lookup, faster than a dataclass
    kind: str  # "(", ")", "string", "word", "end"
    text: str
    pos: int


@dataclass(frozen=True)
class Comparison:
    path: tuple[str, ...]
    op: str
    value: str
    quoted: bool


@dataclass(frozen=True)
class Junction:
    op: str  # "and" | "or"
    parts: tuple[Any, ...]


@dataclass(frozen=True)
class AnyOf:
    """`p eq a or p eq b or ...` on one path: a set lookup for string values (an `or` of
    thousands of IDs stays fast); other value types fall back to the comparisons."""
    path: tuple[str, ...]
    values: frozenset[str]
    comparisons: tuple[Comparison, ...]


def tokenize(text: str) -> list[Token]:
    """One scan of the text by one regular expression (a lookup can carry thousands of
    tokens). A literal is its characters but `'` and `\\`, each of those written escaped
    (`\\'`, `\\\\`); a backslash before anything else, an unbalanced quote, or `''` after a
    literal is Sense's parse error."""
    tokens = []
    for m in _TOKENS.finditer(text):
        paren, literal, word, other = m.groups()
        if other is not None or (literal is not None and text.startswith("'", m.end())):
            raise _cannot_parse(text)  # not a token, or `''` inside a literal
        if literal is not None:
            tokens.append(Token("string", _ESCAPED.sub(r"\1", literal) if "\\" in literal
                                else literal, m.start(2) - 1))
        else:
            tokens.append(Token(paren, paren, m.start(1)) if paren
                          else Token("word", word, m.start(3)))
    tokens.append(Token("end", "", len(text)))
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.at = 0

    def parse(self) -> Any:
        node = self.expression()
        if self.peek().kind != "end":
            raise _cannot_parse(self.text)
        return node

    def peek(self) -> Token:
        return self.tokens[self.at]

    def take(self) -> Token:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def keyword(self, word: str) -> bool:
        token = self.peek()
        if token.kind == "word" and token.text.lower() == word:
            self.at += 1
            return True
        return False

    def expression(self) -> Any:
        return self.junction("or", self.conjunction)

    def conjunction(self) -> Any:
        return self.junction("and", self.term)

    def junction(self, op: str, operand: Callable[[], Any]) -> Any:
        parts = [operand()]
        while self.keyword(op):
            parts.append(operand())
        return parts[0] if len(parts) == 1 else Junction(op, tuple(parts))

    def term(self) -> Any:
        token = self.take()
        if token.kind == "(":
            if self.peek().kind == ")":
                raise FilterError("Invalid expression")
            node = self.expression()
            if self.take().kind != ")":
                raise _cannot_parse(self.text)
            return node
        path = _path(token.text) if token.kind == "word" else None
        if path is None:
            raise _cannot_parse(self.text)
        op = self.take()
        if op.kind != "word" or op.text.lower() not in OPERATORS:
            raise _cannot_parse(self.text)
        value = self.take()
        if value.kind not in ("string", "word"):
            raise _cannot_parse(self.text)
        return Comparison(path, op.text.lower(), value.text, value.kind == "string")


@functools.lru_cache(maxsize=256)
def _path(text: str) -> tuple[str, ...] | None:
    """A property path's lower-cased parts; None when the word is not one. Cached: a lookup
    names the same property hundreds of times."""
    return tuple(text.lower().split(".")) if _PATH.fullmatch(text) else None


def _cannot_parse(text: str) -> FilterError:
    return FilterError(f"Cannot parse the expression: {text}")


def parse(text: str) -> Any:
    """The filter's syntax tree; FilterError with Sense's message when it does not parse."""
    return _Parser(text).parse()


def paths(node: Any) -> list[tuple[str, ...]]:
    if isinstance(node, (Comparison, AnyOf)):
        return [node.path]
    return [p for part in node.parts for p in paths(part)]


def check_properties(node: Any, sample: dict, text: str) -> None:
    """Refuse properties the entity does not have (checked on a sample of its shape)."""
    for path in paths(node):
        if not _has_path(sample, path):
            raise _cannot_parse(text)


def _has_path(value: Any, path: tuple[str, ...]) -> bool:
    if not path:
        return True
    if isinstance(value, list):
        return any(_has_path(v, path) for v in value)
    if not isinstance(value, dict):
        return False
    key = _key(value, path[0])
    return key is not None and (value[key] is None or _has_path(value[key], path[1:]))


def _key(mapping: dict, lowered: str) -> str | None:
    return next((k for k in mapping if k.lower() == lowered), None)


def leaves(value: Any, path: tuple[str, ...]) -> list[Any]:
    """Every value at `path`, walking into arrays (a nested array matches on any element)."""
    if isinstance(value, list):
        return [leaf for v in value for leaf in leaves(v, path)]
    if not path:
        return [value]
    if not isinstance(value, dict):
        return []
    key = _key(value, path[0])
    return [] if key is None else leaves(value[key], path[1:])


def matches(node: Any, entity: dict, text: str = "") -> bool:
    if isinstance(node, Junction):
        combine = all if node.op == "and" else any
        return combine(matches(part, entity, text) for part in node.parts)
    if isinstance(node, AnyOf):
        return any(leaf.lower() in node.values if isinstance(leaf, str)
                   else any(_compare(leaf, c, text) for c in node.comparisons)
                   for leaf in leaves(entity, node.path))
    return any(_compare(leaf, node, text) for leaf in leaves(entity, node.path))


def group_equalities(node: Any) -> Any:
    """The same tree with each `or` of `eq` comparisons on one path turned into an AnyOf."""
    if not isinstance(node, Junction):
        return node
    parts = [group_equalities(p) for p in node.parts]
    if node.op != "or":
        return Junction(node.op, tuple(parts))
    by_path: dict[tuple[str, ...], list[Comparison]] = {}
    rest = []
    for part in parts:
        if isinstance(part, Comparison) and part.op == "eq":
            by_path.setdefault(part.path, []).append(part)
        else:
            rest.append(part)
    grouped = [AnyOf(path, frozenset(c.value.lower() for c in cs), tuple(cs)) if len(cs) > 1
               else cs[0] for path, cs in by_path.items()]
    return Junction("or", tuple(grouped + rest))


@dataclass(frozen=True)
class Filter:
    """A parsed filter: called on an entity, whether it matches (FilterError as Sense would)."""
    node: Any
    text: str

    def __call__(self, entity: dict) -> bool:
        return matches(self.node, entity, self.text)

    def candidates(self, index: Callable[[tuple[str, ...], str], set[str] | None]) -> set[str] | None:
        """The IDs of the entities that match, when the filter is made of `eq` comparisons
        joined by and/or on properties `index(path, value)` answers for (the IDs whose text
        property, or any element of it, equals the value case-insensitively: what `eq` on text
        compares); None when any part is anything else (every entity must be judged). Such a
        filter raises on no entity."""
        return _candidates(self.node, index)


def _candidates(node: Any, index: Callable[[tuple[str, ...], str], set[str] | None]) -> set[str] | None:
    if isinstance(node, Comparison):
        return index(node.path, node.value) if node.op == "eq" else None
    if isinstance(node, AnyOf):
        parts = [index(node.path, value) for value in node.values]
    else:
        parts = [_candidates(part, index) for part in node.parts]
    if any(part is None for part in parts):
        return None
    if isinstance(node, Junction) and node.op == "and":
        return set.intersection(*parts)
    return set().union(*parts)


def compile_filter(text: str, sample: dict) -> Filter:
    """The filter for entities shaped like `sample`; raises FilterError as Sense would."""
    node = group_equalities(parse(text))
    check_properties(node, sample, text)
    return Filter(node, text)


def _compare(leaf: Any, cmp: Comparison, text: str) -> bool:
    enum = ENUMS.get(cmp.path[-1])
    if isinstance(leaf, bool):
        return _equality(cmp, str(leaf).lower() == cmp.value.lower(), text)
    if leaf is None:
        return _equality(cmp, not cmp.quoted and cmp.value.lower() == "null", text)
    if isinstance(leaf, (int, float)):
        return _numeric(leaf, cmp, enum, text)
    if isinstance(leaf, str):
        return _string(leaf, cmp, text)
    return False


def _equality(cmp: Comparison, equal: bool, text: str) -> bool:
    if cmp.op == "eq":
        return equal
    if cmp.op == "ne":
        return not equal
    raise _cannot_parse(text)


def _numeric(leaf: float, cmp: Comparison, enum: list[str] | None, text: str) -> bool:
    number = _number_of(cmp.value, enum)
    if number is None or cmp.op in ("sw", "ew", "so"):
        raise _cannot_parse(text)
    if cmp.op in ("eq", "ne"):
        return _equality(cmp, leaf == number, text)
    return _ORDERING[cmp.op]((leaf > number) - (leaf < number))


def _number_of(value: str, enum: list[str] | None) -> float | None:
    if _NUMBER.fullmatch(value):
        return float(value)
    if enum:
        lowered = [name.lower() for name in enum]
        if value.lower() in lowered:
            return lowered.index(value.lower())
    return None


def _string(leaf: str, cmp: Comparison, text: str) -> bool:
    a, b = leaf.lower(), cmp.value.lower()
    if cmp.op in ("eq", "ne"):
        return _equality(cmp, a == b, text)
    if cmp.op == "sw":
        return a.startswith(b)
    if cmp.op == "ew":
        return a.endswith(b)
    if cmp.op == "so":
        return b in a
    # gt/ge/lt/le: DateTime only among the string-valued properties.
    left, right = _datetime(leaf), _datetime(cmp.value)
    if left is None or right is None:
        raise _cannot_parse(text)
    return _ORDERING[cmp.op]((left > right) - (left < right))


def _datetime(value: str) -> datetime | None:
    if not _DATE.fullmatch(value.strip()):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace(" ", "T"))
    except ValueError:
        return None
    # Sense's times are UTC; a literal without a zone is read as UTC too.
    return parsed if parsed.tzinfo is None else parsed.astimezone(timezone.utc).replace(tzinfo=None)
