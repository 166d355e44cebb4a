"""Valet's start-and-wait REST endpoints and the `starttaskname` item, against a real Valet and
the simulated repository; and the same endpoints from a load script, through the emulator's
REST connector (GET/POST, flat JSON read as one row).

Statuses (TaskExecutionStatus, qlik-facts §5) and the run lifecycle from Qlik's QRS reference,
Task: Start synchronous ("If the call returns an empty GUID ... the task did not start";
executionsession 404 once finished; one execution result per retry):
https://help.qlik.com/en-US/sense-developer/February2024/Subsystems/RepositoryServiceAPI/Content/Sense_RepositoryServiceAPI/RepositoryServiceAPI-Task-Start-Task.htm"""
from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
import requests

from demo.processes import Valet
from tasks.start_support import qrs_config, result
from tasks.wait_support import (FAIL, FILTERED_OUT, OFF, OK, RETRIED, SLOW, TWIN_A, TWIN_B,
                                UNKNOWN, wait_sense)  # noqa: F401
from helpers import assert_error

RUN_FIELDS = {"sessionId", "taskId", "taskName", "statusCode", "status", "finished", "succeeded",
              "startTime", "stopTime", "durationMs", "tries", "message"}


@pytest.fixture(scope="module")
def valet(wait_sense, tmp_path_factory):
    root = tmp_path_factory.mktemp("sync-valet")
    server = Valet(root, {**qrs_config(wait_sense), "startTaskFilter": {"enable": True, "allowTask": {
        "taskId": [OK["id"], FAIL["id"], OFF["id"], RETRIED["id"], SLOW["id"], TWIN_A["id"],
                   TWIN_B["id"], UNKNOWN]}}}, log=(root / "valet.log").open("w"))
    yield server.start()
    server.stop()


def start(valet, task_id: str) -> requests.Response:
    return requests.post(f"{valet.url}/v4/reloadtask/{task_id}/start/synchronous", timeout=30)


def start_by_name(valet, name: str) -> requests.Response:
    return requests.post(f"{valet.url}/v4/reloadtask/start/synchronous", params={"name": name},
                         timeout=30)


def status(valet, session: str) -> requests.Response:
    return requests.get(f"{valet.url}/v4/executionsession/{session}", timeout=30)


def until_finished(valet, session: str, deadline: float = 20) -> list[dict]:
    """Every distinct status read until the run finished."""
    seen: list[dict] = []
    end = time.monotonic() + deadline
    while not seen or not seen[-1]["finished"]:
        assert time.monotonic() < end, seen
        r = status(valet, session)
        assert r.status_code == 200, r.text
        if not seen or r.json()["statusCode"] != seen[-1]["statusCode"] or r.json()["finished"]:
            seen.append(r.json())
        time.sleep(0.05)
    return seen


def test_start_by_id_then_poll_the_run_to_its_end(valet) -> None:
    r = start(valet, OK["id"])
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
    body = r.json()
    assert (body["started"], body["outcome"], body["taskId"], body["taskName"]) == \
        (True, "started", OK["id"], OK["name"])
    seen = until_finished(valet, body["sessionId"])
    assert set(seen[-1]) == RUN_FIELDS
    assert all(not isinstance(v, (dict, list)) for v in seen[-1].values())  # flat: one row
    assert [s["status"] for s in seen][0] == "Triggered" and "Started" in [s["status"] for s in seen]
    last = seen[-1]
    assert (last["statusCode"], last["status"], last["succeeded"]) == (7, "FinishedSuccess", True)
    assert last["startTime"] and last["stopTime"] > last["startTime"] and last["durationMs"] > 0
    assert not seen[0]["stopTime"]  # "" while running (Sense's 1753 "never" date)


