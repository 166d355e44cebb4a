"""The simulated repository's runs on a clock the test moves: the states a run passes through
(Triggered -> Queued -> Started -> end), retries as one execution result per try, history.

Shapes and meanings from Qlik's QRS API reference: task start/synchronous ("If the poll returns
404 Not Found, execution of the task has finished"; "each task retry renders a new execution
result", https://help.qlik.com/en-US/sense-developer/February2024/Subsystems/RepositoryServiceAPI/Content/Sense_RepositoryServiceAPI/RepositoryServiceAPI-Task-Start-Task.htm),
ExecutionResult (https://help.qlik.com/en-US/sense-developer/APIs/RepositoryServiceAPI/index.html?page=1739),
GET /executionresult answering ExecutionResultCondensed
(https://help.qlik.com/en-US/sense-developer/May2025/APIs/RepositoryServiceAPI/index.html?page=693).
TaskExecutionStatus codes: 1 Triggered, 2 Started, 3 Queued, 7 FinishedSuccess, 8 FinishedFail."""
from __future__ import annotations

from demo.sense.repository import Repository, Request
from demo.sense.seed import SeedTask

ONE = SeedTask(id="11111111-1111-4111-8111-111111111111", name="One", app_id="a" * 8 + "-0000-4000-8000-000000000001",
               app_name="One", run_seconds=1.0)
RETRIED = SeedTask(id="22222222-2222-4222-8222-222222222222", name="Retried",
                   app_id="a" * 8 + "-0000-4000-8000-000000000002", app_name="Retried",
                   run_seconds=1.0, run_status=7, run_retries=2)
FAILS = SeedTask(id="33333333-3333-4333-8333-333333333333", name="Fails",
                 app_id="a" * 8 + "-0000-4000-8000-000000000003", app_name="Fails",
                 run_seconds=1.0, run_status=11, run_message="Connector reply error: table not found")
OTHERS = [SeedTask(id=f"4444444{n}-4444-4444-8444-444444444444", name=f"Other {n}",
                   app_id=f"aaaaaaa{n}-0000-4000-8000-000000000004", app_name="o", run_seconds=1.0)
          for n in range(3)]


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def repo(max_concurrent: int = 4) -> tuple[Repository, Clock]:
    clock = Clock()
    return Repository([ONE, RETRIED, FAILS, *OTHERS], clock=clock, max_concurrent=max_concurrent), clock


def call(r: Repository, method: str, path: str, **params: str):
    return r.handle(Request(method, path, params, None))


def start(r: Repository, task: SeedTask) -> str:
    answer = call(r, "POST", f"task/{task.id}/start/synchronous")
    assert answer.status == 201
    return answer.body["value"]


def session_status(r: Repository, sid: str) -> int | None:
    answer = call(r, "GET", f"executionsession/{sid}")
    return answer.body["executionResult"]["status"] if answer.status == 200 else None


def results(r: Repository, sid: str) -> list[dict]:
    return call(r, "GET", "executionresult", filter=f"ExecutionId eq {sid}").body


def test_a_run_is_triggered_then_started_then_ends_and_its_session_goes() -> None:
    r, clock = repo()
    sid = start(r, ONE)
    seen = []
    for step in range(12):  # 0 .. 1.1 s in tenths
        clock.now += 0.0 if step == 0 else 0.1
        seen.append(session_status(r, sid))
    assert seen[0] == 1 and seen[3] == 2 and seen[-1] is None  # Triggered, Started, gone (404)
    assert [x for x in dict.fromkeys(seen)] == [1, 2, None]
    [result] = results(r, sid)
    assert result["status"] == 7 and 750 <= result["duration"] <= 850
    messages = [d["message"] for d in result["details"]]
    assert messages == ["Changing task state to Triggered", "Changing task state to Started",
                        "Changing task state to FinishedSuccess"]


def test_runs_beyond_the_scheduler_slots_wait_queued_first_come_first_served() -> None:
    r, clock = repo(max_concurrent=2)
    first, second = start(r, OTHERS[0]), start(r, OTHERS[1])
    third = start(r, OTHERS[2])
    clock.now += 0.5
    assert [session_status(r, s) for s in (first, second, third)] == [2, 2, 3]
    clock.now += 0.6  # the first two ended at 1.0 s: the third got a slot at 1.0 s
    assert (session_status(r, first), session_status(r, third)) == (None, 2)
    clock.now += 1.0
    assert session_status(r, third) is None
    [result] = results(r, third)
    details = [d["message"] for d in result["details"]]
    assert details[:3] == ["Changing task state to Triggered", "Changing task state to Queued",
                           "Changing task state to Started"]


def test_seeded_retries_are_one_result_per_try_of_the_same_session() -> None:
    r, clock = repo()
    sid = start(r, RETRIED)
    assert call(r, "GET", f"reloadtask/{RETRIED.id}").body["maxRetries"] == 2
    clock.now += 1.5  # the first try failed, the second runs
    tries = results(r, sid)
    assert [t["status"] for t in tries] == [8, 2]
    assert call(r, "GET", f"executionsession/{sid}").body["retries"] == 1
    clock.now += 1.6
    assert [t["status"] for t in results(r, sid)] == [8, 8, 7]
    assert session_status(r, sid) is None
    whole = call(r, "GET", "executionresult/full", filter=f"taskID eq {RETRIED.id}").body
    assert {w["executionID"] for w in whole} == {sid} and len(whole) == 3


def test_a_failure_carries_the_seeded_message_as_an_error_detail() -> None:
    r, clock = repo()
    sid = start(r, FAILS)
    clock.now += 2
    [result] = results(r, sid)
    assert result["status"] == 11
    assert result["details"][-1]["detailsType"] == 0  # Error
    assert result["details"][-1]["message"] == "Connector reply error: table not found"


def test_a_running_task_is_not_started_twice_and_history_keeps_every_run() -> None:
    r, clock = repo()
    sid = start(r, ONE)
    assert start(r, ONE) == "00000000-0000-0000-0000-000000000000"
    assert call(r, "POST", f"task/{ONE.id}/start").status == 204
    clock.now += 2
    again = start(r, ONE)
    clock.now += 2
    history = call(r, "GET", "executionresult/full", filter=f"taskID eq {ONE.id}").body
    assert [h["executionID"] for h in history] == [sid, again]
    last = call(r, "GET", f"reloadtask/{ONE.id}").body["operational"]["lastExecutionResult"]
    assert last["id"] == history[-1]["id"]
