"""The script's lexical rules in one place: quotes, brackets, comments and ``$(Include=...)``.

The splitter, dollar expansion and the tokenizer all read text through these definitions, so a
``)`` inside ``[...]`` or ``'...'`` means the same to each of them.
https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/use-quotes-in-script.htm
https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/comments-in-script.htm
"""
from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Quote:
    opener: str
    closer: str
    doubled: bool       # a doubled closer inside stands for the closer itself ('It''s')
    is_string: bool     # '...' is a string literal; the others quote a field or variable name

    def pattern(self) -> str:
        """A regex matching one quoted item."""
        o, c = re.escape(self.opener), re.escape(self.closer)
        body = f"[^{c}]*(?:{c}{c}[^{c}]*)*" if self.doubled else f"[^{c}]*"
        return f"{o}{body}{c}"

    def unquote(self, raw: str) -> str:
        inner = raw[len(self.opener):-len(self.closer)]
        return inner.replace(self.closer * 2, self.closer) if self.doubled else inner


QUOTES: dict[str, Quote] = {q.opener: q for q in (
    Quote("'", "'", doubled=True, is_string=True),
    Quote('"', '"', doubled=True, is_string=False),
    Quote("[", "]", doubled=False, is_string=False),
    Quote("`", "`", doubled=True, is_string=False),
)}

LINE_COMMENT, BLOCK_COMMENT, BLOCK_COMMENT_END = "//", "/*", "*/"

# $(Include=path) / $(Must_Include=path): a statement of its own.
_INCLUDE_WORD = r"(must_)?include\s*="
INCLUDE_KEYWORD = re.compile(_INCLUDE_WORD, re.IGNORECASE)              # inside $( )
INCLUDE_START = re.compile(r"\$\(" + _INCLUDE_WORD, re.IGNORECASE)      # where one begins
INCLUDE = re.compile(r"\$\(" + _INCLUDE_WORD + r"(.*)\)\s*$", re.IGNORECASE | re.DOTALL)


def quoted_end(text: str, pos: int) -> int | None:
    """The index just after the quoted item starting at ``pos``; None when it is not closed."""
    quote = QUOTES[text[pos]]
    end = pos + 1
    while True:
        end = text.find(quote.closer, end)
        if end < 0:
            return None
        if quote.doubled and text.startswith(quote.closer, end + 1):
            end += 2
            continue
        return end + 1


def comment_at(text: str, pos: int) -> bool:
    """``//`` or ``/*`` starts a comment here (not the ``//`` of ``lib://`` or ``http://``)."""
    if text.startswith(BLOCK_COMMENT, pos):
        return True
    return text.startswith(LINE_COMMENT, pos) and not (pos and text[pos - 1] == ":")


def comment_end(text: str, pos: int) -> int:
    """The index just after the comment starting at ``pos`` (a line comment stops before the
    line end)."""
    if text.startswith(LINE_COMMENT, pos):
        end = text.find("\n", pos)
        return len(text) if end < 0 else end
    end = text.find(BLOCK_COMMENT_END, pos + 2)
    return len(text) if end < 0 else end + 2


def split_top_level(text: str, separator: str = ",") -> list[str]:
    """Split on ``separator`` outside parentheses and quoted items; each part stripped."""
    parts, depth, start, i = [], 0, 0, 0
    while i < len(text):
        c = text[i]
        if c in QUOTES:
            i = quoted_end(text, i) or len(text)
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == separator and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
        i += 1
    parts.append(text[start:].strip())
    return parts


def closing_paren(text: str, pos: int, stop_at_newline: bool = False) -> int | None:
    """The index of the ``)`` closing a parenthesis opened just before ``pos``, skipping quoted
    items; None when there is none (before the line end, with ``stop_at_newline``)."""
    depth = 0
    i = pos
    while i < len(text):
        c = text[i]
        if c in QUOTES:
            end = quoted_end(text, i)
            if end is None or (stop_at_newline and "\n" in text[i:end]):
                return None
            i = end
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            if depth == 0:
                return i
            depth -= 1
        elif c == "\n" and stop_at_newline:
            return None
        i += 1
    return None
