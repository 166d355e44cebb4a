"""Split a script into statements, keeping the line each one starts on.

Regular statements end at ``;``. Control statements (``If``, ``Sub``, ``For``, ``Call``, ...)
end at ``;`` or at the end of the line, and ``if ... then`` / ``else`` end right after the
keyword, so that ``if a=1 then load ...; end if`` is three statements. From
https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/ScriptControlStatements/script-control-statements.htm :
"Each clause of a control statement must be kept inside one script line and may be terminated
by semicolon or end-of-line." Which statements are control statements, and where each ends,
comes from the statement table (statements.STATEMENTS).

Strings ``'...'`` (with ``''``), ``"..."``, ``[...]`` and `` `...` `` are kept as written;
``//`` and ``/* */`` comments and ``REM ...;`` statements are dropped. Splitting happens before
dollar expansion; a statement whose expansion holds ``;`` is split again when it runs (see
runner.Runner.prepared), its parts marked as expanded.
"""
from __future__ import annotations

import re

from emulator import lexicon
from emulator.errors import SYNTAX_ERROR, ScriptError
from emulator.program import Statement
from emulator.statements import AFTER_KEYWORD, AFTER_THEN, AT_LINE_END, control_words

# How each control statement ends, by its first word (the statement table's knowledge).
_CONTROL_ENDS = control_words()
_CONTROL_START = re.compile(
    r"(?:(?P<kw>" + "|".join(sorted(_CONTROL_ENDS, key=len, reverse=True)) + r")\b"
    r"|(?P<include>" + lexicon.INCLUDE_START.pattern + "))",
    re.IGNORECASE)
# "The word let may be omitted, but the statement then becomes a control statement. Such a
# statement without the keyword let must be contained within a single script row and may be
# terminated either with a semicolon or end-of-line."
# https://help.qlik.com/en-us/sense/June2017/Subsystems/Hub/Content/Scripting/ScriptRegularStatements/Let.htm
_ASSIGNMENT = re.compile(r"[^\W\d][\w.#$%@]*[ \t]*=")
_REM = re.compile(r"rem\b", re.IGNORECASE)
_THEN = re.compile(r"then\b", re.IGNORECASE)


def split_statements(source: str, file: str = "<script>", line: int = 1,
                     expanded: bool = False) -> list[Statement]:
    """The statements of ``source``, the first line being ``line``."""
    return _Splitter(source, file, line, expanded).split()


class _Splitter:
    def __init__(self, source: str, file: str, line: int, expanded: bool) -> None:
        self.src = source
        self.file = file
        self.pos = 0
        self.line = line
        self.expanded = expanded

    def split(self) -> list[Statement]:
        statements: list[Statement] = []
        while True:
            self.skip_blank_and_comments()
            if self.pos >= len(self.src):
                return statements
            start_line = self.line
            if _REM.match(self.src, self.pos):
                self.skip_rem()
                continue
            text = self.read_statement().strip()
            if text:
                statements.append(Statement(text, start_line, self.file, self.expanded))

    def advance_to(self, end: int) -> str:
        chunk = self.src[self.pos:end]
        self.line += chunk.count("\n")
        self.pos = end
        return chunk

    def skip_blank_and_comments(self) -> None:
        while self.pos < len(self.src):
            c = self.src[self.pos]
            if c in " \t\r\n;\ufeff":
                self.advance_to(self.pos + 1)
            elif lexicon.comment_at(self.src, self.pos):
                self.skip_comment()
            else:
                return

    def skip_comment(self) -> None:
        self.advance_to(lexicon.comment_end(self.src, self.pos))

    def skip_rem(self) -> None:
        end = self.src.find(";", self.pos)
        self.advance_to(len(self.src) if end < 0 else end + 1)

    def read_statement(self) -> str:
        control = _CONTROL_START.match(self.src, self.pos)
        keyword = control.group("kw").lower() if control and control.group("kw") else None
        ends = _CONTROL_ENDS.get(keyword, AT_LINE_END) if control else None
        if ends == AFTER_KEYWORD:
            return self.advance_to(control.end())
        ends_at_eol = control is not None or bool(_ASSIGNMENT.match(self.src, self.pos))
        parts: list[str] = []
        depth = 0
        while self.pos < len(self.src):
            c = self.src[self.pos]
            if c in lexicon.QUOTES:
                parts.append(self.read_quoted(c))
            elif self.src.startswith("$(", self.pos):
                parts.append(self.read_dollar())
            elif lexicon.comment_at(self.src, self.pos):
                self.skip_comment()
                parts.append(" ")
            elif c == ";":
                self.advance_to(self.pos + 1)
                break
            elif c == "\n" and ends_at_eol and depth <= 0:
                break
            elif ends == AFTER_THEN and depth <= 0 and self.at_then():
                parts.append(self.advance_to(self.pos + 4))
                break
            else:
                depth += (c == "(") - (c == ")")
                parts.append(self.advance_to(self.pos + 1))
        return "".join(parts)

    def read_dollar(self) -> str:
        """A dollar expansion as written, comments and all: ``$(Include=lib://x/y.qvs)``."""
        end = lexicon.closing_paren(self.src, self.pos + 2, stop_at_newline=True)
        if end is None:
            return self.advance_to(self.pos + 2)  # unclosed on this line: dollar.py reports it
        return self.advance_to(end + 1)

    def at_then(self) -> bool:
        previous = self.src[self.pos - 1] if self.pos else " "
        return not (previous.isalnum() or previous == "_") and bool(_THEN.match(self.src, self.pos))

    def read_quoted(self, opener: str) -> str:
        end = lexicon.quoted_end(self.src, self.pos)
        if end is None:
            closer = lexicon.QUOTES[opener].closer
            raise ScriptError(f"Unterminated {opener}...{closer} starting here", self.file,
                              self.line, self.src[self.pos:self.pos + 60], SYNTAX_ERROR)
        return self.advance_to(end)
