"""LOAD prefixes: parsed here (``parse_prefixes``) and, for those that reshape or merge the
loaded rows, run here. The emulator always runs a full (normal) reload.

- ``Add [only]``: a normal LOAD in a full reload; with ``only`` the statement is disregarded.
  https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/ScriptPrefixes/Add.htm
- ``Replace [only]``: "work as a normal LOAD statement but be preceded by a Drop Table": the
  Concatenate target, or the table with the same set of fields, is dropped first.
  https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/ScriptPrefixes/Replace.htm
- ``Merge [only] [(SeqField [, SeqVar])] On keys``: the first field is the operation; per key
  only the newest record (by SeqField, else the later one) is kept, none if it is a Delete.
  https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/ScriptPrefixes/Merge.htm
- ``Sample p``: each source record is read with probability p (0 < p <= 1).
  https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/ScriptPrefixes/Sample.htm
- ``Crosstable (attribute, data [, n])``: the fields after the first n become rows.
  https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/LoadData/work-with-cross-tables.htm
- ``Generic``: the last two fields (attribute, value) become one table per attribute, named
  ``Table.Attribute``, holding the key fields and a field named after the attribute.
  https://help.qlik.com/en-US/cloud-services/Subsystems/Hub/Content/Sense_Hub/Scripting/ScriptPrefixes/Generic.htm
- ``IntervalMatch (match [, keys])``: one row per interval and loaded value of the match field
  (with the same key values) inside it; closed intervals; non-numeric limits match nothing.
  https://help.qlik.com/en-US/cloud-services/Subsystems/Hub/Content/Sense_Hub/Scripting/ScriptPrefixes/IntervalMatch.htm
- ``Hierarchy (NodeID, ParentID, NodeName [, ParentName [, PathSource [, PathName [, PathDelimiter
  [, Depth]]]]])``: the expanded nodes table, one row per node and path from a root, with the
  level fields NodeName1..n and the optional parent name, path and depth fields.
  https://help.qlik.com/en-US/cloud-services/Subsystems/Hub/Content/Sense_Hub/Scripting/ScriptPrefixes/Hierarchy.htm
- ``HierarchyBelongsTo (NodeID, ParentID, NodeName, AncestorID, AncestorName [, DepthDiff])``:
  one row per node and ancestor (the node itself included, DepthDiff 0).
  https://help.qlik.com/en-US/cloud-services/Subsystems/Hub/Content/Sense_Hub/Scripting/ScriptPrefixes/HierarchyBelongsTo.htm
"""
from __future__ import annotations

import random
from dataclasses import dataclass

from emulator.errors import FIELD_NOT_FOUND, ScriptError, UnsupportedSyntax
from emulator.parser import _RELATIONAL_LEVEL, Expr, LoadStatement, Parser
from emulator.program import Interpreter
from emulator.tables import Row, Table, value_key
from emulator.values import Value, number, text, to_number

JOIN_PREFIXES = ("join", "keep", "inner", "outer", "left", "right")
RELOAD_PREFIXES = ("add", "replace", "merge")
RESHAPE_PREFIXES = ("crosstable", "generic", "intervalmatch", "hierarchy", "hierarchybelongsto")
UNSUPPORTED_PREFIXES = ("buffer", "semantic", "bundle", "image_size",
                        "info")
PREFIX_WORDS = ("mapping", "noconcatenate", "concatenate", "first", "sample", *JOIN_PREFIXES,
                *RELOAD_PREFIXES, *RESHAPE_PREFIXES, *UNSUPPORTED_PREFIXES)
Rows = tuple[list[str], list[Row]]


@dataclass(frozen=True)
class JoinPrefix:
    """``[inner|outer|left|right] join|keep [(T)]``."""
    how: str            # inner, outer, left, right
    keep: bool
    table: str | None


@dataclass(frozen=True)
class Reload:
    """``Add``, ``Replace`` or ``Merge`` (with its sequence field/variable and keys)."""
    kind: str
    only: bool
    sequence_field: str | None = None
    sequence_variable: str | None = None
    keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class Reshape:
    """``Crosstable`` (names: attribute, data; count: qualifier fields), ``Generic``,
    ``IntervalMatch`` (names: match field, then key fields), ``Hierarchy`` or
    ``HierarchyBelongsTo`` (names: their arguments, in order)."""
    kind: str
    names: tuple[str, ...] = ()
    count: Expr | None = None


