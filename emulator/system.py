"""What system and document functions (OSUser, DocumentName, EngineVersion...) report.

Offline there is no Qlik engine, app or service account, so each value has a default taken from
the machine and the script, and each can be set from the command line (``--system NAME=VALUE``)
to what the script would see in Sense. The defaults are our choice (listed in emulator/README.md).
"""
from __future__ import annotations

import getpass
import platform
from pathlib import Path

# Versions of a recent Qlik Sense release in the form the functions return; set them with
# --system when a script branches on the version.
_VERSIONS = {"QlikViewVersion": "12.2000.0", "EngineVersion": "12.2000.0",
             "ProductVersion": "14.200.0"}


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name (a container without a passwd entry)
        return "unknown"


def system_values(script: str, given: dict[str, str]) -> dict[str, str]:
    """Name (lower case) -> value for one run of ``script``; ``given`` overrides the defaults."""
    path = Path(script).resolve() if not script.startswith("<") else Path(script)
    computer = platform.node() or "localhost"
    values = {**_VERSIONS,
              "ComputerName": computer,
              # OSUser in Qlik Sense: "UserDirectory=<directory>; UserId=<user>"
              "OSUser": f"UserDirectory={computer}; UserId={_user()}",
              "DocumentPath": str(path), "DocumentName": path.name, "DocumentTitle": path.stem,
              "IsPartialReload": "0"}
    values.update(given)
    return {name.lower(): value for name, value in values.items()}
