"""Table statements: ``[Label:] [prefixes] LOAD ...`` and ``[Label:] SQL ...``.

- Sources: ``Inline [...]``, ``From file.csv`` (delimited text files only, read like inline
  data, paths placed as includes are), ``Resident T``, ``AutoGenerate n``, the next statement (a LOAD
  with no source is a preceding load: it reads what the LOAD or SQL below it produces,
  https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/LoadData/work-with-preceding-load.htm),
  and ``SQL SELECT`` through the REST connector (rest_connector.py).
- In a LOAD, a bare name is a field of the source; a name the source lacks fails with
  "Field not found", as in Sense. Variables are used through $(...).
- A field written as an expression without ``as`` is named by the expression's text.
- ``Qualify``: a loaded field matching a Qualify pattern is named ``Table.Field``
  (https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/ScriptRegularStatements/Qualify.htm).
- Tables without a label are named INLINE, AUTOGENERATE, after the file or the resident table, or
  RestConnectorMasterTable (SQL); a name in use gets -1, -2... (our choice; Sense's default
  names are not documented).
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import product
from operator import itemgetter
from pathlib import Path

from emulator import field_rules, rest_connector
from emulator.errors import FIELD_NOT_FOUND, FILE_NOT_FOUND, SEMANTIC_ERROR, SYNTAX_ERROR, ScriptError, UnsupportedSyntax
from emulator.aggregations import AGGREGATIONS, without_repeats
from emulator.evaluator import Getter, compile_expr, has_aggregation
from emulator.inline import read_table
from emulator.excel import read_excel
from emulator.file_format import file_kind
from emulator.files import read_qvd
from emulator.paths import TableFile
from emulator.parser import Call, FieldSpec, LoadStatement, Parser, Ref, parse_load
from emulator.prefixes import PREFIX_WORDS, disregarded, generic_tables, merged, parse_prefixes, reshaped, sampled
from emulator.program import Interpreter, LoadContext, Loading
from emulator.tables import LoadedValues, Row, building_rows, join_rows, keep_rows, value_key
from emulator.tokens import NAME, STRING, WORD
from emulator.values import Value, is_true, sharing, shown_with, text, to_number

TABLE_STATEMENT_WORDS = frozenset({"load", "sql", *PREFIX_WORDS})
DEFAULT_NAMES = {"inline": "INLINE", "autogenerate": "AUTOGENERATE", "sql": "RestConnectorMasterTable"}

Action = Callable[[Interpreter], None]
Rows = tuple[list[str], list[Row]]


def prepare_table_statement(p: Parser, interp: Interpreter) -> Action:
    label = None
    if p.tok.kind in (WORD, NAME, STRING) and p.peek().is_op(":"):
        label = p.next().value
        p.next()
    prefixes = parse_prefixes(p)
    if p.tok.is_word("sql"):
        action = _sql_action(p.source[p.tok.pos:], label, prefixes)
    elif not p.tok.is_word("load"):
        p.fail("expected LOAD or SQL")
    else:
        stmt = parse_load(p, label, prefixes)
        if stmt.source == "preceding":
            def action(r: Interpreter) -> None:
                r.pending_loads.append(stmt)
        else:
            def action(r: Interpreter) -> None:
                _run_load(r, stmt)
    action.table_statement = True
    return action


# ---------------------------------------------------------------- running a LOAD

def _run_load(runner: Interpreter, stmt: LoadStatement) -> None:
    if disregarded((runner.pending_loads or [stmt])[0]):
        runner.pending_loads = []
        return
    file = _table_file(runner, stmt) if stmt.source == "file" else None
    with _reading(runner, file), building_rows():  # the source's records die in the pause too
        fields, rows = _first(runner, stmt, *_source_rows(runner, stmt, file))
        if stmt.order_by:
            rows = _ordered(fields, rows, stmt.order_by)
        _finish(runner, stmt, _default_name(stmt), fields, rows, transform_own=True)


@contextmanager
def _reading(runner: Interpreter, file: TableFile | None) -> Iterator[None]:
    """FileName(), FilePath(), FileSize()... without a name see the file this LOAD reads, in
    every level of it (also the preceding loads above it)."""
    previous, runner.table_file = runner.table_file, file
    try:
        yield
    finally:
        runner.table_file = previous


def _default_name(stmt: LoadStatement) -> str:
    if stmt.source == "file":
        return Path(stmt.data).stem
    return DEFAULT_NAMES.get(stmt.source, stmt.resident)


def _sql_action(statement: str, label: str | None, prefixes: dict) -> Action:
    stmt = LoadStatement(label=label, fields=[], source="sql", **prefixes)

    def run(r: Interpreter) -> None:
        if disregarded((r.pending_loads or [stmt])[0]):
            r.pending_loads = []
            return
        if r.connection is None:
            raise ScriptError("SQL statement without a LIB CONNECT TO before it")
        fields, rows = rest_connector.run_sql_select(statement, r.connection, r.requests)
        fields, rows = _first(r, stmt, list(fields), _null_display(r, rows))
        _finish(r, stmt, DEFAULT_NAMES["sql"], fields, rows, transform_own=False)
    return run


def _null_display(runner: Interpreter, rows: list) -> list[Row]:
    """NullDisplay "will substitute all NULL values from ODBC, and connectors, on the lowest
    level of data" (before any preceding load sees them); an empty NullDisplay changes nothing
    (our choice, as for NullInterpret).
    https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/ValueHandlingVariables/NullDisplay.htm"""
    shown = runner.variables.get("NullDisplay")
    if shown is None or shown.text == "":
        return [list(row) for row in rows]
    symbol = text(shown.text)
    return [[symbol if v is None else v for v in row] for row in rows]


def _finish(runner: Interpreter, stmt: LoadStatement, default_name: str, fields: list[str],
            rows: list[Row], transform_own: bool) -> None:
    """Run the statement's own field list and the pending preceding loads above it (innermost
    first), then store the result under the topmost statement's label and prefixes."""
    pending, runner.pending_loads = runner.pending_loads, []
    for level in pending:
        if level.first is not None or level.sample is not None:
            word = "First" if level.first is not None else "Sample"
            raise UnsupportedSyntax(f"{word} on a preceding load (put it on the LOAD that reads the source)")
    chain = pending + [stmt] if transform_own else pending
    top = chain[0] if chain else stmt
    if any(level.reload or level.reshape for level in chain[1:]):
        raise UnsupportedSyntax("Add, Replace, Merge, Crosstable, Generic, IntervalMatch, Hierarchy or "
                                "HierarchyBelongsTo below a preceding load (put it on the topmost LOAD)")
    name = top.label or default_name
    with building_rows():
        for level in reversed(chain):
            fields, rows = transform(runner, level, fields, rows, name if level is top else None)
        store(runner, top, name, *reshaped(runner, top.reshape, fields, rows))


