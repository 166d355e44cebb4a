"""`python -m server start-task` against the simulated repository over real TLS: exit codes per
end status (the SMA script's convention, shared/reference/sma-qliksense-task-powershell.md: 0
success, 100 not submitted, other non-zero per failure), start by name, the start filter, a
repository down before the start and lost while waiting, timeout, a task already running.

A run is finished once its execution session answers 404 (Qlik's QRS reference, Task: Start
synchronous, https://help.qlik.com/en-US/sense-developer/February2024/Subsystems/RepositoryServiceAPI/Content/Sense_RepositoryServiceAPI/RepositoryServiceAPI-Task-Start-Task.htm)."""
from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tasks.wait_support import (ABORTED, ERROR, FAIL, FILTERED_OUT, LOSABLE, MEDIUM, OFF, OK,
                                RESET, RETRIED, RETURNS, SKIPPED, SLOW, TWIN_A, TWIN_B, UNKNOWN,
                                cli_config, run_cli, start_task_args, wait_sense,  # noqa: F401
                                write_config)

STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d ")
FAST = ("--wait", "--interval", "0.1")


def runs_of(sense, task: dict) -> list[dict]:
    return [r for r in sense.runs() if r["taskId"] == task["id"]]


def test_success_prints_each_status_change_with_a_timestamp_and_exits_0(cli_config) -> None:
    p = run_cli(cli_config, OK["id"], *FAST)
    assert p.returncode == 0, p.stdout + p.stderr
    lines = p.stdout.splitlines()
    assert lines and all(STAMP.match(line) for line in lines), lines
    statuses = [m.group(1) for line in lines for m in [re.search(r": (\w+) \(status \d+\)", line)] if m]
    assert statuses[0] == "Triggered" and statuses[-1] == "FinishedSuccess"
    assert "Started" in statuses
    assert "execution session" in lines[0] and OK["name"] in lines[0]


@pytest.mark.parametrize("task, code, name", [
    (FAIL, 108, "FinishedFail"), (ABORTED, 106, "Aborted"), (ERROR, 111, "Error"),
    (SKIPPED, 109, "Skipped"), (RESET, 112, "Reset")])
def test_each_failure_status_has_its_own_exit_code(cli_config, task, code, name) -> None:
    p = run_cli(cli_config, task["id"], *FAST)
    assert p.returncode == code, p.stdout + p.stderr
    assert f"{name} (status" in p.stdout.splitlines()[-1]


def test_a_failure_prints_the_repositorys_message(cli_config) -> None:
    p = run_cli(cli_config, FAIL["id"], *FAST)
    assert "Field 'Amount' not found" in p.stdout.splitlines()[-1]


def test_retries_are_followed_to_the_last_try(cli_config) -> None:
    p = run_cli(cli_config, RETRIED["id"], *FAST)
    assert p.returncode == 0, p.stdout
    assert "2 tries" in p.stdout.splitlines()[-1]


@pytest.mark.parametrize("args, says", [
    ((UNKNOWN,), "unknown"), (("not-a-guid",), "invalid"), ((OFF["id"],), "disabled"),
    ((FILTERED_OUT["id"],), "denied"), (("--name", "No such task"), "unknown"),
    (("--name", "Wait: twin"), "ambiguous"), (("--name", "wait: SUCCESS"), "unknown")])
def test_what_cannot_be_submitted_exits_100_and_starts_nothing(cli_config, wait_sense, args, says) -> None:
    before = len(wait_sense.runs())
    p = run_cli(cli_config, *args, *FAST)
    assert p.returncode == 100, p.stdout + p.stderr
    assert f"not submitted ({says})" in p.stdout
    assert len(wait_sense.runs()) == before


def test_an_ambiguous_name_lists_the_tasks_it_names(cli_config) -> None:
    out = run_cli(cli_config, "--name", "Wait: twin").stdout
    assert TWIN_A["id"] in out and TWIN_B["id"] in out


def test_start_by_exact_name(cli_config, wait_sense) -> None:
    p = run_cli(cli_config, "--name", OK["name"], *FAST)
    assert p.returncode == 0 and "FinishedSuccess" in p.stdout
    session = re.search(r"execution session (\S+)", p.stdout).group(1)
    assert [r["taskId"] for r in wait_sense.runs() if r["sessionId"] == session] == [OK["id"]]


def test_without_wait_exits_0_once_started(cli_config, wait_sense) -> None:
    p = run_cli(cli_config, SLOW["id"])
    assert p.returncode == 0 and "execution session" in p.stdout
    assert runs_of(wait_sense, SLOW)


