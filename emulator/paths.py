"""Where the emulator looks for files a script names (includes, FileList, LOAD ... From, Store).

Sense reads files through folder data connections (``lib://Connection/path``). The emulator maps
a connection to a folder when told so (``--lib NAME=DIR``, ``Runner(libs={NAME: DIR})``);
otherwise it looks in the app's folder (the main script's), where relative names start too:
"the filename will be relative to the Qlik Sense app working directory" (Include page).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from emulator.errors import FILE_NOT_FOUND, ScriptError

LIB = "lib://"


@dataclass(frozen=True)
class TableFile:
    """The file a LOAD reads, as the script wrote it and where it was found: what FilePath(),
    FileDir(), FileName(), FileBaseName() and FileExtension() return. A ``lib://`` path is
    shown as written ("Load *, FilePath( ) as X from [lib://DataFiles/Region.txt] - Will return
    'lib://DataFiles/Region.txt'"), another the full local path (legacy mode's
    ``C:\\UserFiles\\abc.txt``).
    https://help.qlik.com/en-US/cloud-services/Subsystems/Hub/Content/Sense_Hub/Scripting/FileFunctions/FilePath.htm"""
    written: str
    found: Path

    @property
    def path(self) -> str:
        return self.written if self.written.lower().startswith(LIB) else str(self.found.resolve())

    @property
    def folder(self) -> str:
        return self.path[:self._last_separator()]

    @property
    def name(self) -> str:
        return self.path[self._last_separator() + 1:]

    def _last_separator(self) -> int:
        return max(self.path.rfind("/"), self.path.rfind("\\"))


def local_path(written: str, document: str, libs: dict[str, str] | None = None,
               directory: str = "") -> list[Path]:
    """Where a path written in a script is looked for, best first: ``lib://Name/rest`` in the
    folder mapped to Name; unmapped, as ``Name/rest`` then ``rest`` in the folder of the main
    script (``document``); relative paths against that folder, or inside the ``directory`` a
    Directory statement set ("defines which directory to look in for data files in subsequent
    LOAD statements", https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/ScriptRegularStatements/Directory.htm),
    itself placed by these rules."""
    base = Path(document).parent
    written = written.replace("\\", "/")  # Windows separators, as Sense scripts write them
    if directory and not _is_absolute(written):
        written = directory.replace("\\", "/").rstrip("/") + "/" + written
    if written.lower().startswith(LIB):
        rest = written[len(LIB):]
        name, _, inner = rest.partition("/")
        folder = _mapped(libs or {}, name)
        if folder is not None:
            return [Path(folder) / inner]
        return [base / rest, base / inner]
    path = Path(written)
    return [path if path.is_absolute() else base / path]


def _is_absolute(written: str) -> bool:
    return written.lower().startswith(LIB) or Path(written).is_absolute()


def _mapped(libs: dict[str, str], name: str) -> str | None:
    """Connection names compared case-insensitively."""
    return next((folder for key, folder in libs.items() if key.lower() == name.lower()), None)


def existing_file(candidates: list[Path]) -> Path | None:
    """The first candidate that is a file; when none is by its exact name, the one file whose
    path matches a candidate's ignoring letter case, as names are found on Windows where Sense
    runs (our choice). Two files matching one name fail: which one Sense would read is unknown."""
    found = next((p for p in candidates if p.is_file()), None)
    if found is not None:
        return found
    return next((p for p in map(_ignoring_case, candidates) if p is not None), None)


def _ignoring_case(path: Path) -> Path | None:
    existing, missing = path, []
    while not existing.exists():
        if existing.parent == existing:
            return None
        missing.append(existing.name)
        existing = existing.parent
    for name in reversed(missing):
        if not existing.is_dir():
            return None
        matches = [c for c in existing.iterdir() if c.name.lower() == name.lower()]
        if len(matches) > 1:
            names = ", ".join(sorted(m.name for m in matches))
            raise ScriptError(f"'{path}' is not there and several files match it when letter case is "
                              f"ignored ({names}): name one exactly", code=FILE_NOT_FOUND)
        if not matches:
            return None
        existing = matches[0]
    return existing if existing.is_file() else None