def _first(runner: Interpreter, stmt: LoadStatement, fields: list[str], rows: list[Row]) -> Rows:
    """``Sample p``, then ``First n``: only the first n records of the source are read."""
    rows = sampled(runner, stmt, rows)
    if stmt.first is None:
        return fields, rows
    n = to_number(runner.compile(stmt.first)(None))
    if n is None or n < 0:
        raise ScriptError("First needs a non-negative number of records")
    return fields, rows[:int(n)]


def _source_rows(runner: Interpreter, stmt: LoadStatement, file: TableFile | None) -> Rows:
    if stmt.source == "inline":
        return read_table(stmt.data, stmt.format_spec, runner.variables)
    if file is not None:
        return _read_file(runner, stmt, file.found)
    if stmt.source == "resident":
        table = runner.model.get(stmt.resident)
        return list(table.fields), table.rows
    count = to_number(runner.compile(stmt.count)(None))
    if count is None or count < 0:
        raise ScriptError("AutoGenerate needs a non-negative number")
    return [], [()] * int(count)  # one empty record, shared: no field to read, nothing changes it


def _table_file(runner: Interpreter, stmt: LoadStatement) -> TableFile:
    """The file ``From`` names, placed as includes are (paths.local_path): a QVD file (format
    ``(qvd)`` or a .qvd name), an Excel file (``(ooxml)``, ``(biff)``, an .xlsx or .xls name) or a delimited text file."""
    written = stmt.data
    if file_kind(written, stmt.format_spec) == "txt" and \
            Path(written).suffix.lower() not in (".csv", ".txt", ".tab", ".tsv", ""):
        raise UnsupportedSyntax(f"Only delimited text, Excel (ooxml, biff) and QVD files can be loaded, not {written}")
    path = runner.find_file(written)
    if path is None:
        raise ScriptError(f"Cannot open file '{written}'", code=FILE_NOT_FOUND)
    return TableFile(written, path)