def test_timeout_exits_124_and_says_the_task_keeps_running(cli_config, wait_sense) -> None:
    began = time.monotonic()
    p = run_cli(cli_config, SLOW["id"], *FAST, "--timeout", "1")
    assert p.returncode == 124, p.stdout
    assert time.monotonic() - began < 15
    assert "timed out after 1 s" in p.stdout and "keeps running" in p.stdout
    assert runs_of(wait_sense, SLOW)[-1]["status"] in (1, 2, 3)  # still running in Sense


def test_a_start_while_the_task_runs_follows_that_run_without_a_second_one(cli_config, wait_sense) -> None:
    first = run_cli(cli_config, MEDIUM["id"])
    session = re.search(r"execution session (\S+)", first.stdout).group(1)
    second = run_cli(cli_config, MEDIUM["id"], *FAST)
    assert second.returncode == 0, second.stdout
    assert "already running" in second.stdout and f"execution session {session}" in second.stdout
    assert [r["sessionId"] for r in runs_of(wait_sense, MEDIUM)] == [session]


def test_repository_down_before_the_start_exits_100(cli_config, wait_sense) -> None:
    wait_sense.set_faults(refuse=True)
    try:
        p = run_cli(cli_config, OK["id"], *FAST)
    finally:
        wait_sense.clear_faults()
    assert p.returncode == 100, p.stdout
    assert "not submitted" in p.stdout and "unreachable" in p.stdout


def _start_waiting(config: Path, task: dict, *args: str) -> subprocess.Popen:
    """The command running in the background, once it has printed its first status."""
    proc = subprocess.Popen(start_task_args(config, task["id"], *FAST, *args),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    line = proc.stdout.readline()
    assert "execution session" in line, line
    return proc


GONE = {"refuse": True, "rules": [{"action": "drop"}]}  # port closed, and a kept-alive connection
# that outlives the close is dropped too


def test_repository_lost_mid_wait_exits_125_after_its_retries(cli_config, wait_sense) -> None:
    proc = _start_waiting(cli_config, LOSABLE, "--retries", "2")
    wait_sense.set_faults(**GONE)
    try:
        out, _ = proc.communicate(timeout=30)
    finally:
        wait_sense.clear_faults()
    assert proc.returncode == 125, out
    assert out.count("cannot read the run") == 3  # the first failure and 2 retries
    assert "lost the repository while waiting, after 2 retries" in out


def test_a_repository_back_within_the_retries_lets_the_wait_finish(cli_config, wait_sense) -> None:
    proc = _start_waiting(cli_config, RETURNS, "--retries", "50")
    wait_sense.set_faults(**GONE)
    time.sleep(0.6)
    wait_sense.clear_faults()
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert "cannot read the run" in out and "FinishedSuccess" in out


def test_every_cli_start_is_audited(cli_config) -> None:
    run_cli(cli_config, FILTERED_OUT["id"])
    db = sqlite3.connect(cli_config.parent / "valet-data" / "valet.sqlite3")
    try:
        rows = db.execute("SELECT entry_point, caller, request, outcome FROM task_start_audit "
                          "ORDER BY id DESC LIMIT 1").fetchall()
    finally:
        db.close()
    entry_point, caller, request, outcome = rows[0]
    assert entry_point == "cli" and caller.startswith("cli:")
    assert FILTERED_OUT["id"] in request and '"denied"' in outcome


def test_a_bad_argument_or_configuration_exits_2(cli_config, tmp_path, wait_sense) -> None:
    assert run_cli(cli_config, OK["id"], "--interval", "0").returncode == 2
    assert run_cli(cli_config).returncode == 2  # neither an ID nor --name
    assert run_cli(cli_config, OK["id"], "--name", "x").returncode == 2  # both
    no_host = write_config(tmp_path / "nohost.yaml", wait_sense)
    no_host.write_text(no_host.read_text().replace("host: 127.0.0.1", "host: ''"))
    p = run_cli(no_host, OK["id"])
    assert p.returncode == 2 and "Butler.configQRS.host" in p.stderr
    unwritable = write_config(tmp_path / "nodata.yaml", wait_sense)
    (tmp_path / "a-file").write_text("")
    unwritable.write_text(unwritable.read_text().replace(str(tmp_path / "nodata-data"),
                                                         str(tmp_path / "a-file" / "data")))
    p = run_cli(unwritable, OK["id"])
    assert p.returncode == 2 and "Valet.dataDir" in p.stderr, p.stderr


def test_help_documents_the_exit_codes_and_the_valet_script_runs_it() -> None:
    valet = Path(sys.executable).with_name("valet")
    p = subprocess.run([str(valet), "start-task", "--help"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0
    for code in ("100", "106", "108", "109", "111", "112", "124", "125"):
        assert f"  {code}  " in p.stdout, code
