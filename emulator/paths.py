"""Where the emulator looks for files a script names (includes, FileList, LOAD ... From).

Sense reads files through folder data connections (``lib://Connection/path``); the emulator has
none, so it looks in the folder of the script that names the file.
"""
from __future__ import annotations

from pathlib import Path


def local_path(written: str, including_file: str) -> list[Path]:
    """Where a path written in a script is looked for: relative paths against the including
    script's folder; ``lib://Connection/rest`` as ``Connection/rest``, then ``rest``, there
    (the emulator has no data connections to folders)."""
    base = Path(including_file).parent
    if written.lower().startswith("lib://"):
        rest = written[len("lib://"):]
        return [base / rest, base / rest.partition("/")[2]]
    path = Path(written)
    return [path if path.is_absolute() else base / path]