def _read_file(runner: Interpreter, stmt: LoadStatement, path: Path) -> Rows:
    kind = file_kind(stmt.data, stmt.format_spec)
    if kind == "qvd":
        return read_qvd(path)
    if kind in ("biff", "ooxml"):
        return read_excel(path, stmt.format_spec, runner.variables, biff=kind == "biff")
    return read_table(path.read_text(encoding="utf-8-sig"), stmt.format_spec, runner.variables)


class LoadScope:
    """Names inside a LOAD: fields of the source record; in Where, also the LOAD's own output
    fields the source lacks (``outputs``), as ``LOAD C as A ... Where A<>5`` in the example on
    https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/CounterFunctions/RowNo.htm

    While the field list is compiled, ``splits`` collects SubField calls without a field number:
    "one full record will be generated for each substring" (the Cartesian product of all of them).
    https://help.qlik.com/en-US/cloud-services/Subsystems/Hub/Content/Sense_Hub/Scripting/StringFunctions/SubField.htm"""

    def __init__(self, runner: Interpreter, fields: list[str]) -> None:
        self.runner = runner
        self.positions = {name: i for i, name in enumerate(fields)}
        self.outputs: dict[str, object] = {}
        self._resolving: set[str] = set()
        self.splits: list[tuple[Getter, Getter]] | None = None
        self._parts: tuple[Value, ...] = ()

    def ref(self, name: str) -> Getter:
        i = self.positions.get(name)
        if i is not None:
            return itemgetter(i)
        expr = self.outputs.get(name)
        if expr is None or name in self._resolving:
            raise ScriptError(f"Field '{name}' not found", code=FIELD_NOT_FOUND)
        self._resolving.add(name)
        try:
            return compile_expr(expr, self)
        finally:
            self._resolving.discard(name)

    def call(self, name: str, args: list[Getter]) -> Getter:
        if self.splits is not None and name.lower() == "subfield" and len(args) == 2:
            k = len(self.splits)
            self.splits.append((args[0], args[1]))
            return lambda row: self._parts[k]
        if name.lower() == "previous" and len(args) == 1:
            return self._previous(args[0])
        return self.runner.scope.call(name, args)

    def _previous(self, expression: Getter) -> Getter:
        """Previous(expr): expr on "the previous input record that has not been discarded because
        of a where clause"; NULL for the first (.../InterRecordFunctions/Previous.htm)."""
        runner = self.runner

        def previous(row: Row) -> Value:
            before = runner.load.previous
            return None if before is None else expression(before)
        return previous

    def split_rows(self, make_row: Callable[[Row], Row]) -> Callable[[Row], list[Row]]:
        """The output rows of one source record: one per combination of the substrings."""
        splits = self.splits

        def rows(row: Row) -> list[Row]:
            out = []
            for parts in product(*(_substrings(s(row), d(row)) for s, d in splits)):
                self._parts = parts
                out.append(make_row(row))
            return out
        return rows

    def exists(self, field: str, value: Getter | None) -> Getter:
        """Without a value: the current record's value of that field."""
        return self.runner.scope.exists(field, value if value is not None else self.ref(field))