def parse_prefixes(p: Parser) -> dict:
    """Prefixes before LOAD or SQL; unknown ones fail loudly."""
    prefixes = {"mapping": False, "no_concatenate": False, "concatenate": False, "concatenate_to": None,
                "join": None, "first": None, "sample": None, "reload": None, "reshape": None}
    while True:
        if p.accept_word("mapping"):
            prefixes["mapping"] = True
        elif p.accept_word("noconcatenate"):
            prefixes["no_concatenate"] = True
        elif p.accept_word("concatenate"):
            prefixes["concatenate"] = True
            prefixes["concatenate_to"] = _table_in_parentheses(p)
        elif p.tok.is_word(*JOIN_PREFIXES):
            prefixes["join"] = _join_prefix(p)
        elif p.accept_word("first"):
            # First n: at most n records read from the source. .../ScriptPrefixes/First.htm
            prefixes["first"] = p.binary(_RELATIONAL_LEVEL + 1)
        elif p.accept_word("sample"):
            prefixes["sample"] = p.binary(_RELATIONAL_LEVEL + 1)
        elif p.tok.is_word(*RELOAD_PREFIXES):
            prefixes["reload"] = _reload_prefix(p)
        elif p.tok.is_word(*RESHAPE_PREFIXES):
            prefixes["reshape"] = _reshape_prefix(p)
        elif p.tok.is_word(*UNSUPPORTED_PREFIXES):
            raise UnsupportedSyntax(f"Unsupported statement prefix: {p.tok.text}")
        else:
            return prefixes


def _table_in_parentheses(p: Parser) -> str | None:
    if not p.accept_op("("):
        return None
    name = p.name()
    p.expect_op(")")
    return name


def _names_in_parentheses(p: Parser) -> list[str]:
    p.expect_op("(")
    names = [p.name()]
    while p.accept_op(","):
        names.append(p.name())
    p.expect_op(")")
    return names


def _join_prefix(p: Parser) -> JoinPrefix:
    how = p.next().value.lower() if p.tok.is_word("inner", "outer", "left", "right") else None
    keep = p.expect_word("join", "keep").value.lower() == "keep"
    if keep and how in (None, "outer"):
        p.fail("Keep needs inner, left or right before it")
    return JoinPrefix(how or "outer", keep, _table_in_parentheses(p))


def _reload_prefix(p: Parser) -> Reload:
    kind = p.next().value.lower()
    only = p.accept_word("only")
    if kind != "merge":
        return Reload(kind, only)
    sequence = _names_in_parentheses(p) if p.tok.is_op("(") else []
    if len(sequence) > 2:
        p.fail("Merge takes a sequence field and a variable name in its parentheses")
    p.expect_word("on")
    keys = [p.name()]
    while p.accept_op(","):
        keys.append(p.name())
    return Reload(kind, only, *(sequence + [None, None])[:2], keys=tuple(keys))


def _reshape_prefix(p: Parser) -> Reshape:
    kind = p.next().value.lower()
    if kind == "generic":
        return Reshape(kind)
    p.expect_op("(")
    names = [p.name()]
    while p.accept_op(","):
        if kind == "crosstable" and len(names) == 2:
            count = p.expression()
            p.expect_op(")")
            return Reshape(kind, tuple(names), count)
        names.append(p.name())
    p.expect_op(")")
    if kind == "crosstable" and len(names) != 2:
        p.fail("Crosstable needs an attribute field and a data field")
    if kind == "intervalmatch" and len(names) > 6:
        p.fail("IntervalMatch takes a match field and at most five key fields")
    low, high = _HIERARCHY_ARGUMENTS.get(kind, (0, len(names)))
    if not low <= len(names) <= high:
        p.fail(f"{'Hierarchy' if kind == 'hierarchy' else 'HierarchyBelongsTo'} takes {low} to {high} arguments")
    return Reshape(kind, tuple(names))


