"""Where the emulator looks for files a script names (includes, FileList, LOAD ... From, Store).

Sense reads files through folder data connections (``lib://Connection/path``). The emulator maps
a connection to a folder when told so (``--lib NAME=DIR``, ``Runner(libs={NAME: DIR})``);
otherwise it looks in the folder of the script that names the file.
"""
from __future__ import annotations

from pathlib import Path

LIB = "lib://"


def local_path(written: str, including_file: str, libs: dict[str, str] | None = None) -> list[Path]:
    """Where a path written in a script is looked for, best first: ``lib://Name/rest`` in the
    folder mapped to Name; unmapped, as ``Name/rest`` then ``rest`` in the including script's
    folder; relative paths against that folder."""
    base = Path(including_file).parent
    written = written.replace("\\", "/")  # Windows separators, as Sense scripts write them
    if written.lower().startswith(LIB):
        rest = written[len(LIB):]
        name, _, inner = rest.partition("/")
        folder = _mapped(libs or {}, name)
        if folder is not None:
            return [Path(folder) / inner]
        return [base / rest, base / inner]
    path = Path(written)
    return [path if path.is_absolute() else base / path]


def _mapped(libs: dict[str, str], name: str) -> str | None:
    """Connection names compared case-insensitively."""
    return next((folder for key, folder in libs.items() if key.lower() == name.lower()), None)