class GroupScope:
    """Names in the field list of a LOAD that aggregates: the record is a group (the list of
    source records sharing the Group By values). "No other fields than the aggregation fields
    may be used outside aggregation functions in the loaded expressions."
    https://help.qlik.com/en-US/cloud-services/Subsystems/Hub/Content/Sense_Hub/Scripting/ScriptRegularStatements/load.htm"""

    def __init__(self, records: LoadScope, group_by: list[str], rows: list[Row]) -> None:
        self.records = records
        self.grouped = set(group_by)
        self.rows = rows
        self._rec_nos: dict[int, int] | None = None

    def ref(self, name: str) -> Getter:
        self.records.ref(name)  # fails for a field the source lacks
        i = self.records.positions[name]
        if name not in self.grouped:
            raise ScriptError(f"Invalid expression: '{name}' is neither a Group By field nor "
                              f"inside an aggregation function")
        return lambda group: group[0][i]

    def call(self, name: str, args: list[Getter]) -> Getter:
        return self.records.call(name, args)

    def exists(self, field: str, value: Getter | None) -> Getter:
        return self.records.runner.scope.exists(field, value if value is not None else self.ref(field))

    def aggregate(self, call: Call) -> Getter:
        spec = AGGREGATIONS[call.name.lower()]
        if not spec.min_args <= len(call.args) <= spec.max_args:
            raise ScriptError(f"Wrong number of arguments to {spec.name}: {len(call.args)}",
                              code=SYNTAX_ERROR)
        noting = _CallsNoted(self.records)
        getters = [compile_expr(a, noting) for a in call.args]
        impl, distinct = spec.impl, call.distinct
        columns_of = self._numbered_columns if "recno" in noting.names else _columns

        def apply(group: list[Row]) -> Value:
            columns = columns_of(group, getters)
            return impl(without_repeats(columns) if distinct else columns)
        return apply

    def _numbered_columns(self, group: list[Row], getters: list[Getter]) -> list[list[Value]]:
        """RecNo() inside an aggregation is the record's number in the source, as in the
        common ``Concat(F, ',', RecNo())`` that keeps the records' order (Qvc.CreateWildMapExpression)."""
        if self._rec_nos is None:
            self._rec_nos = {id(row): n for n, row in enumerate(self.rows, start=1)}
        context = self.records.runner.load
        columns: list[list[Value]] = [[] for _ in getters]
        for row in group:
            context.rec_no = self._rec_nos[id(row)]
            for column, g in zip(columns, getters):
                column.append(g(row))
        context.rec_no = None
        return columns


def _columns(group: list[Row], getters: list[Getter]) -> list[list[Value]]:
    return [[g(row) for row in group] for g in getters]


class _CallsNoted:
    """A scope that notes the functions an expression calls while it is compiled."""

    def __init__(self, scope: LoadScope) -> None:
        self.scope = scope
        self.names: set[str] = set()

    def call(self, name: str, args: list[Getter]) -> Getter:
        self.names.add(name.lower())
        return self.scope.call(name, args)

    def __getattr__(self, attr: str):
        return getattr(self.scope, attr)


def _substrings(v: Value, delimiter: Value) -> list[Value]:
    """SubField(s, d) in a LOAD: a NULL or d-less s gives one row with s itself (our choice)."""
    if v is None or delimiter is None or not delimiter.text:
        return [v]
    return [text(part) for part in v.text.split(delimiter.text)]


def _grouped(runner: Interpreter, stmt: LoadStatement, fields: list[str], rows: list[Row]) -> Rows:
    """LOAD ... [Where] Group By: the records kept by Where, grouped by the Group By fields'
    values (in the order groups first appear; without Group By, all records are one group),
    each group making one row."""
    if stmt.while_ is not None:
        raise UnsupportedSyntax("While together with aggregation functions")
    records = LoadScope(runner, fields)
    group_by = stmt.group_by or []
    keys = [compile_expr(item, records) for item in group_by]  # fails for a field the source lacks
    grouped = [item.name for item in group_by if isinstance(item, Ref)]
    where = compile_expr(stmt.where, records) if stmt.where is not None else None
    kept = rows if where is None else [row for row in rows if is_true(where(row))]
    groups: dict[object, list[Row]] = {}
    for key, row in zip(map(_group_key(keys), kept), kept):
        group = groups.get(key)
        if group is None:
            groups[key] = [row]
        else:
            group.append(row)
    names, make_row = _output_columns(stmt, fields, GroupScope(records, grouped, rows), copy=False)
    out: list[Row] = []
    with Loading(runner, LoadContext(names, out, LoadedValues(runner.model, names, out))):
        out.extend(make_row(group) for group in groups.values())
    return names, _distinct(out) if stmt.distinct else out


