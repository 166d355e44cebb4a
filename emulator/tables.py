"""The data model: tables of rows, mapping tables, and the rules for storing a loaded table.

- Automatic concatenation: a loaded table whose set of field names equals an existing table's
  is appended to it; ``NoConcatenate`` prevents that, ``Concatenate [(T)]`` forces it (missing
  fields become NULL).
  https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/concatenate-tables.htm
- A name already in use gets ``-1``, ``-2``... appended (our reading of how Sense names the
  second table with a label already used).
- Mapping tables live apart from the model (first column -> second column) and never appear
  in the dump. https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/ScriptPrefixes/Mapping.htm
"""
from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from emulator.errors import FIELD_NOT_FOUND, TABLE_NOT_FOUND, ScriptError
from emulator.values import FieldTexts, Value

Row = list[Value]


@contextmanager
def building_rows() -> Iterator[None]:
    """Pause CPython's cyclic garbage collector while many rows are made, copied or converted.
    Rows and values form no reference cycles (they are freed by reference counting), but every
    new list and value counts toward the next collection, and each full collection walks every
    row alive: on a 1,000,000-row QVD round trip that was half of the time. What the pause leaves
    alive is walked by the next collections as usual (``gc.freeze`` would spare that, but it also
    freezes every dead-to-be cycle alive then, a finished Runner's among them, for good). What it
    leaves dead should be freed by reference counting (see files._write_pyqvd). Nested uses are
    fine."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@dataclass
class Table:
    name: str
    fields: list[str]
    rows: list[Row] = field(default_factory=list)

    def index(self, field_name: str) -> int | None:
        try:
            return self.fields.index(field_name)
        except ValueError:
            return None

    def texts(self) -> list[list[str | None]]:
        """The rows as the texts Qlik shows (None for NULL)."""
        return [[None if v is None else v.text for v in row] for row in self.rows]

    def append(self, fields: list[str], rows: list[Row]) -> None:
        """Append rows laid out as ``fields``; fields new to this table are added."""
        for name in fields:
            if name not in self.fields:
                self.fields.append(name)
                for row in self.rows:
                    row.append(None)
        if fields == self.fields:
            self.rows.extend(rows)
            return
        positions = [fields.index(f) if f in fields else None for f in self.fields]
        self.rows.extend([[None if p is None else row[p] for p in positions] for row in rows])


def value_key(v: Value) -> object:
    """Field values are distinct by number when they have one, else by text."""
    return v.text if v.num is None else v.num


class DataModel:
    def __init__(self) -> None:
        self.tables: dict[str, Table] = {}
        self.mappings: dict[str, dict[str, Value]] = {}
        self.last_loaded: str | None = None
        self.field_texts = FieldTexts()

    def get(self, name: str) -> Table:
        table = self.tables.get(name)
        if table is None:
            raise ScriptError(f"Table '{name}' not found", code=TABLE_NOT_FOUND)
        return table

    def unique_name(self, wanted: str) -> str:
        if wanted not in self.tables:
            return wanted
        n = 1
        while f"{wanted}-{n}" in self.tables:
            n += 1
        return f"{wanted}-{n}"

    def target(self, fields: list[str], *, concatenate: bool, concatenate_to: str | None,
               no_concatenate: bool) -> Table | None:
        """The existing table a load with these fields goes into (None: a new table)."""
        if concatenate:
            return self.get(concatenate_to) if concatenate_to else self.last_table()
        if no_concatenate:
            return None
        return self._same_fields(fields)

    def store(self, name: str, fields: list[str], rows: list[Row], **how: object) -> Table:
        """Store a loaded table by the concatenation rules; returns the table that holds it."""
        target = self.target(fields, **how)
        if target is None:
            target = Table(self.unique_name(name), list(fields))
            self.tables[target.name] = target
        self.field_texts.share(fields, rows)
        target.append(fields, rows)
        self.last_loaded = target.name
        return target

    def last_table(self) -> Table:
        if self.last_loaded is None or self.last_loaded not in self.tables:
            raise ScriptError("Concatenate: no table loaded before", code=TABLE_NOT_FOUND)
        return self.tables[self.last_loaded]

    def _same_fields(self, fields: list[str]) -> Table | None:
        wanted = set(fields)
        return next((t for t in self.tables.values() if set(t.fields) == wanted), None)

    def drop_table(self, name: str) -> None:
        if name in self.tables:
            del self.tables[name]
        elif name in self.mappings:
            del self.mappings[name]
        else:
            raise ScriptError(f"Table '{name}' not found", code=TABLE_NOT_FOUND)
        if self.last_loaded == name:
            self.last_loaded = None

    def drop_field(self, name: str, tables: list[str] | None = None) -> None:
        holders = [self.get(t) for t in tables] if tables else list(self.tables.values())
        found = False
        for table in holders:
            i = table.index(name)
            if i is None:
                continue
            found = True
            del table.fields[i]
            for row in table.rows:
                del row[i]
            if not table.fields:
                del self.tables[table.name]
        if not found:
            raise ScriptError(f"Field '{name}' not found", code=FIELD_NOT_FOUND)

    def rename_table(self, old: str, new: str) -> None:
        table = self.get(old)
        if new in self.tables:
            raise ScriptError(f"Rename Table: '{new}' already exists")
        self.tables = {(new if k == old else k): v for k, v in self.tables.items()}
        table.name = new
        if self.last_loaded == old:
            self.last_loaded = new

    def rename_field(self, old: str, new: str) -> None:
        holders = [t for t in self.tables.values() if old in t.fields]
        if not holders:
            raise ScriptError(f"Field '{old}' not found", code=FIELD_NOT_FOUND)
        for table in holders:
            table.fields[table.fields.index(old)] = new

    def field_values(self, name: str) -> list[Value]:
        """Distinct non-NULL values of a field over all tables, in load order."""
        seen: dict[object, Value] = {}
        for table in self.tables.values():
            i = table.index(name)
            if i is None:
                continue
            for row in table.rows:
                v = row[i]
                if v is not None:
                    seen.setdefault(value_key(v), v)
        return list(seen.values())


class LoadedValues:
    """What Exists() looks in: the values of a field in the model's tables plus those in the
    rows the LOAD in progress has produced so far (``names``/``rows``), so that
    ``Where Not Exists(F)`` keeps only the first row with each value.
    https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/InterRecordFunctions/Exists.htm"""

    def __init__(self, model: DataModel, names: list[str] | None = None,
                 rows: list[Row] | None = None) -> None:
        self.model, self.names, self.rows = model, names or [], rows if rows is not None else []
        self._known: dict[str, set] = {}
        self._scanned: dict[str, int] = {}

    def contains(self, field_name: str, value: Value) -> bool:
        if value is None:
            return False
        known = self._known.get(field_name)
        if known is None:
            known = self._known[field_name] = {value_key(v) for v in self.model.field_values(field_name)}
        if field_name in self.names:
            i = self.names.index(field_name)
            start = self._scanned.get(field_name, 0)
            known.update(value_key(row[i]) for row in self.rows[start:] if row[i] is not None)
            self._scanned[field_name] = len(self.rows)
        return value_key(value) in known


# ---------------------------------------------------------------- joins
# A natural join on the fields both tables have; rows whose key has a NULL match nothing.

def _keys(fields: list[str], rows: list[Row], common: list[str]) -> list[tuple | None]:
    positions = [fields.index(f) for f in common]
    keys = []
    for row in rows:
        values = [row[p] for p in positions]
        keys.append(None if None in values else tuple(value_key(v) for v in values))
    return keys


def join_rows(left_fields: list[str], left_rows: list[Row], right_fields: list[str],
              right_rows: list[Row], how: str) -> tuple[list[str], list[Row]]:
    """``how``: inner, outer, left or right. Without common fields every pair is joined."""
    common = [f for f in left_fields if f in right_fields]
    extra = [i for i, f in enumerate(right_fields) if f not in left_fields]
    fields = left_fields + [right_fields[i] for i in extra]
    left_keys, right_keys = _keys(left_fields, left_rows, common), _keys(right_fields, right_rows, common)
    by_key: dict = {}
    for i, key in enumerate(right_keys):
        if key is not None:
            by_key.setdefault(key, []).append(i)
    matched_right: set[int] = set()
    rows: list[Row] = []
    for row, key in zip(left_rows, left_keys):
        partners = by_key.get(key, []) if key is not None else []
        matched_right.update(partners)
        rows.extend(row + [right_rows[j][i] for i in extra] for j in partners)
        if not partners and how in ("outer", "left"):
            rows.append(row + [None] * len(extra))
    if how in ("outer", "right"):
        positions = [right_fields.index(f) if f in right_fields else None for f in fields]
        rows.extend([None if p is None else right_rows[j][p] for p in positions]
                    for j in range(len(right_rows)) if j not in matched_right)
    return fields, rows


def keep_rows(left_fields: list[str], left_rows: list[Row], right_fields: list[str],
              right_rows: list[Row], how: str) -> tuple[list[Row], list[Row]]:
    """The rows of each table that an inner, left or right join would keep."""
    common = [f for f in left_fields if f in right_fields]
    left_keys, right_keys = _keys(left_fields, left_rows, common), _keys(right_fields, right_rows, common)
    in_left, in_right = set(left_keys) - {None}, set(right_keys) - {None}
    if how in ("inner", "right"):
        left_rows = [r for r, k in zip(left_rows, left_keys) if k in in_right]
    if how in ("inner", "left"):
        right_rows = [r for r, k in zip(right_rows, right_keys) if k in in_left]
    return left_rows, right_rows
