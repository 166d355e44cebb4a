"""``python -m emulator SCRIPT [--connections FILE] [--var NAME=VALUE]... [--lib NAME=DIR]...
[--system NAME=VALUE]... [--seed N] [--dump FILE]`` (SPEC §9).

Trace lines go to standard output as the script runs; a failure is reported on standard error
as ``file:line: message`` followed by the statement, and the exit status is 1 (a fault of the
emulator itself also prints its Python traceback, for a bug report). The dump is
written after the run, failed or not.
"""
from __future__ import annotations

import argparse
import json
import sys
import traceback
from pathlib import Path

from emulator.errors import InternalError, ScriptError
from emulator.runner import Runner
from emulator.values import Value


def main(argv: list[str] | None = None) -> int:
    args = _arguments().parse_args(argv)
    try:
        connections, libs = _connections(args.connections)
        variables = dict(_name_value(v, "--var") for v in args.var)
        libs.update(_name_value(v, "--lib") for v in args.lib)  # the command line wins
        system = dict(_name_value(v, "--system") for v in args.system)
    except (ScriptError, ValueError) as e:
        print(f"emulator: {e}", file=sys.stderr)
        return 2
    runner = Runner(connections, variables, libs=libs, system=system, seed=args.seed)
    error: ScriptError | None = None
    try:
        runner.run_file(args.script)
    except ScriptError as e:
        error = e
        print(str(e), file=sys.stderr)
        if isinstance(e, InternalError):
            traceback.print_exception(e.__cause__, file=sys.stderr)
    if args.dump:
        Path(args.dump).write_text(json.dumps(dump(runner, error), indent=2, ensure_ascii=False),
                                   encoding="utf-8")
    return 1 if error else 0


def _arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m emulator",
                                     description="Run a Qlik Sense load script offline.")
    parser.add_argument("script", help="the .qvs script to run")
    parser.add_argument("--connections", help="YAML file: NAME: {url, method, headers, body}, "
                        "and libs: {NAME: DIR}")
    parser.add_argument("--var", action="append", default=[], metavar="NAME=VALUE",
                        help="preset a variable (repeatable)")
    parser.add_argument("--lib", action="append", default=[], metavar="NAME=DIR",
                        help="read and write lib://NAME/... in folder DIR (repeatable)")
    parser.add_argument("--system", action="append", default=[], metavar="NAME=VALUE",
                        help="what a system or document function returns: OSUser, ComputerName, "
                        "EngineVersion, ProductVersion, QlikViewVersion, DocumentPath, DocumentName, "
                        "DocumentTitle, IsPartialReload, ReloadTime, GetFolderPath.NAME, TimeZone (the local "
                        "time zone, e.g. Europe/Paris) (repeatable)")
    parser.add_argument("--seed", type=int, metavar="N",
                        help="seed Rand() so that runs give the same numbers")
    parser.add_argument("--dump", metavar="FILE", help="write variables, tables, requests and "
                        "trace as JSON after the run")
    return parser


def _connections(path: str | None) -> tuple[dict, dict[str, str]]:
    if not path:
        return {}, {}
    from emulator.rest_connector import read_connections_file
    return read_connections_file(path)


def _name_value(item: str, option: str) -> tuple[str, str]:
    name, sep, value = item.partition("=")
    if not sep or not name.strip():
        raise ValueError(f"{option} expects NAME=VALUE, got {item!r}")
    return name.strip(), value


def _shown(v: Value) -> str | None:
    return None if v is None else v.text


def dump(runner: Runner, error: ScriptError | None = None) -> dict:
    """The run as SPEC §9 describes it; values as the text Qlik would show."""
    result = {
        "variables": {name: _shown(v) for name, v in runner.variables.items()},
        "tables": {name: {"fields": list(t.fields), "rows": t.texts()}
                   for name, t in runner.model.tables.items()},
        "requests": [{"method": r.method, "url": r.url, "headers": dict(r.headers), "body": r.body}
                     for r in runner.requests],
        "trace": list(runner.trace),
    }
    if error is not None:
        result["error"] = {"message": error.message, "file": error.file, "line": error.line}
    return result