def _group_key(keys: list[Getter]) -> Callable[[Row], object]:
    """The key of a record's group: its Group By values, distinct as field values are. An item
    of Group By that is an expression (Qvc.SegmentedStore's ``GROUP BY 1``) is evaluated for
    each record, so a constant puts all records in one group (our choice, see README)."""
    def one(v: Value) -> object:
        return None if v is None else value_key(v)
    if len(keys) == 1:
        key = keys[0]
        return lambda row: one(key(row))
    return lambda row: tuple(one(key(row)) for key in keys)


def _sort_key(v: Value) -> tuple:
    """Order By: NULL first, then numbers by value, then texts (our choice)."""
    if v is None:
        return (0, 0.0, "")
    n = to_number(v)
    return (1, n, "") if n is not None else (2, 0.0, v.text)


def _ordered(fields: list[str], rows: list[Row], order_by: list[tuple[str, bool]]) -> list[Row]:
    rows = list(rows)
    for name, descending in reversed(order_by):
        if name not in fields:
            raise ScriptError(f"Order By: field '{name}' not found", code=FIELD_NOT_FOUND)
        i = fields.index(name)
        rows.sort(key=lambda row: _sort_key(row[i]), reverse=descending)
    return rows


def _output_columns(stmt: LoadStatement, fields: list[str], scope: LoadScope | GroupScope,
                    copy: bool = True, share: bool = False) -> tuple[list[str], Callable[[Row], Row]]:
    """The output field names, and a function making an output row from a source row (a group
    of them for a GroupScope). ``copy``: plain fields may be copied from the record. ``share``:
    the computed fields' equal values are one object each (values.sharing)."""
    names: list[str] = []
    getters: list[Getter] = []
    copied: list[int | None] = []  # source position of a field copied as it is
    for spec in stmt.fields:
        specs = [FieldSpec(Ref(f)) for f in fields] if spec.expr is None else [spec]
        for s in specs:
            names.append(s.alias or (s.expr.name if isinstance(s.expr, Ref) else s.source))
            getter = compile_expr(s.expr, scope)  # first: it fails for a field the source lacks
            copied.append(fields.index(s.expr.name) if copy and isinstance(s.expr, Ref) else None)
            getters.append(sharing(getter) if share and copied[-1] is None else getter)
    if None in copied or not copied:
        return names, lambda row: [g(row) for g in getters]
    if copied == list(range(len(fields))):
        return names, list  # every field in its place (LOAD * ...)
    if len(copied) == 1:
        return names, lambda row: [row[copied[0]]]
    pick = itemgetter(*copied)  # a LOAD of plain fields (Resident ... Where): copied in C
    return names, lambda row: list(pick(row))


def transform(runner: Interpreter, stmt: LoadStatement, fields: list[str], rows: list[Row],
              stored_as: str | None = None) -> Rows:
    """The rows a LOAD's field list, Where/While and Distinct make of its input. For the LOAD
    whose result is stored (``stored_as``), RowNo() counts on from the rows of the table it
    will be concatenated to, as in the RecNo/RowNo example on
    https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/CounterFunctions/RowNo.htm"""
    if stmt.group_by is not None or any(has_aggregation(s.expr) for s in stmt.fields):
        return _grouped(runner, stmt, fields, rows)
    scope = LoadScope(runner, fields)
    scope.splits = []
    names, make_row = _output_columns(stmt, fields, scope, share=stored_as is not None)
    out: list[Row] = []
    add = out.append
    if scope.splits:
        make_row, add = scope.split_rows(make_row), out.extend
    scope.splits = None  # in Where and While, SubField is the function itself
    scope.outputs = {s.alias: s.expr for s in stmt.fields if s.alias and s.expr is not None}
    offset = _rows_before(runner, stmt, stored_as, names) if stored_as is not None else 0
    # "If you use RowNo( ) in subsequent LOAD statements [of a preceding load], 0 is returned"
    counting = 1 if stored_as is not None else 0
    where = compile_expr(stmt.where, scope) if stmt.where is not None else None
    while_ = compile_expr(stmt.while_, scope) if stmt.while_ is not None else None
    copies = where is None and while_ is None and all(s.expr is None or isinstance(s.expr, Ref) for s in stmt.fields)
    with Loading(runner, LoadContext(names, out, LoadedValues(runner.model, names, out))) as context:
        if copies:  # nothing looks at a counter, the record before or the rows made so far: copied in C
            out.extend(map(make_row, rows))
        else:
            for rec_no, row in enumerate(rows, start=1):
                context.rec_no = rec_no
                context.row_no = (offset + len(out) + 1) * counting
                if while_ is None:
                    if where is None or is_true(where(row)):
                        add(make_row(row))
                        context.previous = row
                    continue
                _repeat_while(context, row, make_row, while_, where, out, add, offset * counting, counting)
                context.previous = row  # with While: the record read before (our choice)
    if stmt.distinct:
        out = _distinct(out)
    return names, out


