"""Running a task's load script when the simulated repository runs the task (SPEC §4, seed
`script:`): the script runs in the emulator, in this process, against a real Valet, and its
outcome is the run's: FinishedSuccess when it ends, FinishedFail with the script error as the
run's message when it fails (what a reload task whose script fails ends in on a real Sense).

The scripts get the REST connections and `lib://` folders of an emulator connections file
(`python -m emulator --connections` format) and preset variables: `--valet URL` sets
`vButlerHost` and `vButlerPort`, the generated library's defaults (SETUP step 2 of
qvs/butler_subs.qvs), so a script includes the library and calls it as a real app does."""
from __future__ import annotations

import io
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from demo.sense.runs import ScriptOutcome
from demo.sense.seed import SeedError, SeedTask
from emulator.errors import ScriptError
from emulator.rest_connector import read_connections_file
from emulator.runner import Runner

MAX_STATEMENT = 500  # characters of the failed statement kept in the run's message


@dataclass(frozen=True)
class ScriptSettings:
    connections: dict = field(default_factory=dict)  # name -> emulator Connection
    libs: dict[str, str] = field(default_factory=dict)  # lib://NAME -> folder
    variables: dict[str, str] = field(default_factory=dict)


def settings_from(valet_url: str, connections: Path | None, variables: list[str]) -> ScriptSettings:
    """The settings of `--valet URL [--connections FILE] [--script-var NAME=VALUE]...`;
    ValueError naming what is wrong."""
    url = urlsplit(valet_url)
    if url.scheme not in ("http", "https") or not url.hostname:
        raise ValueError(f"--valet: expected Valet's base URL such as http://127.0.0.1:8080, "
                         f"got {valet_url!r}")
    preset = {"vButlerHost": f"{url.scheme}://{url.hostname}",
              "vButlerPort": str(url.port or (443 if url.scheme == "https" else 80))}
    for item in variables:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"--script-var expects NAME=VALUE, got {item!r}")
        preset[name.strip()] = value
    rest, libs = {}, {}
    if connections is not None:
        try:
            rest, libs = read_connections_file(connections)
        except ScriptError as e:
            raise ValueError(f"--connections: {e}") from None
    return ScriptSettings(rest, libs, preset)


def check_scripts(tasks: list[SeedTask]) -> None:
    """Every seeded script must exist before the first run needs it."""
    for task in tasks:
        if task.script is not None and not task.script.is_file():
            raise SeedError(f"task {task.name!r}: script {task.script} not found")


class _TimedLines(io.TextIOBase):
    """The script's trace as (epoch seconds, line), as its lines are written."""

    def __init__(self) -> None:
        self.lines: list[tuple[float, str]] = []

    def write(self, text: str) -> int:
        self.lines += [(time.time(), line) for line in text.splitlines() if line]
        return len(text)


def script_runner(settings: ScriptSettings):
    """The callable `Runs` gives a scripted task to: runs its script, never raises."""

    def run(task: SeedTask) -> ScriptOutcome:
        out = _TimedLines()
        runner = Runner(settings.connections, settings.variables, out=out, libs=settings.libs)
        try:
            runner.run_file(task.script)
        except ScriptError as e:
            return ScriptOutcome(False, _error_text(e, runner), tuple(out.lines))
        except Exception as e:  # the run fails as the reload would; the simulator keeps serving
            return ScriptOutcome(False, f"{type(e).__name__}: {e}", tuple(out.lines))
        return ScriptOutcome(True, "", tuple(out.lines))

    return run


def _error_text(e: ScriptError, runner: Runner) -> str:
    """One line: where the reload stopped, why, and the statement dollar-expanded as Sense's
    script log shows it (the library tells why it fails in the statement it stops on)."""
    text = f"{Path(e.file).name if e.file else '<script>'}:{e.line or '?'}: {e.message}"
    try:
        statement = runner.expand(e.statement or "")
    except ScriptError:
        statement = e.statement or ""
    statement = " ".join(statement.split())
    if statement:
        text += f" (statement: {statement[:MAX_STATEMENT]})"
    return text
