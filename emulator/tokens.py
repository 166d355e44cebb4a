"""Tokenizer for script expressions and the statement syntax around them.

A token is (kind, text, value, position). Kinds:
- NUMBER: ``12``, ``1.5``, ``.5``, ``1e3`` (decimal point is always '.', no thousands separator);
- STRING: ``'...'`` with ``''`` for a quote (value: the unquoted text);
- NAME: a field or variable written ``"..."``, ``[...]`` or `` `...` `` (value: the name);
- WORD: an unquoted identifier or keyword (``T.TaskId``, ``Num#``, ``and``, ``load``);
- OP: ``& + - * / = <> < > <= >= << >> ( ) , ; :``;
- OTHER: any other character (statements such as Trace and SQL are not expressions; the
  parser fails on OTHER where it expects an expression);
- END.
See https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/use-quotes-in-script.htm
"""
from __future__ import annotations

import re
from typing import NamedTuple

from emulator.lexicon import QUOTES, Quote, quoted_end, simple_quoted_pattern


NUMBER, STRING, NAME, WORD, OP, OTHER, END = "NUMBER", "STRING", "NAME", "WORD", "OP", "OTHER", "END"


class Token(NamedTuple):
    kind: str
    text: str
    value: str
    pos: int

    def is_word(self, *words: str) -> bool:
        return self.kind == WORD and self.value.lower() in words

    def is_op(self, *ops: str) -> bool:
        return self.kind == OP and self.value in ops


_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<number>(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?(?![\w#]))
  | (?P<plain>""" + simple_quoted_pattern() + r""")
  | (?P<quote>[""" + re.escape("".join(QUOTES)) + r"""])
  | (?P<word>[^\W\d]|[_%@$])(?P<rest>[\w.#$%@]*)
  | (?P<op><>|<=|>=|<<|>>|[&+\-*/=<>(),;:])
  | (?P<other>.)
""", re.VERBOSE | re.DOTALL)

def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        kind = m.lastgroup
        start, pos = m.start(), m.end()
        if kind == "space":
            continue
        if kind == "plain" and text.find("$", start, pos) < 0:  # no closer or $( inside, nothing to undo
            kind_of = STRING if QUOTES[text[start]].is_string else NAME
            tokens.append(Token(kind_of, _preview(text, start, pos), text[start + 1:pos - 1], start))
            continue
        if kind in ("plain", "quote"):  # the lexicon's rule (which the plain case above follows)
            end = quoted_end(text, start)
            if end is not None:
                pos = end
                tokens.append(_quoted(QUOTES[text[start]], text[start:end], start))
                continue
            kind = "other"
        if kind == "rest":
            kind = "word"
        tokens.append(_make(kind, m.group(0), start))
    tokens.append(Token(END, "", "", len(text)))
    return tokens


def _preview(text: str, start: int, end: int) -> str:
    """A string token's text as written, shortened when long (it only appears in messages)."""
    if end - start <= 80:
        return text[start:end]
    return text[start:start + 60] + "...'"


def _quoted(quote: Quote, raw: str, start: int) -> Token:
    return Token(STRING if quote.is_string else NAME, raw, quote.unquote(raw), start)


def _make(kind: str, raw: str, start: int) -> Token:
    if kind == "number":
        return Token(NUMBER, raw, raw, start)
    if kind == "word":
        return Token(WORD, raw, raw, start)
    if kind == "other":
        return Token(OTHER, raw, raw, start)
    return Token(OP, raw, raw, start)