def _repeat_while(context: LoadContext, row: Row, make_row: Callable[[Row], Row], while_: Getter,
                  where: Getter | None, out: list[Row], add: Callable, offset: int, counting: int) -> None:
    """``While``: the record is read again as long as the condition holds (IterNo() counts)."""
    context.iter_no = 1
    while is_true(while_(row)):
        context.row_no = (offset + len(out) + 1) * counting
        if where is None or is_true(where(row)):
            add(make_row(row))
        context.iter_no += 1
        if context.iter_no > 10_000_000:
            raise ScriptError("While clause never became false")


def _distinct(rows: list[Row]) -> list[Row]:
    seen: set = set()
    unique = []
    for row in rows:
        key = tuple(None if v is None else value_key(v) for v in row)
        if key not in seen:
            seen.add(key)
            unique.append(row)
    return unique


def _stored_fields(runner: Interpreter, name: str, fields: list[str]) -> list[str]:
    return [f"{name}.{f}" if runner.qualified.is_on(f) else f for f in fields]


def _rows_before(runner: Interpreter, stmt: LoadStatement, name: str, fields: list[str]) -> int:
    if stmt.mapping or stmt.join:
        return 0
    target = runner.model.target(_stored_fields(runner, name, fields), concatenate=stmt.concatenate,
                                 concatenate_to=stmt.concatenate_to,
                                 no_concatenate=stmt.no_concatenate)
    return 0 if target is None else len(target.rows)


def store(runner: Interpreter, stmt: LoadStatement, name: str, fields: list[str], rows: list[Row]) -> None:
    if len(set(fields)) != len(fields):
        duplicate = next(f for f in fields if fields.count(f) > 1)
        raise ScriptError(f"Field names must be unique within table: '{duplicate}'", code=SEMANTIC_ERROR)
    rows = _shown_with_decimal_sep(runner, _nulls_as_value(runner, fields, rows))
    if stmt.mapping:
        _store_mapping(runner, name, fields, rows)
        return
    fields, rows = field_rules.applied(runner, fields, rows)  # Alias, Map ... Using (issue 14k)
    if stmt.reshape is not None and stmt.reshape.kind == "generic":
        if stmt.join or stmt.concatenate:
            raise UnsupportedSyntax("Generic together with Join, Keep or Concatenate")
        for table_name, table_fields, table_rows in generic_tables(name, fields, rows):
            runner.model.store(table_name, _stored_fields(runner, table_name, table_fields), table_rows,
                               concatenate=False, concatenate_to=None, no_concatenate=True)
        return
    if stmt.join:
        _join(runner, stmt, name, fields, rows)
        return
    if stmt.reload is not None and stmt.reload.kind != "add":
        _replace_or_merge(runner, stmt, name, fields, rows)
        return
    runner.model.store(name, _stored_fields(runner, name, fields), rows, concatenate=stmt.concatenate,
                       concatenate_to=stmt.concatenate_to, no_concatenate=stmt.no_concatenate)


