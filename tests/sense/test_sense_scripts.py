"""The simulated repository runs a task's seed `script:` in the emulator when the task runs
(`--valet URL --connections FILE --script-var ...`): against a real Valet, through the library
generated with an API-key variable and included from lib:// as an app would, with the run's
status following the script: FinishedSuccess when it ends, FinishedFail with its error.

What Sense does, from Qlik's QRS reference (task start/synchronous: the session answers 404
once the run has finished, and "each task retry renders a new execution result",
https://help.qlik.com/en-US/sense-developer/February2024/Subsystems/RepositoryServiceAPI/Content/Sense_RepositoryServiceAPI/RepositoryServiceAPI-Task-Start-Task.htm);
statuses 2 Started, 7 FinishedSuccess, 8 FinishedFail (TaskExecutionStatus, qlik-facts §5);
ExecutionResultDetail detailsType 0 is Error (`?page=1741` of the QRS API reference)."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import yaml

from demo.processes import Valet
from demo.sense.process import SenseProcess
from generator.render import Options, render
from sense.sense_support import Qrs
from tasks.start_support import qrs_config

KEY = "scripts-test-key-0123456789"
READS = "5c41f7a0-0000-4000-8000-000000000001"
FAILS = "5c41f7a0-0000-4000-8000-000000000002"
RETRIED = "5c41f7a0-0000-4000-8000-000000000003"
CHAINS = "5c41f7a0-0000-4000-8000-000000000004"
NEXT = "5c41f7a0-0000-4000-8000-000000000005"
INCLUDE = "$(Must_Include=lib://Scripts/butler_subs.qvs);\n"
SCRIPTS = {
    "reads.qvs": INCLUDE + "Call GetKeyValue('Params', 'region', 'vRegion');\n"
                 "Trace region is $(vRegion);\n"
                 "Call AddKeyValue('Results', 'seen', 'region ' & vRegion, 0);\n",
    "fails.qvs": INCLUDE + "Trace before the failure;\n"
                 "Call GetKeyValue('Params', 'nobody set this', 'vMissing');\n"
                 "Trace never reached;\n",
    # Fails on its first try only: it counts its tries in Valet.
    "retried.qvs": INCLUDE + "Call GetKeyValueOrDefault('Retry', 'tries', '0', 'vTries');\n"
                   "Call AddKeyValue('Retry', 'tries', vTries + 1, 0);\n"
                   "If vTries = 0 Then\n"
                   "    Call GetKeyValue('Retry', 'missing', 'vMissing');\n"
                   "End If\n",
    "chains.qvs": INCLUDE + f"Call StartTask_KeyValue('{NEXT}', 'Chain', 'passed', 'from A', 0);\n",
    "next.qvs": INCLUDE + "Call GetKeyValue('Chain', 'passed', 'vPassed');\n"
                "Call AddKeyValue('Results', 'chained', vPassed, 0);\n",
}
SEED = {"tasks": [
    {"id": READS, "name": "Reads a parameter", "run": {"seconds": 0.2}, "script": "apps/reads.qvs"},
    {"id": FAILS, "name": "Fails", "run": {"seconds": 0.2}, "script": "apps/fails.qvs"},
    {"id": RETRIED, "name": "Retried", "run": {"seconds": 0.2, "retries": 1},
     "script": "apps/retried.qvs"},
    {"id": CHAINS, "name": "Chains", "run": {"seconds": 0.2}, "script": "apps/chains.qvs"},
    {"id": NEXT, "name": "Next", "run": {"seconds": 0.2}, "script": "apps/next.qvs"},
]}


def _write_setup(root: Path) -> tuple[Path, Path]:
    """(seed, connections): the scripts, the library with an API-key variable, REST
    connections named as the library's defaults."""
    (root / "apps").mkdir(parents=True)
    for name, text in SCRIPTS.items():
        (root / "apps" / name).write_text(text, encoding="utf-8")
    (root / "lib").mkdir()
    (root / "lib" / "butler_subs.qvs").write_text(
        render(Options(api_key_variable="vValetApiKey")), encoding="utf-8")
    seed = root / "seed.yaml"
    seed.write_text(yaml.safe_dump(SEED), encoding="utf-8")
    connections = root / "connections.yaml"
    connections.write_text(yaml.safe_dump({
        "Butler_GET": {"url": "http://127.0.0.1/", "method": "GET"},
        "Butler_POST": {"url": "http://127.0.0.1/", "method": "POST"},
        "libs": {"Scripts": "lib"}}), encoding="utf-8")
    return seed, connections


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("scripts")
    seed, connections = _write_setup(root)
    sense = SenseProcess(root / "sense", seed=seed)
    with (root / "valet.log").open("w") as log:
        valet = Valet(root / "valet", qrs_config(sense), {"apiKeys": [{"name": "apps", "key": KEY}]},
                      log=log)
        sense.run_scripts(valet.url, connections, {"vValetApiKey": KEY})
        with sense, valet:
            yield sense, valet


