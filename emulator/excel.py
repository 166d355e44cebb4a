"""Excel files: ``LOAD * FROM [Sales.xlsx] (ooxml, embedded labels, table is Sheet1)``, read by
openpyxl (https://openpyxl.readthedocs.io, MIT, pure Python), and ``(biff, …)`` .xls files, read
by xlrd (https://xlrd.readthedocs.io, BSD, pure Python), their cells converted alike.

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

from emulator.errors import FILE_NOT_FOUND, WRONG_FILE_FORMAT, ScriptError, UnsupportedSyntax
from emulator.functions import Settings, format_serial, serial_from_datetime
from emulator.file_format import read_format
from emulator.tokens import Token
from emulator.values import Dual, Value, boolean, number, text

Rows = tuple[list[str], list[list[Value]]]


def read_excel(path: Path, spec: list[list[Token]], variables: Mapping[str, Value], biff: bool) -> Rows:
    """An Excel file's sheet as a table: biff read by xlrd, ooxml by openpyxl; both give their
    cells as Python values."""
    fmt = read_format(spec)
    if (fmt.quoting, fmt.comment, fmt.no_eof) != ("standard", "", False):
        raise UnsupportedSyntax("no quotes, msq, comment is and no eof are items of text files, "
                                "not of Excel files")
    if not path.is_file():
        raise ScriptError(f"Cannot open file '{path}': no such file", code=FILE_NOT_FOUND)
    rows = (_biff_rows if biff else _ooxml_rows)(path, fmt.sheet)
    cell = _cell_reader(Settings(variables))
    records = [[cell(v) for v in row] for row in rows[fmt.header_lines:]]
    return _table([r for r in records if any(v is not None for v in r)], fmt.labels)


def _ooxml_rows(path: Path, sheet_name: str | None) -> list[tuple]:
    import openpyxl  # here: only scripts that load Excel files pay for the import
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as e:  # the library's errors for a file that is not a workbook
        raise ScriptError(f"'{path}' is not a readable Excel (ooxml) file: {e}", code=WRONG_FILE_FORMAT) from e
    try:
        return list(book[_sheet_name(book.sheetnames, sheet_name, path)].iter_rows(values_only=True))
    finally:
        book.close()


def _biff_rows(path: Path, sheet_name: str | None) -> list[list]:
    import xlrd  # https://xlrd.readthedocs.io: reads the .xls (BIFF) format only
    try:
        book = xlrd.open_workbook(path)
    except Exception as e:  # the library's errors for a file that is not an .xls workbook
        raise ScriptError(f"'{path}' is not a readable Excel (biff) file: {e}", code=WRONG_FILE_FORMAT) from e
    try:
        sheet = book.sheet_by_name(_sheet_name(book.sheet_names(), sheet_name, path))
        return [[_biff_value(c, book.datemode) for c in sheet.row(i)] for i in range(sheet.nrows)]
    finally:
        book.release_resources()


def _biff_value(c, datemode: int) -> object:
    """An xlrd cell as the Python value openpyxl gives for the same cell."""
    import xlrd
    if c.ctype in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK):
        return None
    if c.ctype == xlrd.XL_CELL_BOOLEAN:
        return bool(c.value)
    if c.ctype == xlrd.XL_CELL_ERROR:
        return xlrd.error_text_from_code.get(c.value, "#N/A")
    if c.ctype == xlrd.XL_CELL_DATE:
        moment = xlrd.xldate_as_datetime(c.value, datemode)
        return moment.time() if 0 <= c.value < 1 else moment
    return c.value


def _sheet_name(names: list[str], name: str | None, path: Path) -> str:
    if name is None:
        return names[0]
    if name not in names:
        raise ScriptError(f"No sheet '{name}' in '{path}' (sheets: {', '.join(names)})", code=WRONG_FILE_FORMAT)
    return name


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