def _shown_with_decimal_sep(runner: Interpreter, rows: list[Row]) -> list[Row]:
    """Numbers the LOAD computed (no text of their own) are shown with the DecimalSep in force:
    "The ThousandSep and DecimalSep variables set the default number format pattern when
    visualizing numeric content in front end charts and tables" (grouping is not added, as for
    variables: our choice). Texts read from the data keep theirs.
    https://help.qlik.com/en-US/cloud-services/Subsystems/Hub/Content/Sense_Hub/Scripting/NumberInterpretationVariables/DecimalSep.htm"""
    decimal = runner.variables.get("DecimalSep")
    separator = decimal.text if decimal is not None else "."
    if separator in ("", "."):
        return rows
    return [[shown_with(v, separator) for v in row] for row in rows]


def _nulls_as_value(runner: Interpreter, fields: list[str], rows: list[Row]) -> list[Row]:
    """NULLs of the fields NullAsValue names become the text of NullValue (empty text when it
    is not set: our choice) in what the LOAD stores. NullValue: "If the NullAsValue statement
    is used, the defined symbol will substitute all NULL values in the NullAsValue specified
    fields with the specified string."
    https://help.qlik.com/en-US/cloud-services/Subsystems/Hub/Content/Sense_Hub/Scripting/ValueHandlingVariables/NullValue.htm"""
    positions = [i for i, f in enumerate(fields) if runner.null_as_value.is_on(f)]
    if not positions:
        return rows
    value = runner.variables.get("NullValue")
    symbol = text(value.text if value is not None else "")
    return [_replace_nulls(row, positions, symbol) for row in rows]


def _replace_nulls(row: Row, positions: list[int], symbol: Value) -> Row:
    if all(row[i] is not None for i in positions):
        return row
    row = list(row)
    for i in positions:
        if row[i] is None:
            row[i] = symbol
    return row


def _replace_or_merge(runner: Interpreter, stmt: LoadStatement, name: str, fields: list[str],
                      rows: list[Row]) -> None:
    """Replace: the table this LOAD would go into is dropped first (a Replace LOAD without a label
    takes its name: our choice). Merge: the change log is merged into that table, which keeps
    its name."""
    merge = stmt.reload.kind == "merge"
    if merge and not fields:
        raise ScriptError("Merge: the LOAD needs the operation as its first field")
    stored = _stored_fields(runner, name, fields[1:] if merge else fields)
    model = runner.model
    target = model.target(stored, concatenate=stmt.concatenate, concatenate_to=stmt.concatenate_to,
                          no_concatenate=stmt.no_concatenate)
    if merge:
        stored, rows = merged(runner, stmt.reload, target, stored, rows)
    if target is not None:
        model.drop_table(target.name)
        name = target.name if merge else stmt.label or target.name
    model.store(name, stored, rows, concatenate=False, concatenate_to=None, no_concatenate=True)


def _join(runner: Interpreter, stmt: LoadStatement, name: str, fields: list[str], rows: list[Row]) -> None:
    """Join: the loaded rows are joined into the named (or last loaded) table. Keep: the loaded
    table is stored on its own, and both tables keep only the rows the join would keep.
    https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/ScriptPrefixes/Join.htm
    https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/ScriptPrefixes/Keep.htm"""
    model = runner.model
    prefix = stmt.join
    target = model.get(prefix.table) if prefix.table else model.last_table()
    if not prefix.keep:
        joined_fields, joined_rows = join_rows(target.fields, target.rows, fields, rows, prefix.how)
        target.fields, target.rows = joined_fields, joined_rows
        model.last_loaded = target.name
        return
    kept_target, kept_loaded = keep_rows(target.fields, target.rows, fields, rows, prefix.how)
    target.rows = kept_target
    model.store(name, _stored_fields(runner, name, fields), kept_loaded, concatenate=False,
                concatenate_to=None, no_concatenate=True)


def _store_mapping(runner: Interpreter, name: str, fields: list[str], rows: list[Row]) -> None:
    if len(fields) != 2:
        raise ScriptError(f"A mapping table needs exactly two fields, '{name}' has {len(fields)}",
                          code=SYNTAX_ERROR)
    table: dict[str, Value] = {}
    for key, value in rows:
        if key is not None:
            table.setdefault(key.text, value)
    runner.model.mappings[name] = table
