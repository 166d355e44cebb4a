"""StartTaskAndWait through the emulator against a live Valet and the simulated repository:
success, a failed run (the reload failed only when asked), a timeout (the task keeps running),
a task that cannot start, a bad timeout; the requests it sends and what it leaves behind.

End statuses are Qlik's TaskExecutionStatus names (qlik-facts §5); a run is over once Valet
reports `finished` (the execution session is gone: Qlik's QRS reference, Task: Start
synchronous, https://help.qlik.com/en-US/sense-developer/February2024/Subsystems/RepositoryServiceAPI/Content/Sense_RepositoryServiceAPI/RepositoryServiceAPI-Task-Start-Task.htm)."""
from __future__ import annotations

import pytest

from demo.processes import Valet
from tasks.start_support import qrs_config
from tasks.wait_support import FAIL, OK, SLOW, UNKNOWN, wait_sense  # noqa: F401


@pytest.fixture(scope="module")
def open_valet(wait_sense, tmp_path_factory):
    """Overrides the library harness's Valet: this one talks to the repository seeded with a
    task per end status (run_script uses it)."""
    root = tmp_path_factory.mktemp("subs-wait")
    server = Valet(root, qrs_config(wait_sense), log=(root / "valet.log").open("w"))
    yield server.start()
    server.stop()


def failure(run) -> str:
    """The library's failure message: traced, then the reload stopped at its failing statement."""
    assert run.error is not None and "ValetSubsError" in str(run.error)
    [message] = [t for t in run.runner.trace if t.startswith("butler_subs.qvs: StartTaskAndWait failed: ")]
    return message


def paths(run) -> list[tuple[str, str]]:
    return [(r.method, r.url.split(":", 2)[-1].split("/", 1)[-1]) for r in run.requests]


def test_success_sets_the_final_status_and_cleans_up(run_script) -> None:
    run = run_script(f"Call StartTaskAndWait('{OK['id']}', 60, 'vStatus');").succeeded()
    assert run.var("vStatus") == "FinishedSuccess"
    sent = paths(run)
    assert sent[0] == ("POST", f"v4/reloadtask/{OK['id']}/start/synchronous")
    assert len(sent) >= 2 and all(p[0] == "GET" and p[1].startswith("v4/executionsession/")
                                  for p in sent[1:])
    assert run.left_variables() == {"vStatus"}
    assert run.tables() == set()


def test_a_failed_run_is_reported_and_fails_the_reload_only_when_asked(run_script) -> None:
    run = run_script(f"Call StartTaskAndWait('{FAIL['id']}', 60, 'vStatus');").succeeded()
    assert run.var("vStatus") == "FinishedFail"
    run = run_script(f"Call StartTaskAndWait('{FAIL['id']}', 60, 'vStatus', 1);\nLet vAfter = 1;")
    message = failure(run)
    assert "FinishedFail" in message and "Field 'Amount' not found" in message
    assert run.var("vAfter") is None  # the reload stopped at the call


def test_a_timeout_leaves_the_task_running(run_script, wait_sense) -> None:
    run = run_script(f"Call StartTaskAndWait('{SLOW['id']}', 1, 'vStatus');").succeeded()
    assert run.var("vStatus") == "Timeout"
    assert [r["status"] for r in wait_sense.runs() if r["taskId"] == SLOW["id"]][-1] in (1, 2, 3)
    run = run_script(f"Call StartTaskAndWait('{SLOW['id']}', 1, 'vStatus', 'true');")
    assert "did not end within 1 s" in failure(run)


def test_a_task_that_cannot_start(run_script) -> None:
    run = run_script(f"Call StartTaskAndWait('{UNKNOWN}', 10, 'vStatus');").succeeded()
    assert run.var("vStatus") == "NotStarted"
    assert len(run.requests) == 1
    run = run_script(f"Call StartTaskAndWait('{UNKNOWN}', 10, 'vStatus', -1);")
    assert "was not started" in failure(run)


@pytest.mark.parametrize("call, names", [
    (f"Call StartTaskAndWait('{OK['id']}', 'soon', 'vStatus');", "vTimeoutSeconds"),
    (f"Call StartTaskAndWait('{OK['id']}', -5, 'vStatus');", "vTimeoutSeconds"),
    ("Call StartTaskAndWait('', 10, 'vStatus');", "vTaskId"),
    (f"Call StartTaskAndWait('{OK['id']}', 10);", "vResultVar")])
def test_bad_arguments_fail_before_any_request(run_script, call, names) -> None:
    run = run_script(call)
    assert names in failure(run)
    assert run.requests == []
