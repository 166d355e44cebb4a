"""What system and document functions (OSUser, DocumentName, EngineVersion...) report.

Offline there is no Qlik engine, app or service account, so each value has a default taken from
the machine and the script, and each can be set from the command line (``--system NAME=VALUE``)
to what the script would see in Sense. The defaults are our choice (listed in emulator/README.md).
"""
from __future__ import annotations

import datetime as dt
import getpass
import platform
from collections.abc import Callable, Mapping
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from emulator.errors import ScriptError

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


# The local time zone: the machine's, or the IANA zone --system TimeZone=NAME names (the tzdata
# package supplies the zone database where the system has none, as on Windows).
def time_zone(name: str) -> ZoneInfo:
    """The zone an IANA name (Europe/Paris) names; a clear error for any other name."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise ScriptError(f"Unknown time zone: {name} (an IANA name such as Europe/Paris)") from e


def local_clock(given: Mapping[str, str]) -> Callable[[], dt.datetime]:
    """The run's clock: the local time now, in the zone of --system TimeZone=NAME if given."""
    name = next((value for key, value in given.items() if key.lower() == "timezone"), None)
    if name is None:
        return dt.datetime.now
    return lambda: dt.datetime.now(time_zone(name)).replace(tzinfo=None)
