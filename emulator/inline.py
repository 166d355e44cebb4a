"""Inline tables: ``Load * Inline [ ... ] (delimiter is ';', embedded labels)``.

The data is read as a delimited text file (txt format): one record a line, the first line
the field names unless ``no labels`` (then the fields are @1, @2, ...). Standard quoting: a
value may be enclosed in "..." or '...' when the quotes are its first and last non-blank
characters (``no quotes``: never; ``msq``: "..." only, and it may hold line ends); blanks
around unquoted values are dropped; empty lines and ``comment is`` lines are skipped.
https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/inline-loads-qs.htm
https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/ScriptSpecifiers/quotes.htm
https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/ScriptSpecifiers/delimiter.htm
"""
from __future__ import annotations

from collections.abc import Callable, Mapping

from emulator.errors import UnsupportedSyntax
from emulator.file_format import FileFormat, read_format
from emulator.tokens import Token
from emulator.functions import data_formats, money_formats, money_text_reader, read_date_text
from emulator.values import Dual, Value, from_text, parse_number, read_grouped_number

def read_table(data: str, spec: list[list[Token]],
               variables: Mapping[str, Value]) -> tuple[list[str], list[list[Value]]]:
    """An inline table or a delimited text file as the script reads it: its format spec, and
    the script's NullInterpret, DecimalSep and ThousandSep."""
    fmt = read_format(spec)
    if fmt.sheet is not None:
        raise UnsupportedSyntax("'table is' names a sheet of an Excel file, not of a text table")
    if not fmt.no_eof:
        data = data.split("\x1a", 1)[0]  # No eof page: code point 26 otherwise ends the file
    lines = data.splitlines()[fmt.header_lines:]
    return parse_inline("\n".join(lines), fmt, read=value_reader(variables))


def value_reader(variables: Mapping[str, Value]) -> Callable[[str], Value]:
    """How a text file or inline value becomes a script value: a number, else a date, timestamp
    or time in the script's formats (functions.data_formats), else a text.

    NullInterpret: "The defined symbol will be interpreted as NULL when it occurs in a text
    file, CSV file, or an inline statement"; an empty one changes nothing ("SET NULLINTERPRET=;"
    resets it: .../QV_QlikView/Scripting/create-null-values-from-text-files.htm).
    https://help.qlik.com/en-us/cloud-services/Subsystems/Hub/Content/Sense_Hub/Scripting/ValueHandlingVariables/NullInterpret.htm
    DecimalSep/ThousandSep, when the script sets them, are how numbers in the data are written
    (.../Scripting/NumberInterpretationVariables/DecimalSep.htm). A text carrying MoneyFormat's
    currency symbol reads as money (functions.money_text_reader)."""
    def setting(name: str) -> str | None:
        value = variables.get(name)
        return None if value is None else value.text

    null = setting("NullInterpret") or None
    dec, thou = setting("DecimalSep"), setting("ThousandSep")
    formats = data_formats(setting)
    read_money = money_text_reader(money_formats(setting))

    def read(s: str) -> Value:
        if s == null:
            return None
        n = parse_number(s) if dec is None and thou is None else read_grouped_number(s, dec or ".", thou or "")
        if n is None:
            n = read_money(s)
        return Dual(s, read_date_text(s, formats) if n is None else n)
    return read


def parse_inline(data: str, fmt: FileFormat = FileFormat(),
                 read: Callable[[str], Value] = from_text) -> tuple[list[str], list[list[Value]]]:
    """The fields and rows of delimited text read with fmt's delimiter, labels, quoting and
    comment prefix."""
    lines = data.splitlines()
    if fmt.quoting == "msq":
        lines = _msq_records(lines)
    records = [split_record(line, fmt.delimiter, fmt.quotes) for line in lines
               if line.strip() and not (fmt.comment and line.startswith(fmt.comment))]
    if not records:
        return [], []
    width = max(len(r) for r in records)
    if fmt.labels:
        header, records = records[0], records[1:]
        fields = [name for name, _ in header]
    else:
        fields = [f"@{i}" for i in range(1, width + 1)]
    rows = [[read(record[i][0]) if i < len(record) else None for i in range(len(fields))]
            for record in records]
    return fields, rows


def _msq_records(lines: list[str]) -> list[str]:
    """Lines joined into records where a double-quoted value holds line ends (Quotes page, msq).
    Our choice: a record is open while it holds an odd number of double quotes."""
    records: list[str] = []
    open_record: str | None = None
    for line in lines:
        record = line if open_record is None else open_record + "\n" + line
        if record.count('"') % 2:
            open_record = record
        else:
            records.append(record)
            open_record = None
    if open_record is not None:
        records.append(open_record)
    return records


def split_record(line: str, delimiter: str, quotes: str = "\"'") -> list[tuple[str, bool]]:
    """The values of one line, each with whether it was quoted by one of quotes."""
    values: list[tuple[str, bool]] = []
    pos = 0
    while True:
        value, quoted, pos = _read_value(line, pos, delimiter, quotes)
        values.append((value, quoted))
        if pos >= len(line):
            return values
        pos += len(delimiter)


def _read_value(line: str, pos: int, delimiter: str, quotes: str) -> tuple[str, bool, int]:
    start = pos
    while start < len(line) and line[start] in " \t" and line[start] != delimiter:
        start += 1
    if start < len(line) and line[start] in quotes:
        quote = line[start]
        end, chunks = start + 1, []
        while True:
            close = line.find(quote, end)
            if close < 0:
                break  # unbalanced: read as a plain value
            chunks.append(line[end:close])
            if line.startswith(quote, close + 1):
                chunks.append(quote)
                end = close + 2
                continue
            after = close + 1
            while after < len(line) and line[after] in " \t" and line[after] != delimiter:
                after += 1
            if after >= len(line) or line.startswith(delimiter, after):
                return "".join(chunks), True, after
            break  # text after the closing quote: not a quoted value
    end = line.find(delimiter, pos)
    end = len(line) if end < 0 else end
    return line[pos:end].strip(" \t"), False, end