_HIERARCHY_ARGUMENTS = {"hierarchy": (3, 8), "hierarchybelongsto": (5, 6)}


# ---------------------------------------------------------------- running

def disregarded(stmt: LoadStatement) -> bool:
    """``Add/Replace/Merge only``: run only in partial reloads, never in the emulator's."""
    return stmt.reload is not None and stmt.reload.only


def sampled(runner: Interpreter, stmt: LoadStatement, rows: list[Row]) -> list[Row]:
    if stmt.sample is None:
        return rows
    p = to_number(runner.compile(stmt.sample)(None))
    if p is None or not 0 < p <= 1:
        raise ScriptError("Sample needs a probability larger than 0 and at most 1")
    return [row for row in rows if random.random() < p]


def reshaped(runner: Interpreter, reshape: Reshape | None, fields: list[str], rows: list[Row]) -> Rows:
    """The rows a Crosstable or IntervalMatch prefix makes of the loaded ones."""
    if reshape is None or reshape.kind == "generic":
        return fields, rows
    if reshape.kind == "crosstable":
        return _crosstable(runner, reshape, fields, rows)
    if reshape.kind == "hierarchy":
        return _hierarchy(reshape, fields, rows)
    if reshape.kind == "hierarchybelongsto":
        return _hierarchy_belongs_to(reshape, fields, rows)
    return _interval_match(runner, reshape, fields, rows)


def _crosstable(runner: Interpreter, reshape: Reshape, fields: list[str], rows: list[Row]) -> Rows:
    n = 1.0 if reshape.count is None else to_number(runner.compile(reshape.count)(None))
    if n is None or not n.is_integer() or not 0 <= n < len(fields):
        raise ScriptError(f"Crosstable: the number of qualifier fields must be 0 to {len(fields) - 1}")
    n = int(n)
    attributes = [text(name) for name in fields[n:]]
    out = [row[:n] + [attribute, row[j]] for row in rows for j, attribute in enumerate(attributes, start=n)]
    return fields[:n] + list(reshape.names), out


def _interval_match(runner: Interpreter, reshape: Reshape, fields: list[str], rows: list[Row]) -> Rows:
    match, keys = reshape.names[0], reshape.names[1:]
    if len(fields) != 2 + len(keys):
        raise ScriptError(f"IntervalMatch: the LOAD must give the lower limit, the upper limit and "
                          f"{len(keys)} key field(s), not {len(fields)} fields")
    points = [(to_number(combo[0]), combo) for combo in _loaded_combinations(runner, reshape.names)]
    points = [(n, combo) for n, combo in points if n is not None]
    out = []
    for row in rows:
        low, high = to_number(row[0]), to_number(row[1])
        if low is None or high is None:
            continue  # "Non-numeric limits will cause the interval to be disregarded"
        wanted = [None if v is None else value_key(v) for v in row[2:]]
        out.extend(row + [combo[0]] for n, combo in points
                   if low <= n <= high and [value_key(v) for v in combo[1:]] == wanted)
    return fields + [match], out


def _loaded_combinations(runner: Interpreter, names: tuple[str, ...]) -> list[tuple[Value, ...]]:
    """Distinct combinations of already loaded values of these fields (in tables that hold them
    all), in load order; none may be NULL."""
    if len(names) == 1:
        return [(v,) for v in runner.model.field_values(names[0])]
    seen: dict[tuple, tuple[Value, ...]] = {}
    for table in runner.model.tables.values():
        positions = [table.index(name) for name in names]
        if None in positions:
            continue
        for row in table.rows:
            combo = tuple(row[i] for i in positions)
            if None not in combo:
                seen.setdefault(tuple(value_key(v) for v in combo), combo)
    if not seen:
        raise ScriptError(f"IntervalMatch: no loaded table holds the fields {', '.join(names)}",
                          code=FIELD_NOT_FOUND)
    return list(seen.values())


