"""Shared by the start-and-wait tests (imported as `tasks.wait_support`): a simulated repository
seeded with a task per end status (runs of a second or less), a Valet config file for the
`start-task` command, and a runner of that command as a scheduler runs it (a subprocess)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from demo.sense.process import SenseProcess
from tasks.start_support import qrs_config


def _task(n: int, name: str, **extra) -> dict:
    return {"id": f"5a17e000-0000-4000-8000-0000000000{n:02d}", "name": name, **extra}


# TaskExecutionStatus codes (qlik-facts §5): 6 Aborted, 7 FinishedSuccess, 8 FinishedFail,
# 9 Skipped, 11 Error, 12 Reset.
OK = _task(1, "Wait: success", run={"seconds": 0.5, "status": "FinishedSuccess"})
FAIL = _task(2, "Wait: fails", run={"seconds": 0.5, "status": "FinishedFail",
                                    "message": "Field 'Amount' not found"})
ABORTED = _task(3, "Wait: aborted", run={"seconds": 0.5, "status": "Aborted"})
ERROR = _task(4, "Wait: error", run={"seconds": 0.5, "status": "Error"})
SKIPPED = _task(5, "Wait: skipped", run={"seconds": 0.5, "status": "Skipped"})
RESET = _task(6, "Wait: reset", run={"seconds": 0.5, "status": "Reset"})
OFF = _task(7, "Wait: disabled", enabled=False)
SLOW = _task(8, "Wait: slow", run={"seconds": 30})
MEDIUM = _task(9, "Wait: medium", run={"seconds": 20})  # outlasts two command start-ups on a loaded machine
RETRIED = _task(10, "Wait: retried", run={"seconds": 0.5, "retries": 1})
TWIN_A = _task(11, "Wait: twin", run={"seconds": 0.5})
TWIN_B = _task(12, "Wait: twin", run={"seconds": 0.5})
LOSABLE = _task(13, "Wait: losable", run={"seconds": 3})
RETURNS = _task(14, "Wait: comes back", run={"seconds": 2})
FILTERED_OUT = _task(15, "Wait: not allowed", run={"seconds": 0.5})
TASKS = [OK, FAIL, ABORTED, ERROR, SKIPPED, RESET, OFF, SLOW, MEDIUM, RETRIED, TWIN_A, TWIN_B,
         LOSABLE, RETURNS, FILTERED_OUT]
UNKNOWN = "5a17e000-0000-4000-8000-0000000000ff"
ALLOWED = [t["id"] for t in TASKS if t is not FILTERED_OUT] + [UNKNOWN]  # allowed, not in Sense


@pytest.fixture(scope="module")
def wait_sense(tmp_path_factory) -> SenseProcess:
    with SenseProcess(tmp_path_factory.mktemp("wait-sense"), extra_tasks=TASKS) as s:
        yield s


def write_config(path: Path, sense: SenseProcess, start_filter: bool = False, **butler) -> Path:
    config = {"Butler": {**qrs_config(sense), **butler},
              "Valet": {"dataDir": str(path.parent / f"{path.stem}-data")}}
    if start_filter:
        config["Butler"]["startTaskFilter"] = {"enable": True, "allowTask": {"taskId": ALLOWED}}
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def cli_config(wait_sense, tmp_path_factory) -> Path:
    """A config with the start filter on: every seeded task but FILTERED_OUT is allowed."""
    return write_config(tmp_path_factory.mktemp("cli") / "valet.yaml", wait_sense, start_filter=True)


def start_task_args(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "server", "start-task", *args, "--config", str(config)]


def run_cli(config: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """The command as cron or a scheduler runs it: a process of its own, a minimal environment."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONUNBUFFERED": "1"}
    return subprocess.run(start_task_args(config, *args), capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=Path(__file__).resolve().parents[2])
