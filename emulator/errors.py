"""The one error type of the emulator.

A failing statement raises :class:`ScriptError`; the runner fills in ``file``, ``line`` and
``statement`` when the raiser did not know them. ``code`` follows the ScriptError codes of
https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/ErrorVariables/ScriptError.htm
(1 general error, 2 syntax error, 8 file not found, 10 table not found, 11 field not found...).
"""
from __future__ import annotations

GENERAL_ERROR = 1
SYNTAX_ERROR = 2
FILE_NOT_FOUND = 8
DATABASE_NOT_FOUND = 9
TABLE_NOT_FOUND = 10
FIELD_NOT_FOUND = 11
WRONG_FILE_FORMAT = 12
SEMANTIC_ERROR = 16

# The text ScriptError shows for each code (the ScriptError page's table).
SCRIPT_ERROR_TEXTS = {0: "", 1: "General error", 2: "Syntax error", 3: "General ODBC error",
                      4: "General OLE DB error", 5: "General custom database error",
                      6: "General XML error", 7: "General HTML error", 8: "File not found",
                      9: "Database not found", 10: "Table not found", 11: "Field not found",
                      12: "File has wrong format", 16: "Semantic error"}


class ScriptError(Exception):
    code: int = GENERAL_ERROR

    def __init__(self, message: str, file: str | None = None, line: int | None = None,
                 statement: str | None = None, code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.statement = statement
        if code is not None:
            self.code = code

    def located(self, file: str | None, line: int | None, statement: str | None) -> "ScriptError":
        """Fill in the location fields that are still missing; return self."""
        self.file = self.file or file
        self.line = self.line or line
        self.statement = self.statement or statement
        return self

    def __str__(self) -> str:
        where = ""
        if self.file or self.line:
            where = f"{self.file or '<script>'}:{self.line or '?'}: "
        text = f"{where}{self.message}"
        if self.statement:
            text += f"\n    {self.statement.strip()}"
        return text


class UnsupportedSyntax(ScriptError):
    """Script syntax the emulator does not implement. It always stops the run, whatever
    ErrorMode says, so that nothing is ever skipped silently."""

    code = SYNTAX_ERROR


class InternalError(ScriptError):
    """A fault of the emulator itself (a Python exception while a statement ran): reported with
    file, line and statement like any failure, and like UnsupportedSyntax it always stops the
    run, so that a bug is never taken for the script's own error."""

    @classmethod
    def of(cls, e: Exception) -> "InternalError":
        return cls(f"emulator fault, please report it: {type(e).__name__}: {e}")

