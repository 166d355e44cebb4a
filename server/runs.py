"""Following a task run: its status read from the repository, flat, and a wait until it ends.

How a run is read (Qlik's QRS reference, Task: Start synchronous,
https://help.qlik.com/en-US/sense-developer/February2024/Subsystems/RepositoryServiceAPI/Content/Sense_RepositoryServiceAPI/RepositoryServiceAPI-Task-Start-Task.htm):
`GET /qrs/executionsession/{id}` while it runs; once that answers 404 "execution of the task has
finished", and `GET /qrs/executionresult?filter=ExecutionId eq {id}` holds the outcome, one
result per try when retries are configured: the last try's status is the run's. A run counts
as finished only once its session is gone, so a failed try that is about to be retried is not
taken for the end.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from server.qrs import QrsClient, QrsError, id_term

# TaskExecutionStatus (/qrs/about/api/enums, qlik-facts §5)
STATUS_NAMES = ("NeverStarted", "Triggered", "Started", "Queued", "AbortInitiated", "Aborting",
                "Aborted", "FinishedSuccess", "FinishedFail", "Skipped", "Retry", "Error", "Reset",
                "DistributionQueue", "DistributionRunning")
SUCCESS = 7
RUNNING = frozenset({1, 2, 3, 4, 5, 10, 13, 14})
NEVER = "1753"  # Sense writes "never" dates as 1753-01-01 (qlik-facts §4)
ERROR_DETAIL = 0  # detailsType 0 Error, 1 Warning, 2 Information


def status_name(code: int) -> str:
    return STATUS_NAMES[code] if 0 <= code < len(STATUS_NAMES) else f"Unknown({code})"


@dataclass(frozen=True)
class RunStatus:
    """One run, flat, as the REST connector turns JSON into one row."""

    session_id: str
    task_id: str
    task_name: str
    status_code: int
    finished: bool
    start_time: str  # ISO, "" before it started
    stop_time: str  # ISO, "" while running
    duration_ms: int
    tries: int
    message: str  # the repository's last error detail, else its last detail

    @property
    def status(self) -> str:
        return status_name(self.status_code)

    @property
    def succeeded(self) -> bool:
        return self.finished and self.status_code == SUCCESS

    def to_json(self) -> dict:
        return {"sessionId": self.session_id, "taskId": self.task_id, "taskName": self.task_name,
                "statusCode": self.status_code, "status": self.status,
                "finished": self.finished, "succeeded": self.succeeded,
                "startTime": self.start_time, "stopTime": self.stop_time,
                "durationMs": self.duration_ms, "tries": self.tries, "message": self.message}


def _time(value: str | None) -> str:
    return "" if not value or value.startswith(NEVER) else value


def _message(details: list[dict]) -> str:
    errors = [d for d in details if d.get("detailsType") == ERROR_DETAIL]
    chosen = (errors or details or [{}])[-1]
    return str(chosen.get("message") or "")


def from_result(result: dict, session_id: str, task_id: str, task_name: str, finished: bool,
                tries: int) -> RunStatus:
    """A RunStatus from an ExecutionResult (whole or condensed)."""
    return RunStatus(session_id=session_id, task_id=task_id, task_name=task_name,
                     status_code=int(result.get("status") or 0), finished=finished,
                     start_time=_time(result.get("startTime")),
                     stop_time=_time(result.get("stopTime")),
                     duration_ms=int(result.get("duration") or 0), tries=tries,
                     message=_message(result.get("details") or []))


def read_run(client: QrsClient, session_id: str) -> RunStatus | None:
    """The run of an execution session; None when the repository knows no such session."""
    session = client.execution_session(session_id)
    if session is not None:
        task = session.get("reloadTask") or {}
        return from_result(session.get("executionResult") or {}, session_id, task.get("id", ""),
                           task.get("name", ""), False, int(session.get("retries") or 0) + 1)
    results = client.execution_results(session_id)
    if not results:
        return None
    last = results[-1]
    task_id = last.get("taskID", "")
    return from_result(last, session_id, task_id, _task_name(client, task_id),
                       int(last.get("status") or 0) not in RUNNING, len(results))


def task_history(client: QrsClient, task_id: str, limit: int) -> list[RunStatus]:
    """The task's last `limit` runs, newest first, each as its last try."""
    by_session: dict[str, list[dict]] = {}
    for result in client.task_results(task_id):
        by_session.setdefault(result.get("executionID", ""), []).append(result)
    name = _task_name(client, task_id)
    runs = [from_result(tries[-1], session, task_id, name,
                        int(tries[-1].get("status") or 0) not in RUNNING, len(tries))
            for session, tries in by_session.items()]
    return sorted(runs, key=lambda r: r.start_time or "9", reverse=True)[:limit]


def _task_name(client: QrsClient, task_id: str) -> str:
    try:
        found = client.find_tasks([id_term(task_id)])
    except ValueError:
        return ""
    return found[0].get("name", "") if found else ""


# -- waiting ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class WaitOutcome:
    """How a wait ended: `final` (finished), `timed_out`, or `lost` (the repository could not
    be read `retries` times in a row, or stopped knowing the session); `last` is the last
    status read, `error` what went wrong last."""

    last: RunStatus | None
    timed_out: bool = False
    lost: bool = False
    error: str = ""

    @property
    def final(self) -> RunStatus | None:
        return self.last if self.last is not None and self.last.finished else None


def wait_for_run(client: QrsClient, session_id: str, *, interval: float, timeout: float | None,
                 retries: int, on_status: Callable[[RunStatus], None],
                 on_error: Callable[[str, int], None] = lambda message, attempt: None,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> WaitOutcome:
    """Poll every `interval` s until the run finishes or `timeout` s pass; `on_status` is
    called on each change of status, `on_error` on each failed read (message, attempt)."""
    deadline = None if timeout is None else clock() + timeout
    last: RunStatus | None = None
    failures = 0
    while True:
        try:
            status = read_run(client, session_id)
            error = "" if status else f"the repository knows no execution session {session_id}"
        except QrsError as e:
            status, error = None, f"{e.kind}: {e.message}"
        if status is not None:
            failures = 0
            if last is None or (status.status_code, status.finished) != (last.status_code, last.finished):
                on_status(status)
            last = status
            if status.finished:
                return WaitOutcome(status)
        else:
            failures += 1
            on_error(error, failures)
            if failures > retries:
                return WaitOutcome(last, lost=True, error=error)
        if deadline is not None and clock() >= deadline:
            return WaitOutcome(last, timed_out=True)
        sleep(interval if deadline is None else max(0.0, min(interval, deadline - clock())))