def test_a_failed_run_carries_its_message_and_retries_count_tries(valet) -> None:
    last = until_finished(valet, start(valet, FAIL["id"]).json()["sessionId"])[-1]
    assert (last["status"], last["succeeded"], last["message"]) == \
        ("FinishedFail", False, "Field 'Amount' not found")
    last = until_finished(valet, start(valet, RETRIED["id"]).json()["sessionId"])[-1]
    assert (last["status"], last["tries"]) == ("FinishedSuccess", 2)


def test_start_by_name_matches_exactly(valet) -> None:
    body = start_by_name(valet, OK["name"]).json()
    assert body["started"] and body["taskId"] == OK["id"]
    assert start_by_name(valet, OK["name"].upper()).json()["outcome"] == "unknown"
    twins = start_by_name(valet, TWIN_A["name"]).json()
    assert (twins["started"], twins["outcome"], twins["sessionId"]) == (False, "ambiguous", "")
    assert TWIN_A["id"] in twins["message"] and TWIN_B["id"] in twins["message"]
    assert_error(requests.post(f"{valet.url}/v4/reloadtask/start/synchronous", timeout=30), 400)


@pytest.mark.parametrize("task_id, outcome", [
    ("not-a-guid", "invalid"), (UNKNOWN, "unknown"), (OFF["id"], "disabled"),
    (FILTERED_OUT["id"], "denied")])
def test_what_cannot_start_is_answered_200_with_the_reason(valet, wait_sense, task_id, outcome) -> None:
    before = len(wait_sense.runs())
    body = start(valet, task_id).json()
    assert (body["started"], body["outcome"], body["sessionId"]) == (False, outcome, "")
    assert len(body["message"]) > 10
    assert len(wait_sense.runs()) == before


def test_a_running_task_answers_its_run_in_progress(valet, wait_sense) -> None:
    first = start(valet, SLOW["id"]).json()
    second = start(valet, SLOW["id"]).json()
    if first["outcome"] == "alreadyRunning":  # an earlier test's run of it still goes
        assert second["sessionId"] == first["sessionId"]
    assert (second["started"], second["outcome"]) == (True, "alreadyRunning")
    assert len({r["sessionId"] for r in wait_sense.runs() if r["taskId"] == SLOW["id"]}) == 1


def test_status_of_a_bad_or_unknown_session(valet) -> None:
    assert_error(status(valet, "abc"), 400)
    assert_error(status(valet, UNKNOWN), 404)


def test_history_lists_the_last_runs_newest_first(valet) -> None:
    sessions = []
    for _ in range(2):
        sessions.append(start(valet, OK["id"]).json()["sessionId"])
        until_finished(valet, sessions[-1])
    r = requests.get(f"{valet.url}/v4/reloadtask/{OK['id']}/history", params={"limit": 2}, timeout=30)
    assert r.status_code == 200
    assert [run["sessionId"] for run in r.json()] == sessions[::-1]
    assert all(set(run) == RUN_FIELDS and run["taskName"] == OK["name"] for run in r.json())
    assert_error(requests.get(f"{valet.url}/v4/reloadtask/{OK['id']}/history",
                              params={"limit": 0}, timeout=30), 400)


def test_repository_down_answers_503(valet, wait_sense) -> None:
    wait_sense.set_faults(refuse=True)
    try:
        assert_error(start(valet, OK["id"]), 503)
        assert_error(status(valet, UNKNOWN), 503)
    finally:
        wait_sense.clear_faults()


