"""Rendering: the options a library is generated with, and the Jinja environment.

Every sub group is one template in qvs/templates/subs/ (rendered in file-name order), so adding a
sub is adding a template there that uses the macros of qvs/templates/macros.j2 and the shared
subs of qvs/templates/shared.qvs.j2.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import jinja2

QVS_DIR = Path(__file__).resolve().parent.parent / "qvs"
TEMPLATES_DIR = QVS_DIR / "templates"
COMMITTED_FILE = QVS_DIR / "butler_subs.qvs"
MAIN_TEMPLATE = "butler_subs.qvs.j2"

# Names are written into the script as they are: a Qlik variable or connection name must not
# carry anything that would change the statement around it.
_VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
_CONNECTION_NAME = re.compile(r"[^'\r\n]+")


@dataclass(frozen=True)
class Options:
    connection_get: str = "Butler_GET"
    connection_post: str = "Butler_POST"
    host_variable: str = "vButlerHost"
    port_variable: str = "vButlerPort"
    api_key_variable: str | None = None

    def problems(self) -> list[str]:
        """What is wrong with these options, one sentence each (empty when they are usable)."""
        found = []
        for option, value in (("--connection-get", self.connection_get),
                              ("--connection-post", self.connection_post)):
            if not _CONNECTION_NAME.fullmatch(value) or value.strip() != value:
                found.append(f"{option} {value!r}: a connection name must be non-empty, without "
                             "quotes, line breaks or surrounding spaces")
        for option, value in (("--host-variable", self.host_variable),
                              ("--port-variable", self.port_variable),
                              ("--api-key-variable", self.api_key_variable)):
            if value is not None and not _VARIABLE_NAME.fullmatch(value):
                found.append(f"{option} {value!r}: a variable name must start with a letter or _ "
                             "and hold only letters, digits, _ and .")
        return found


def environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
                              undefined=jinja2.StrictUndefined, autoescape=False,
                              trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


def sub_templates() -> list[str]:
    return sorted(f"subs/{p.name}" for p in (TEMPLATES_DIR / "subs").glob("*.qvs.j2"))


def render(options: Options) -> str:
    """The library's text for these options (which must have no problems)."""
    template = environment().get_template(MAIN_TEMPLATE)
    return template.render(options=options, groups=sub_templates())
