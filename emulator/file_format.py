"""The format specification of a table file or inline table: ``(txt, delimiter is ';', no labels,
header is 2 lines)``, ``(ooxml, embedded labels, table is Sheet1)``, ``(qvd)``, read once here
for every reader (inline and text in inline.py, Excel in excel.py, Store's txt).
https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/ScriptSpecifiers/table-format.htm
https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/ScriptSpecifiers/delimiter.htm
https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/ScriptSpecifiers/header-is.htm
https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/ScriptSpecifiers/quotes.htm
https://help.qlik.com/en-US/cloud-services/Subsystems/Hub/Content/Sense_Hub/Scripting/ScriptSpecifiers/format-specification-items.htm
(comment is), .../ScriptSpecifiers/no-eof.htm, .../ScriptSpecifiers/labels.htm
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from emulator.errors import UnsupportedSyntax
from emulator.tokens import STRING, Token

_IGNORED = {"txt", "ooxml", "biff", "qvd", "ansi", "utf8", "unicode", "oem", "mac", "embedded labels"}
# Quotes page: standard quoting accepts "..." and '...'; msq (modern style) double quotes only,
# which may hold line ends; no quotes: quotation marks are ordinary characters.
_QUOTING = {"no quotes": "none", "msq": "msq"}
_NAMED_DELIMITERS = {"\\t": "\t", "tab": "\t", "spaces": " "}


@dataclass(frozen=True)
class FileFormat:
    delimiter: str = ","
    labels: bool = True  # embedded labels, the default; False for ``no labels``
    sheet: str | None = None  # ``table is``: an Excel file's sheet
    header_lines: int = 0  # ``header is n lines``: lines skipped before the labels
    quoting: str = "standard"  # "standard", "none" (``no quotes``) or "msq"
    comment: str = ""  # ``comment is``: lines starting with it are skipped
    no_eof: bool = False  # ``no eof``: code point 26 is data, not the end of the file

    @property
    def quotes(self) -> str:
        """The characters that may enclose a value."""
        return {"standard": "\"'", "msq": '"', "none": ""}[self.quoting]


def read_format(items: list[list[Token]]) -> FileFormat:
    """The format items in one FileFormat; an item no reader knows is refused, naming it."""
    found: dict[str, object] = {}
    for item in items:
        words = " ".join(t.value.lower() for t in item if t.kind != STRING)
        if words == "delimiter is" and item[-1].kind == STRING:
            raw = item[-1].value
            found["delimiter"] = _NAMED_DELIMITERS.get(raw.lower(), raw)
        elif words == "delimiter is spaces":
            found["delimiter"] = " "
        elif words.startswith("delimiter is ") and len(item) == 3:
            found["delimiter"] = item[-1].text  # unquoted, as the age page writes (delimiter is |)
        elif words == "no labels":
            found["labels"] = False
        elif words == "explicit labels":
            raise UnsupportedSyntax("Unsupported file format option: explicit labels (it names the "
                                    "label section of a DIF file; use embedded labels or no labels)")
        elif words in _QUOTING:
            found["quoting"] = _QUOTING[words]
        elif words == "comment is" and len(item) == 3 and item[2].kind == STRING and item[2].value:
            found["comment"] = item[2].value
        elif words == "no eof":
            found["no_eof"] = True
        elif words.startswith("table is ") and len(item) == 3:
            found["sheet"] = item[2].value
        elif words == "header is line":
            found["header_lines"] = 1
        elif len(item) == 4 and words.startswith("header is ") and words.endswith(" lines") \
                and item[2].value.isdigit():
            found["header_lines"] = int(item[2].value)
        elif words not in _IGNORED and not words.startswith("codepage is"):
            raise UnsupportedSyntax(f"Unsupported file format option: {' '.join(t.text for t in item)}")
    return FileFormat(**found)


_EXCEL_SUFFIXES = {".xlsx": "ooxml", ".xlsm": "ooxml", ".xls": "biff"}


def file_kind(written: str, items: list[list[Token]]) -> str:
    """Which reader a table file needs: "qvd" (``(qvd)`` first, or a .qvd name without items),
    "biff" or "ooxml" (that item, or an .xls/.xlsx name whose items name no other format: our
    choice, the Table format page assumes txt) or "txt"."""
    words = [[t.value.lower() for t in item] for item in items]
    suffix = Path(written).suffix.lower()
    if words[:1] == [["qvd"]] or (not words and suffix == ".qvd"):
        return "qvd"
    for kind in ("biff", "ooxml"):
        if [kind] in words:
            return kind
    if suffix in _EXCEL_SUFFIXES and ["txt"] not in words and ["qvd"] not in words:
        return _EXCEL_SUFFIXES[suffix]
    return "txt"