def test_starttaskname_items_in_the_start_endpoint(valet, wait_sense) -> None:
    body = [{"type": "starttaskname", "payload": {"taskName": OK["name"]}},
            {"type": "starttaskname", "payload": {"taskName": TWIN_A["name"]}},
            {"type": "starttaskname", "payload": {"taskName": "nobody"}},
            {"type": "starttaskname", "payload": {"taskName": FILTERED_OUT["name"]}}]
    r = requests.post(f"{valet.url}/v4/reloadtask/-/start", json=body, timeout=30)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["tasksName"] == [{"taskId": OK["id"], "taskName": OK["name"]}]
    assert answer["tasksNameDenied"] == [{"taskName": FILTERED_OUT["name"]}]
    assert [i["taskName"] for i in answer["tasksNameInvalid"]] == [TWIN_A["name"], "nobody"]
    assert {k: v for k, v in answer.items() if not k.startswith("tasksName")} == result()
    bad = requests.post(f"{valet.url}/v4/reloadtask/-/start", timeout=30,
                        json=[{"type": "starttaskname", "payload": {"taskName": ""}}])
    assert "taskName" in assert_error(bad, 400)["message"]


def test_the_endpoints_are_in_the_openapi_document_with_examples(valet) -> None:
    doc = requests.get(f"{valet.url}/openapi.json", timeout=30).json()
    paths = doc["paths"]
    for path, method in [("/v4/reloadtask/{task_id}/start/synchronous", "post"),
                         ("/v4/reloadtask/start/synchronous", "post"),
                         ("/v4/executionsession/{session_id}", "get"),
                         ("/v4/reloadtask/{task_id}/history", "get")]:
        operation = paths[path][method]
        content = operation["responses"]["200"]["content"]["application/json"]
        assert "example" in content, path
        assert set(paths[path]) <= {"get", "post", "parameters"}  # GET/POST only
    assert "starttaskname" in doc["components"]["schemas"]["StartItem"]["properties"]["type"]["enum"]


POLL_SCRIPT = """
LIB CONNECT TO 'Valet_POST';
Started:
SQL SELECT "started", "outcome", "sessionId" FROM JSON (wrap on) "root"
WITH CONNECTION (Url "$(vValet)/v4/reloadtask/$(vTask)/start/synchronous");
Let vSession = Peek('sessionId', 0, 'Started');
Let vOutcome = Peek('outcome', 0, 'Started');
Drop Table Started;

LIB CONNECT TO 'Valet_GET';
Let vPolls = 0;
Do
    Sleep 100;
    Run:
    SQL SELECT "statusCode", "status", "finished", "message" FROM JSON (wrap on) "root"
    WITH CONNECTION (Url "$(vValet)/v4/executionsession/$(vSession)");
    Let vStatus = Peek('status', 0, 'Run');
    Let vCode = Peek('statusCode', 0, 'Run');
    Let vMessage = Peek('message', 0, 'Run');
    Let vPolls = vPolls + 1;
    Drop Table Run;
Loop Until Match('$(vStatus)', 'FinishedSuccess', 'FinishedFail', 'Aborted', 'Error', 'Skipped', 'Reset') or vPolls > 200
Trace Task $(vTask) ended $(vStatus);
"""


def test_a_load_script_starts_and_polls_through_the_rest_connector(valet, tmp_path) -> None:
    script = tmp_path / "poll.qvs"
    script.write_text(POLL_SCRIPT)
    connections = tmp_path / "connections.yaml"
    connections.write_text(json.dumps({"Valet_GET": {"url": f"{valet.url}/v4/butlerping", "method": "GET"},
                                       "Valet_POST": {"url": f"{valet.url}/v4/butlerping", "method": "POST"}}))
    dump = tmp_path / "run.json"
    p = subprocess.run([sys.executable, "-m", "emulator", str(script), "--connections", str(connections),
                        "--var", f"vValet={valet.url}", "--var", f"vTask={FAIL['id']}",
                        "--dump", str(dump)], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    run = json.loads(dump.read_text())
    variables = run["variables"]
    assert (variables["vOutcome"], variables["vStatus"], variables["vCode"]) == \
        ("started", "FinishedFail", "8")
    assert variables["vMessage"] == "Field 'Amount' not found"
    methods = {(r["method"], r["url"].split("?")[0].rsplit("/", 2)[-2]) for r in run["requests"]}
    assert ("POST", "start") in methods and ("GET", "executionsession") in methods
