"""Task runs of the simulated repository (SPEC §4): each start makes an execution session with
one execution result per try, and follows a timeline fixed when the run is triggered:

    Triggered -> [Queued, while the scheduler's slots are all taken] -> Started -> end status

A try takes the task's `run.seconds`: its first fifth (at most 1 s) Triggered, the rest Started.
A task seeded with `run.retries: K` fails K tries (FinishedFail) before its last try ends in
`run.status`; each try is a new execution result of the same session, as Qlik documents: "If
task retries are configured, there can be more than one execution result entity for a single
session as each task retry renders a new execution result"
(https://help.qlik.com/en-US/sense-developer/February2024/Subsystems/RepositoryServiceAPI/Content/Sense_RepositoryServiceAPI/RepositoryServiceAPI-Task-Start-Task.htm).
At most `max_concurrent` runs are Started at once (the QMC's scheduler default is 4); later
ones wait Queued, first come first served. A run keeps its slot through its retries.

States are computed from the clock when asked, so there are no timers to stop. A task with a
run in progress is not started again (the start is still answered as accepted). Every run is
kept: the history of a task is its runs' results."""
from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass
from typing import Callable

from demo.sense.seed import STATUSES, SeedTask

TRIGGERED, STARTED, QUEUED, FINISHED_FAIL = 1, 2, 3, 8
MAX_CONCURRENT = 4
TRIGGER_SHARE, TRIGGER_MAX_SECONDS = 0.2, 1.0
FAILURE_STATUSES = {4, 5, 6, 8, 11, 12}


def trigger_seconds(task: SeedTask) -> float:
    return min(task.run_seconds * TRIGGER_SHARE, TRIGGER_MAX_SECONDS)


@dataclass(frozen=True)
class Attempt:
    """One try of a run: one execution result."""

    result_id: str
    triggered_at: float  # epoch seconds
    ready_at: float  # end of the Triggered phase; Queued from here until started_at
    started_at: float
    ends_at: float
    final_status: int
    message: str  # the seed's message for a failed end, else ""

    def status(self, now: float) -> int:
        if now >= self.ends_at:
            return self.final_status
        if now >= self.started_at:
            return STARTED
        return QUEUED if now >= self.ready_at else TRIGGERED

    def finished(self, now: float) -> bool:
        return now >= self.ends_at

    def history(self, now: float) -> list[tuple[float, int]]:
        """(time, status) of each state this try has reached by `now`, in order."""
        steps = [(self.triggered_at, TRIGGERED)]
        if self.started_at > self.ready_at:
            steps.append((self.ready_at, QUEUED))
        steps += [(self.started_at, STARTED), (self.ends_at, self.final_status)]
        return [(at, status) for at, status in steps if at <= now]


@dataclass(frozen=True)
class Run:
    session_id: str
    task: SeedTask
    attempts: tuple[Attempt, ...]

    @property
    def triggered_at(self) -> float:
        return self.attempts[0].triggered_at

    @property
    def ends_at(self) -> float:
        return self.attempts[-1].ends_at

    def finished(self, now: float) -> bool:
        return now >= self.ends_at

    def visible(self, now: float) -> list[Attempt]:
        """The tries that exist by `now` (a retry's result appears when it is triggered)."""
        return [a for a in self.attempts if a.triggered_at <= now] or [self.attempts[0]]

    def current(self, now: float) -> Attempt:
        return self.visible(now)[-1]

    def status(self, now: float) -> int:
        return self.current(now).status(now)


def _plan(task: SeedTask, now: float, slot_free_at: float) -> tuple[Attempt, ...]:
    """The tries of a run triggered at `now` whose slot frees at `slot_free_at`."""
    trigger = trigger_seconds(task)
    working = task.run_seconds - trigger
    attempts: list[Attempt] = []
    triggered = now
    for n in range(task.run_retries + 1):
        last = n == task.run_retries
        ready = triggered + trigger
        started = max(ready, slot_free_at) if n == 0 else ready
        status = task.run_status if last else FINISHED_FAIL
        message = task.run_message if status in FAILURE_STATUSES else ""
        attempts.append(Attempt(str(uuid.uuid4()), triggered, ready, started, started + working,
                                status, message or _default_message(status)))
        triggered = started + working
    return tuple(attempts)


def _default_message(status: int) -> str:
    if status in FAILURE_STATUSES:
        return f"The task ended with status {STATUSES[status]} (seeded in the simulated repository)"
    return ""


class Runs:
    def __init__(self, clock: Callable[[], float] = time.time,
                 max_concurrent: int = MAX_CONCURRENT) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._slots = [0.0] * max_concurrent  # when each scheduler slot is free again
        self._by_session: dict[str, Run] = {}
        self._by_result: dict[str, tuple[Run, Attempt]] = {}
        self._latest: dict[str, Run] = {}

    def start(self, task: SeedTask) -> Run | None:
        """A new run of `task`, or None when one is already in progress."""
        with self._lock:
            now = self.clock()
            last = self._latest.get(task.id)
            if last is not None and not last.finished(now):
                return None
            slot = min(range(len(self._slots)), key=self._slots.__getitem__)
            run = Run(str(uuid.uuid4()), task, _plan(task, now, self._slots[slot]))
            self._slots[slot] = max(self._slots[slot], run.ends_at)
            self._by_session[run.session_id] = run
            for attempt in run.attempts:
                self._by_result[attempt.result_id] = (run, attempt)
            self._latest[task.id] = run
            return run

    def latest(self, task_id: str) -> Run | None:
        with self._lock:
            return self._latest.get(task_id)

    def active_session(self, session_id: str) -> Run | None:
        """The run of an execution session; None once it has ended (Sense deletes the session)."""
        with self._lock:
            run = self._by_session.get(session_id)
        return run if run is not None and not run.finished(self.clock()) else None

    def result(self, result_id: str) -> tuple[Run, Attempt] | None:
        """The run and try of an execution result, once that try exists."""
        with self._lock:
            found = self._by_result.get(result_id)
        if found is None or found[1] not in found[0].visible(self.clock()):
            return None
        return found

    def all(self) -> list[Run]:
        with self._lock:
            return list(self._by_session.values())
