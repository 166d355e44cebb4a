"""Table files: QVD, and delimited text. No hand-written QVD code here: QVD files are read by
qvd-parser (https://github.com/nicolasstefaniuk/qvd-parser, MIT, Rust, every symbol type kept;
a third of the CPU time of PyQvd's reader on 1,000,000 rows) and written by PyQvd
(https://github.com/MuellerConstantin/PyQvd, MIT), the one library on PyPI that writes dual symbols with their own text (qvdrs and openqvd
write only from Arrow columns, so a dual's text would be lost).

Values keep their dual form both ways: a QVD dual symbol (a date, a 'Jan'/1 month) becomes a
value with that text and number, and a value with both a text and a number is stored as a
dual symbol. NULL stays NULL.
https://help.qlik.com/en-US/cloud-services/Subsystems/Hub/Content/Sense_Hub/Scripting/work-with-QVD-files.htm
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from operator import itemgetter
from pathlib import Path

from pyqvd import DoubleValue, DualDoubleValue, DualIntegerValue, IntegerValue, QvdTable, QvdValue, StringValue
from pyqvd.io import QvdFileWriter, QvdFileWriterOptions
from qvd_parser import QvdFile

from emulator.errors import FILE_NOT_FOUND, WRONG_FILE_FORMAT, ScriptError
from emulator.tables import Row, building_rows
from emulator.values import Dual, NumberValue, Value, text

QvdCell = int | float | str | tuple[int | float, str] | None


def read_qvd(path: Path) -> tuple[list[str], list[tuple[Value, ...]]]:
    if not path.is_file():
        raise ScriptError(f"Cannot open file '{path}': no such file", code=FILE_NOT_FOUND)
    try:
        qvd = QvdFile.open(str(path))
    except Exception as e:  # the library's own errors (OSError, ValueError) for a damaged file
        raise ScriptError(f"'{path}' is not a readable QVD file: {e}", code=WRONG_FILE_FORMAT) from e
    cells = list(zip(*qvd.rows()))  # one tuple per field; the library's row lists are freed here
    columns = []
    while cells:  # each field's raw cells are freed once converted: a lower peak of memory
        columns.append(_column(cells.pop(0)))
    return qvd.field_names(), list(zip(*columns))  # records only read (the LOAD makes its rows)


def _column(values: tuple[QvdCell, ...]) -> list[Value]:
    """A field's values converted once per distinct symbol (a field has few symbols, many rows),
    so that rows with one symbol share one value."""
    converted = dict.fromkeys(values)
    for v in converted:
        converted[v] = _from_qvd(v)
    return list(map(converted.__getitem__, values))


def _from_qvd(v: QvdCell) -> Value:
    """qvd-parser gives int, float, str, (number, text) for a dual symbol, or None for NULL."""
    kind = type(v)
    if kind is int or kind is float:
        return NumberValue(float(v))
    if kind is tuple:
        return Dual(v[1], float(v[0]))
    return None if v is None else text(v)


def write_qvd(path: Path, fields: list[str], rows: list[Row], positions: list[int], table_name: str) -> None:
    """Store ... (qvd): the values at ``positions`` of ``rows`` (a table's own rows, not copied)
    as the fields ``fields``; the header names the table (what QvdTableName reads)."""
    with building_rows():
        _writing(path, lambda: _write_pyqvd(path, _pyqvd_table(fields, rows, positions), table_name))


class _Writer(QvdFileWriter):
    """PyQvd's writer; a table without rows (Qvc.EmptyQvd: "Empties a QVD of all data but
    maintains the field structure") gets an empty index table, as its own step for it takes
    the largest of no symbol indices and fails."""

    def _build_index_table(self) -> None:
        if self._table._data:
            return super()._build_index_table()
        for header in self._header.fields:
            header.bit_offset = header.bit_width = header.bias = 0
        self._index_table_buffer = b""
        self._header.record_byte_size = self._header.length = 0
        self._header.offset = len(self._symbol_table_buffer)


def _write_pyqvd(path: Path, table: QvdTable, table_name: str) -> None:
    writer = _Writer(str(path), table, QvdFileWriterOptions(table_name=table_name))
    writer.write()
    # Its table of serializers (its own bound methods) refers back to it: emptied, the writer and
    # its 1,000,000-row index table are freed now, not left for the collector to walk and free.
    vars(writer).clear()


def _pyqvd_table(fields: list[str], rows: list[Row], positions: list[int]) -> QvdTable:
    columns = [_qvd_column(list(map(itemgetter(i), rows))) for i in positions]
    return QvdTable(_RecordView(columns), list(fields))


class _RecordView(Sequence):
    """PyQvd's records, made from the columns as its writer reads them (it takes the length and
    iterates, twice) instead of a list of 1,000,000 lists held for the whole write."""

    def __init__(self, columns: list[list[QvdValue | None]]) -> None:
        self._columns = columns

    def __len__(self) -> int:
        return len(self._columns[0]) if self._columns else 0

    def __getitem__(self, i: int) -> tuple[QvdValue | None, ...]:
        return tuple(column[i] for column in self._columns)

    def __iter__(self) -> Iterator[tuple[QvdValue | None, ...]]:
        return zip(*self._columns)


def _qvd_column(values: list[Value]) -> list[QvdValue | None]:
    """A field's values as PyQvd symbols, one symbol object per distinct value. Values are
    distinct as field values are (by number when they have one, else by text), which is also
    how PyQvd tells symbols apart (its first value of a number is the one written), so the
    first value of each is converted; the rest is done by C-level maps."""
    keys = [None if v is None else v.text if v.num is None else v.num for v in values]
    firsts = dict(zip(reversed(keys), reversed(values)))  # the earliest value of a key wins
    symbols = {key: _to_qvd(v) for key, v in firsts.items()}
    return list(map(symbols.__getitem__, keys))


def _to_qvd(v: Value) -> QvdValue | None:
    if v is None:
        return None
    if v.num is None:
        return StringValue(v.text)
    whole = v.num.is_integer() and -2**31 <= v.num < 2**31
    if type(v) is NumberValue:  # a plain number: its text is the number's own
        return IntegerValue(int(v.num)) if whole else DoubleValue(v.num)
    return DualIntegerValue(int(v.num), v.text) if whole else DualDoubleValue(v.num, v.text)


def write_text(path: Path, fields: list[str], rows: list[Row], positions: list[int], delimiter: str = ",") -> None:
    """Store ... (txt): as write_qvd, the field names on the first line, then the values as shown, UTF-8;
    values holding the delimiter, a quote or a line break are quoted (our choice, the csv
    module's minimal quoting)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(fields)
    writer.writerows([["" if row[i] is None else row[i].text for i in positions] for row in rows])
    _writing(path, lambda: path.write_text(out.getvalue(), encoding="utf-8"))


def _writing(path: Path, write) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write()
    except OSError as e:
        raise ScriptError(f"Cannot write file '{path}': {e}", code=FILE_NOT_FOUND) from e
