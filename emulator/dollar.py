"""Dollar-sign expansion, applied to a statement's text just before it runs.

https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/dollar-sign-expansion.htm
https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/dollar-sign-expansion-variable.htm
https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/dollar-sign-expansion-parameters.htm
https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/dollar-sign-expansion-expression.htm

- ``$(v)``: the variable's text; an undefined (or NULL) variable gives an empty string.
- ``$(#v)``: the variable's number with '.' as decimal point (its text read with DecimalSep);
  '0' if it is undefined or not a number.
- ``$(=expr)``: the text of the expression's value.
- ``$(v(a, b))``: v's text with ``$1``, ``$2``... replaced by the parameters and ``$0`` by
  their count; missing parameters stay as written.
- Expansions nest: ``$(v$(i))`` expands ``$(i)`` first. The text a variable expands to is not
  scanned again.
- ``$(Include=...)`` and ``$(Must_Include=...)`` are left in the text with their path expanded;
  the runner brings the file's text in their place (runner.Runner.prepared), also where a
  variable's text holds one.
"""
from __future__ import annotations

import re
from typing import Protocol

from emulator import lexicon
from emulator.errors import SYNTAX_ERROR, ScriptError
from emulator.values import format_number, read_grouped_number

_PARAMETERISED = re.compile(r"^([^()]+)\((.*)\)$", re.DOTALL)
_PARAMETER = re.compile(r"\$([0-9])")


class DollarContext(Protocol):
    def variable_text(self, name: str) -> str | None: ...
    def evaluate_text(self, expression: str) -> str: ...


def expand(text: str, ctx: DollarContext) -> str:
    start = text.find("$(")
    if start < 0:
        return text
    out: list[str] = []
    pos = 0
    while start >= 0:
        out.append(text[pos:start])
        end = _closing_paren(text, start + 2)
        inner = expand(text[start + 2:end], ctx)
        out.append(_expand_one(inner, ctx))
        pos = end + 1
        start = text.find("$(", pos)
    out.append(text[pos:])
    return "".join(out)


def _closing_paren(text: str, pos: int) -> int:
    end = lexicon.closing_paren(text, pos)
    if end is None:
        raise ScriptError(f"Unclosed dollar-sign expansion: {text[pos - 2:pos + 40]}", code=SYNTAX_ERROR)
    return end


def _expand_one(content: str, ctx: DollarContext) -> str:
    body = content.strip()
    if body.startswith("="):
        return ctx.evaluate_text(body[1:])
    if body.startswith("#"):
        raw = ctx.variable_text(body[1:].strip())
        # the text as written with the script's DecimalSep ('7,5' after Set DecimalSep=',')
        n = read_grouped_number(raw, ctx.variable_text("DecimalSep") or ".", "") if raw is not None else None
        return "0" if n is None else format_number(n)
    if lexicon.INCLUDE_KEYWORD.match(body):
        return f"$({body})"  # the runner includes the file (runner.Runner.prepared)
    call = _PARAMETERISED.match(body)
    if call:
        return _with_parameters(ctx.variable_text(call.group(1).strip()) or "",
                                split_arguments(call.group(2)))
    return ctx.variable_text(body) or ""


def split_arguments(text: str) -> list[str]:
    """Split on commas outside parentheses and quotes; each argument stripped."""
    return lexicon.split_top_level(text)


def _with_parameters(template: str, args: list[str]) -> str:
    def substitute(m: re.Match) -> str:
        n = int(m.group(1))
        if n == 0:
            return str(len(args))
        return args[n - 1] if n <= len(args) else m.group(0)
    return _PARAMETER.sub(substitute, template)
