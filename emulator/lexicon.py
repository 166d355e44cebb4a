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

# $(Include=path) / $(Must_Include=path): a dollar expansion that brings a file's text.
_INCLUDE_WORD = r"(must_)?include\s*="
INCLUDE_KEYWORD = re.compile(_INCLUDE_WORD, re.IGNORECASE)              # inside $( )
INCLUDE_START = re.compile(r"\$\(" + _INCLUDE_WORD, re.IGNORECASE)      # where one begins
_LEADING_INCLUDE = re.compile(r"\s*\$\(" + _INCLUDE_WORD, re.IGNORECASE)


@dataclass(frozen=True)
class IncludeRef:
    """One ``$(Include=path)`` or ``$(Must_Include=path)`` in a text: ``start``/``end`` span it."""
    must: bool
    path: str
    start: int
    end: int


def includes_in(text: str) -> list[IncludeRef]:
    """The includes written in ``text``, left to right (their paths as written)."""
    found, pos = [], 0
    while (m := INCLUDE_START.search(text, pos)) is not None:
        close = closing_paren(text, m.end())
        if close is None:
            return found  # unclosed: dollar expansion reports it
        found.append(IncludeRef(bool(m.group(1)), text[m.end():close].strip(), m.start(), close + 1))
        pos = close + 1
    return found


def standalone_include(text: str) -> IncludeRef | None:
    """The include when ``text`` is one include and nothing else (a statement of its own)."""
    if not _LEADING_INCLUDE.match(text):  # cheap for the long texts a loop may build
        return None
    stripped = text.strip()
    found = includes_in(stripped)
    return found[0] if found and found[0].end == len(stripped) else None


def without_comments(text: str) -> str:
    """``text`` with its ``//`` and ``/* */`` comments (outside quoted items) made a space."""
    if "//" not in text and "/*" not in text:
        return text
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c in QUOTES:
            end = quoted_end(text, i) or len(text)
            out.append(text[i:end])
            i = end
        elif comment_at(text, i):
            out.append(" ")
            i = comment_end(text, i)
        else:
            out.append(c)
            i += 1
    return "".join(out)


# After a closer of a doubled kind, a word character makes the closer part of the item when
# another closer follows on the same line: Qlik reads Qvc's ``'Loading rows where Update >='01-03-2011 00:00:00''`` as one string
# (Qvc's Test_IncrementalReload_log line 9). Our choice, see README; the help page gives only
# the doubling.
_CONTINUING = re.compile(r"\w")


def simple_quoted_pattern() -> str:
    """A regex for the common quoted item, read by quoted_end's rule without its loop: no closer
    inside, and (for a doubled kind) neither a word character nor a closer after. The caller
    must still check that no ``$(`` is inside (tokens.py looks for any ``$``): a one-character
    class and a one-character search keep long strings fast (Butler's ``'$(vBody)…'`` loop)."""
    items = []
    for q in QUOTES.values():
        o, c = re.escape(q.opener), re.escape(q.closer)
        after = rf"(?![\w{c}])" if q.doubled else ""
        items.append(rf"{o}[^{c}]*{c}{after}")
    return "|".join(items)


def quoted_end(text: str, pos: int) -> int | None:
    """The index just after the quoted item starting at ``pos``; None when it is not closed.
    A dollar expansion inside (``'$(=Date(d, 'YYYY'))'``, text not yet expanded) is passed
    whole: the quotes inside it are its own."""
    quote = QUOTES[text[pos]]
    i = pos + 1
    while True:
        end = text.find(quote.closer, i)
        if end < 0:
            return _unclosed_end(text, pos, quote)
        dollar = text.find("$(", i, end)
        if dollar >= 0:
            close = closing_paren(text, dollar + 2)
            i = dollar + 2 if close is None else close + 1
        elif not quote.doubled:
            return end + 1
        elif text.startswith(quote.closer, end + 1):
            i = end + 2
        elif _CONTINUING.match(text, end + 1) and text.find(quote.closer, end + 1, _line_end(text, end)) >= 0:
            i = end + 1
        else:
            return end + 1


def _line_end(text: str, pos: int) -> int:
    end = text.find("\n", pos)
    return len(text) if end < 0 else end


def _unclosed_end(text: str, pos: int, quote: Quote) -> int | None:
    """An item left open because its line's last closer is doubled (the ``00:00:00''`` above)
    ends at that closer, the one before it standing for itself."""
    last = text.rfind(quote.closer, pos + 1, _line_end(text, pos))
    if quote.doubled and last - 1 > pos and text[last - 1] == quote.closer:
        return last + 1
    return None


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