def generic_tables(name: str, fields: list[str], rows: list[Row]) -> list[tuple[str, list[str], list[Row]]]:
    """Generic: (table name, fields, rows) for each attribute, in the order attributes first
    appear; rows with a NULL attribute are left out (our choice)."""
    if len(fields) < 2:
        raise ScriptError("Generic needs at least an attribute field and a value field")
    keys = fields[:-2]
    tables: dict[str, tuple[str, list[str], list[Row]]] = {}
    for row in rows:
        attribute = row[-2]
        if attribute is None:
            continue
        table = tables.get(attribute.text)
        if table is None:
            table = tables[attribute.text] = (f"{name}.{attribute.text}", keys + [attribute.text], [])
        table[2].append(row[:-2] + [row[-1]])
    return list(tables.values())


_OPERATIONS = {"insert": "insert", "i": "insert", "update": "update", "u": "update",
               "delete": "delete", "d": "delete"}


def merged(runner: Interpreter, reload: Reload, target: Table | None, fields: list[str],
           rows: list[Row]) -> Rows:
    """Merge: the target's rows with the change log ``rows`` (the operation, then ``fields``)
    applied: per key the newest record is kept, none if it is a Delete. Returns the target's
    fields (plus any new ones, as with Concatenate) and the merged rows.

    A change log may lack fields of the target: "Insert: Fields missing in the Merge LOAD but
    present in the target table will get a null value in the target table. Delete: Missing
    fields do not affect the outcome." An Update keeps the record's values of the fields it
    lacks (our reading: it updates the fields it names)."""
    for name in reload.keys + ((reload.sequence_field,) if reload.sequence_field else ()):
        if name not in fields:
            raise ScriptError(f"Merge: field '{name}' not found", code=FIELD_NOT_FOUND)
    old_fields = target.fields if target is not None else []
    layout = old_fields + [f for f in fields if f not in old_fields]
    positions = [fields.index(f) + 1 if f in fields else None for f in layout]
    old_rows = [row + [None] * (len(layout) - len(old_fields)) for row in target.rows] if target else []
    changes = [(_operation(row[0]), [_MISSING if p is None else row[p] for p in positions]) for row in rows]
    lacking = [i for i, p in enumerate(positions) if p is None]
    key_at = [layout.index(k) for k in reload.keys]
    seq_at = layout.index(reload.sequence_field) if reload.sequence_field else None
    current: dict[tuple, tuple[float | None, Row | None]] = {}
    for operation, row in [("insert", row) for row in old_rows] + changes:
        key = tuple(None if row[i] is None else value_key(row[i]) for i in key_at)
        seq = None if seq_at is None else to_number(row[seq_at])
        held = current.get(key)
        if held is None or seq_at is None or (seq is not None and (held[0] is None or seq >= held[0])):
            previous = held[1] if held is not None and operation == "update" else None
            current[key] = (seq, None if operation == "delete" else _completed(row, lacking, previous))
    if reload.sequence_variable and seq_at is not None:
        numbers = [n for n in (to_number(row[seq_at]) for _, row in changes) if n is not None]
        runner.set_variable(reload.sequence_variable, number(max(numbers)) if numbers else None)
    return layout, [row for _, row in current.values() if row is not None]


_MISSING = object()  # a field of the target that the change log lacks


def _completed(row: Row, lacking: list[int], previous: Row | None) -> Row:
    """The change's row with the fields it lacks taken from ``previous`` (NULL without one)."""
    if not lacking or row[lacking[0]] is not _MISSING:
        return row
    for i in lacking:
        row[i] = None if previous is None else previous[i]
    return row


def _operation(v: Value) -> str:
    operation = _OPERATIONS.get("" if v is None else v.text.strip().lower())
    if operation is None:
        raise ScriptError(f"Merge: the first field must be Insert, Update or Delete, not "
                          f"{'NULL' if v is None else repr(v.text)}")
    return operation


# ---------------------------------------------------------------- Hierarchy, HierarchyBelongsTo

def _positions(word: str, fields: list[str], names: tuple[str, ...]) -> list[int]:
    """Where the input fields ``names`` are in ``fields``; a missing one fails."""
    for name in names:
        if name not in fields:
            raise ScriptError(f"{word}: field '{name}' not found in the loaded table", code=FIELD_NOT_FOUND)
    return [fields.index(name) for name in names]


