"""Excel files: ``LOAD * FROM [Sales.xlsx] (ooxml, embedded labels, table is Sheet1)``, read by
openpyxl (https://openpyxl.readthedocs.io, MIT, pure Python).

"Excel 2007 and later versions use the ooxml .xslx format. The Table is specifier can be used
to define the sheet name to be loaded as a table."
https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/ScriptSpecifiers/table-format.htm
``header is n lines`` skips n rows before the labels or data; "header is line" is one line
(.../ScriptSpecifiers/header-is.htm). ``embedded labels``/``no labels`` as for text files; the
items are read by file_format.read_format (a ``delimiter is`` item means nothing here). Our choices where the pages are silent (emulator/README.md, Issue 14l):
an .xlsx name with no format item is ooxml (the page assumes txt);
without ``table is`` the first sheet; an empty cell is NULL; rows with no value are skipped;
a date cell is a date (DateFormat text) when it has no time of day, else a timestamp; a
time cell is a time (TimeFormat); TRUE/FALSE are -1/0; text stays text; an empty label
cell is named @n (its column number, as with ``no labels``).
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path

from emulator.errors import FILE_NOT_FOUND, WRONG_FILE_FORMAT, ScriptError
from emulator.functions import Settings, format_serial, serial_from_datetime
from emulator.file_format import read_format
from emulator.tokens import Token
from emulator.values import Dual, Value, boolean, number, text

Rows = tuple[list[str], list[list[Value]]]


def is_excel(written: str, spec: list[list[Token]]) -> bool:
    """``ooxml`` among the format items, or an .xlsx file whose items name no other format."""
    items = [[t.value.lower() for t in item] for item in spec]
    if ["ooxml"] in items:
        return True
    return Path(written).suffix.lower() in (".xlsx", ".xlsm") and not (["txt"] in items or ["qvd"] in items)


def read_xlsx(path: Path, spec: list[list[Token]], variables: Mapping[str, Value]) -> Rows:
    fmt = read_format(spec)
    import openpyxl  # here: only scripts that load Excel files pay for the import
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except FileNotFoundError as e:
        raise ScriptError(f"Cannot open file '{path}': no such file", code=FILE_NOT_FOUND) from e
    except Exception as e:  # the library's errors for a file that is not a workbook
        raise ScriptError(f"'{path}' is not a readable Excel (ooxml) file: {e}", code=WRONG_FILE_FORMAT) from e
    try:
        sheet = _sheet(book, fmt.sheet, path)
        cell = _cell_reader(Settings(variables))
        records = [[cell(v) for v in row] for row in list(sheet.iter_rows(values_only=True))[fmt.header_lines:]]
    finally:
        book.close()
    records = [r for r in records if any(v is not None for v in r)]
    return _table(records, fmt.labels)


def _sheet(book, name: str | None, path: Path):
    if name is None:
        return book.worksheets[0]
    if name not in book.sheetnames:
        raise ScriptError(f"No sheet '{name}' in '{path}' (sheets: {', '.join(book.sheetnames)})",
                          code=WRONG_FILE_FORMAT)
    return book[name]


def _cell_reader(settings: Settings):
    def cell(v: object) -> Value:
        if v is None or v == "":
            return None
        if isinstance(v, bool):
            return boolean(v)
        if isinstance(v, (int, float)):
            return number(v)
        if isinstance(v, dt.datetime):
            serial = serial_from_datetime(v)
            fmt = settings.date_format if serial.is_integer() else settings.timestamp_format
            return Dual(format_serial(serial, fmt), serial)
        if isinstance(v, dt.date):
            serial = serial_from_datetime(dt.datetime.combine(v, dt.time()))
            return Dual(format_serial(serial, settings.date_format), serial)
        if isinstance(v, dt.time):
            serial = (v.hour * 3600 + v.minute * 60 + v.second + v.microsecond / 1e6) / 86400
            return Dual(format_serial(serial, settings.time_format), serial)
        if isinstance(v, dt.timedelta):
            return number(v.total_seconds() / 86400)
        return text(str(v))
    return cell


def _table(records: list[list[Value]], labels: bool) -> Rows:
    if not records:
        return [], []
    width = max(len(r) for r in records)
    if labels:
        header, records = records[0], records[1:]
        fields = [_label(v, i) for i, v in enumerate(header, 1)]
    else:
        fields = [f"@{i}" for i in range(1, width + 1)]
    return fields, [r[:len(fields)] + [None] * (len(fields) - len(r)) for r in records]


def _label(v: Value, column: int) -> str:
    return f"@{column}" if v is None else v.text
