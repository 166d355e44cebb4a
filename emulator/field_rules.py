"""What Alias and Map ... Using statements do to the fields later loads store, and where the
metadata that Comment and Tag statements give is kept.

The rules live in the run's state (``Interpreter.run_state``), so a new run starts without them.
- Alias: "a field will be renamed whenever it occurs in the script that follows"; the new name is
  given to the field a LOAD or SELECT stores.
  https://help.qlik.com/en-US/cloud-services/Subsystems/Hub/Content/Sense_Hub/Scripting/ScriptRegularStatements/Alias.htm
- Force: "forces Qlik Sense to interpret field values of subsequent LOAD and SELECT statements
  as written with only upper case letters, with only lower case letters, as always capitalized
  or as they appear (mixed)"; values that are text only (no number) change, field names do not
  (our choice: the page changes names only for some sources loaded with *).
  https://help.qlik.com/en-US/cloud-services/Subsystems/Hub/Content/Sense_Hub/Scripting/ScriptRegularStatements/Force.htm
- Map: "The mapping is done last in the chain of events leading up to the field being stored in
  the internal table": a stored value found in the mapping table is replaced, others are kept.
  https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/ScriptRegularStatements/Map.htm
"""
from __future__ import annotations

import re
from collections.abc import Callable

from emulator.errors import ScriptError
from emulator.functions import _capitalize
from emulator.program import Interpreter
from emulator.tables import Row
from emulator.values import Value, text

ALIASES = "Alias"       # field name -> alias
MAPS = "Map"            # field-name pattern text -> (pattern, mapping table name or None)
COMMENTS = "Comment"    # ("field" | "table", name) -> comment
FORCE = "Force"         # "case" -> how texts are changed, absent for 'case mixed'
TAGS = "Tag"            # ("field" | "table", name) -> its tags


def applied(runner: Interpreter, fields: list[str], rows: list[Row]) -> tuple[list[str], list[Row]]:
    """The fields and rows a LOAD stores, after the Alias, Force and Map statements in force."""
    aliases = runner.run_state(ALIASES)
    if aliases:
        fields = [aliases.get(f, f) for f in fields]
    force = runner.run_state(FORCE).get("case")
    if force is not None:
        rows = [[v if v is None or v.num is not None else force(v) for v in row] for row in rows]
    mapped = [(i, table) for i, f in enumerate(fields) if (table := _map_of(runner, f)) is not None]
    if mapped:
        rows = [_mapped_row(row, mapped) for row in rows]
    return fields, rows


def _map_of(runner: Interpreter, field: str) -> dict[str, Value] | None:
    """The mapping table in force for a field: the last Map statement naming it wins (an Unmap
    leaves it unmapped)."""
    name = None
    for pattern, map_name in runner.run_state(MAPS).values():
        if pattern.fullmatch(field):
            name = map_name
    if name is None:
        return None
    table = runner.mapping(name)
    if table is None:
        raise ScriptError(f"Map ... Using {name}: mapping table not found")
    return table


def _mapped_row(row: Row, mapped: list[tuple[int, dict[str, Value]]]) -> Row:
    row = list(row)
    for i, table in mapped:
        v = row[i]
        if v is not None:
            row[i] = table.get(v.text, v)
    return row


FORCES: dict[str, Callable[[Value], Value] | None] = {
    "capitalization": _capitalize,
    "case upper": lambda v: text(v.text.upper()),
    "case lower": lambda v: text(v.text.lower()),
    "case mixed": None,
}


def set_map(runner: Interpreter, patterns: list[re.Pattern], map_name: str | None) -> None:
    """``Map fields Using name`` (map_name) or ``Unmap fields`` (None); ``Unmap *`` ends all."""
    maps = runner.run_state(MAPS)
    if map_name is None and any(x.pattern == ".*" for x in patterns):
        maps.clear()
        return
    for pattern in patterns:
        maps.pop(pattern.pattern, None)  # re-inserted last: the latest statement wins
        maps[pattern.pattern] = (pattern, map_name)