def _node_paths(rows: list[Row], node_at: int, parent_at: int) -> list[list[list[Row]]]:
    """For each input row, its paths from a root: lists of rows, root first, the row last.
    A root is a node whose parent ID is not in the NodeID column (or missing); rows not
    connected to a root (circular references) get no path."""
    by_id: dict[object, list[int]] = {}
    for i, row in enumerate(rows):
        if row[node_at] is not None:
            by_id.setdefault(value_key(row[node_at]), []).append(i)
    paths: dict[int, list[list[Row]]] = {}
    try:
        return [_paths_of(i, rows, parent_at, by_id, paths, set()) for i in range(len(rows))]
    except RecursionError:
        raise ScriptError("Hierarchy: the hierarchy is too deep (some hundreds of levels) for the emulator") from None


def _paths_of(i: int, rows: list[Row], parent_at: int, by_id: dict[object, list[int]],
              paths: dict[int, list[list[Row]]], visiting: set[int]) -> list[list[Row]]:
    """Row i's paths from a root (memoized in ``paths``; rows in ``visiting`` close a circle).
    A plain function, not a closure: a closure calling itself is a reference cycle."""
    if i in paths:
        return paths[i]
    parent = rows[i][parent_at]
    parents = by_id.get(value_key(parent)) if parent is not None else None
    if parents is None:
        found = [[rows[i]]]
    else:
        visiting.add(i)
        found = [path + [rows[i]] for j in parents if j not in visiting
                 for path in _paths_of(j, rows, parent_at, by_id, paths, visiting)]
        visiting.discard(i)
    paths[i] = found
    return found


def _hierarchy(reshape: Reshape, fields: list[str], rows: list[Row]) -> Rows:
    """The expanded nodes table: the input fields, NodeName1..n (n the deepest level), then
    the ParentName, PathName and Depth fields that are named. Rows keep the input order, one
    per path when a node has several parents; a NULL path source is left out of the path
    (our choice)."""
    node_id, parent_id, node_name, *options = reshape.names
    parent_name, path_source, path_name, delimiter, depth = (options + [None] * 5)[:5]
    node_at, parent_at, name_at = _positions("Hierarchy", fields, (node_id, parent_id, node_name))
    source_at = _positions("Hierarchy", fields, (path_source or node_name,))[0]
    expanded = [(row, path) for row, paths in zip(rows, _node_paths(rows, node_at, parent_at)) for path in paths]
    levels = max((len(path) for _, path in expanded), default=0)
    out = []
    for row, path in expanded:
        names = [node[name_at] for node in path]
        extra = names + [None] * (levels - len(path))
        if parent_name:
            extra.append(names[-2] if len(names) > 1 else None)
        if path_name:
            parts = [node[source_at].text for node in path if node[source_at] is not None]
            extra.append(text((delimiter if delimiter is not None else "/").join(parts)))
        if depth:
            extra.append(number(len(path)))
        out.append(row + extra)
    new = [f"{node_name}{level}" for level in range(1, levels + 1)]
    new += [name for name in (parent_name, path_name, depth) if name]
    return fields + new, out


def _hierarchy_belongs_to(reshape: Reshape, fields: list[str], rows: list[Row]) -> Rows:
    """One row per node and ancestor (itself first, DepthDiff 0, then up to the root). The
    input fields keep their place, the AncestorID field taking ParentID's (so the page's
    example, where both are named AncestorID, gives its field order), then AncestorName and
    DepthDiff (our choice where the page is silent)."""
    node_id, parent_id, node_name, ancestor_id, ancestor_name, *depth_diff = reshape.names
    node_at, parent_at, name_at = _positions("HierarchyBelongsTo", fields, (node_id, parent_id, node_name))
    out_fields = [ancestor_id if i == parent_at else f for i, f in enumerate(fields)]
    out_fields += [ancestor_name, *depth_diff]
    out = []
    for row, paths in zip(rows, _node_paths(rows, node_at, parent_at)):
        for path in paths:
            for diff, ancestor in enumerate(reversed(path)):
                new = row[:parent_at] + [ancestor[node_at]] + row[parent_at + 1:] + [ancestor[name_at]]
                out.append(new + [number(diff)] * len(depth_diff))
    return out_fields, out
