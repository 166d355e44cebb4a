"""Excel files: ``LOAD * FROM [Sales.xlsx] (ooxml, embedded labels, table is Sheet1)``, read by
openpyxl (https://openpyxl.readthedocs.io, MIT, pure Python).

"Excel 2007 and later versions use the ooxml .xslx format. The Table is specifier can be used
to define the sheet name to be loaded as a table."
https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/ScriptSpecifiers/table-format.htm
``header is n lines`` skips n rows before the labels or data; "header is line" is one line
(.../ScriptSpecifiers/header-is.htm). ``embedded labels``/``no labels`` as for text files
(same default, embedded, as inline.read_options). Our choices where the pages are silent (emulator/README.md, Issue 14l):
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

from emulator.errors import FILE_NOT_FOUND, WRONG_FILE_FORMAT, ScriptError, UnsupportedSyntax
from emulator.functions import Settings, format_serial, serial_from_datetime
from emulator.tokens import STRING, Token
from emulator.values import Dual, Value, boolean, number, text

Rows = tuple[list[str], list[list[Value]]]


def is_excel(written: str, spec: list[list[Token]]) -> bool:
    """``ooxml`` among the format items, or an .xlsx file whose items name no other format."""
    items = [[t.value.lower() for t in item] for item in spec]
    if ["ooxml"] in items:
        return True
    return Path(written).suffix.lower() in (".xlsx", ".xlsm") and not (["txt"] in items or ["qvd"] in items)


def read_xlsx(path: Path, spec: list[list[Token]], variables: Mapping[str, Value]) -> Rows:
    sheet_name, labels, header = _options(spec)
    import openpyxl  # here: only scripts that load Excel files pay for the import
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except FileNotFoundError as e:
        raise ScriptError(f"Cannot open file '{path}': no such file", code=FILE_NOT_FOUND) from e
    except Exception as e:  # the library's errors for a file that is not a workbook
        raise ScriptError(f"'{path}' is not a readable Excel (ooxml) file: {e}", code=WRONG_FILE_FORMAT) from e
    try:
        sheet = _sheet(book, sheet_name, path)
        cell = _cell_reader(Settings(variables))
        records = [[cell(v) for v in row] for row in list(sheet.iter_rows(values_only=True))[header:]]
    finally:
        book.close()
    records = [r for r in records if any(v is not None for v in r)]
    return _table(records, labels)


def _options(spec: list[list[Token]]) -> tuple[str | None, bool, int]:
    """(sheet name or None, labels embedded, header lines) from the format specification."""
    sheet, labels, header = None, True, 0
    for item in spec:
        words = [t.value.lower() for t in item]
        if words in (["ooxml"], ["embedded", "labels"]):
            continue
        if words == ["no", "labels"]:
            labels = False
        elif words[:2] == ["table", "is"] and len(item) == 3:
            sheet = item[2].value
        elif words == ["header", "is", "line"]:
            header = 1
        elif words[:2] == ["header", "is"] and len(item) == 4 and words[3] == "lines" \
                and item[2].kind != STRING and item[2].value.isdigit():
            header = int(item[2].value)
        else:
            raise UnsupportedSyntax(f"Unsupported Excel format option: {' '.join(t.text for t in item)}")
    return sheet, labels, header


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