def _kv(valet: Valet, namespace: str, key: str) -> str | None:
    r = requests.get(f"{valet.url}/v4/keyvalues/{namespace}", params={"key": key},
                     headers={"X-API-Key": KEY}, timeout=10)
    return r.json()["value"] if r.status_code == 200 else None


def _run_to_end(sense: SenseProcess, task_id: str, timeout: float = 30) -> list[dict]:
    """Start the task synchronously, wait until its session is gone (404: finished), and
    answer its execution results."""
    qrs = Qrs(sense)
    answer = qrs("POST", f"task/{task_id}/start/synchronous")
    assert answer.status_code == 201, answer.text
    session = answer.json()["value"]
    end = time.monotonic() + timeout
    while qrs("GET", f"executionsession/{session}").status_code == 200:
        assert time.monotonic() < end, "the run did not end"
        time.sleep(0.1)
    return qrs("GET", "executionresult/full", params={"filter": f"ExecutionId eq {session}"}).json()


def _log(sense: SenseProcess, task_id: str) -> list[str]:
    return [entry["line"] for run in sense.runs() if run["taskId"] == task_id
            for entry in run["scriptLog"]]


def test_a_script_that_ends_finishes_success_after_its_requests_reached_valet(setup):
    sense, valet = setup
    requests.post(f"{valet.url}/v4/keyvalues/Params", json={"key": "region", "value": "EMEA"},
                  headers={"X-API-Key": KEY}, timeout=10).raise_for_status()
    results = _run_to_end(sense, READS)
    assert [r["status"] for r in results] == [7]
    states = [d["message"] for d in results[0]["details"]]
    assert states == ["Changing task state to Triggered", "Changing task state to Started",
                      "Changing task state to FinishedSuccess"]
    assert _kv(valet, "Results", "seen") == "region EMEA"
    assert _log(sense, READS) == ["region is EMEA"]


def test_a_failing_script_finishes_fail_with_its_error_as_the_runs_error_detail(setup):
    sense, _valet = setup
    results = _run_to_end(sense, FAILS)
    assert [r["status"] for r in results] == [8]
    errors = [d["message"] for d in results[0]["details"] if d["detailsType"] == 0]
    assert len(errors) == 1
    assert "GetKeyValue failed" in errors[0] and "does not exist" in errors[0], errors
    assert errors[0].startswith("butler_subs.qvs:")  # where the reload stopped
    log = _log(sense, FAILS)  # the library writes its reason to the log before it stops
    assert log[0] == "before the failure" and log[1].startswith("butler_subs.qvs: GetKeyValue failed")
    assert len(log) == 2


def test_a_failed_try_is_retried_as_a_new_result_of_the_same_session(setup):
    sense, valet = setup
    results = _run_to_end(sense, RETRIED)
    assert [r["status"] for r in results] == [8, 7]
    assert len({r["id"] for r in results}) == 2
    assert _kv(valet, "Retry", "tries") == "2"


def test_a_script_starts_the_next_task_through_valet_and_that_one_runs_its_script(setup):
    sense, valet = setup
    assert [r["status"] for r in _run_to_end(sense, CHAINS)] == [7]
    end = time.monotonic() + 30
    while _kv(valet, "Results", "chained") is None:
        assert time.monotonic() < end, "the chained task's script did not store its result"
        time.sleep(0.1)
    assert _kv(valet, "Results", "chained") == "from A"
    nexts = [run for run in sense.runs() if run["taskId"] == NEXT]
    assert len(nexts) == 1


def _sense_command(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "demo.sense", "--port", "1", "--certs",
                           str(tmp_path / "certs"), *args], capture_output=True, text=True,
                          timeout=60, cwd=Path(__file__).resolve().parents[2])


def test_script_options_without_valet_are_refused(tmp_path):
    r = _sense_command(tmp_path, "--script-var", "vX=1")
    assert r.returncode == 2 and "need --valet URL" in r.stderr


def test_a_missing_script_stops_start_up_naming_the_task(tmp_path):
    seed = tmp_path / "seed.yaml"
    seed.write_text(yaml.safe_dump({"tasks": [{"id": READS, "name": "Lost", "script": "gone.qvs"}]}))
    r = _sense_command(tmp_path, "--seed", str(seed), "--valet", "http://127.0.0.1:9")
    assert r.returncode == 2
    assert "task 'Lost': script" in r.stderr and "gone.qvs not found" in r.stderr


def test_a_valet_url_without_host_is_refused(tmp_path):
    r = _sense_command(tmp_path, "--valet", "127.0.0.1:8080")
    assert r.returncode == 2 and "--valet: expected Valet's base URL" in r.stderr
