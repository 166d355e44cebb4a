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
kept: the history of a task is its runs' results.

A task with a seed `script:`, when the repository is given a script runner (demo/sense/scripts.py),
is run for real instead: Triggered as above, then Started while a thread runs the script, then
FinishedSuccess, or FinishedFail with the script's error as the message (each failed try is
retried up to `run.retries` times, a new execution result each). Its end is known only when the
script ends, so such runs take no scheduler slot (they are never Queued)."""
from __future__ import annotations

import math
import threading
import time
import uuid
from dataclasses import dataclass, replace
from typing import Callable

from demo.sense.seed import STATUSES, SeedTask

TRIGGERED, STARTED, QUEUED, FINISHED_SUCCESS, FINISHED_FAIL = 1, 2, 3, 7, 8
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
    message: str  # the seed's message (or the script's error) for a failed end, else ""
    log: tuple[tuple[float, str], ...] = ()  # a script's trace lines: (epoch seconds, text)

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


def _open_attempt(task: SeedTask, triggered: float) -> Attempt:
    """A try of a scripted run: Started once triggered, until its script ends (`_run_scripts`)."""
    ready = triggered + trigger_seconds(task)
    return Attempt(str(uuid.uuid4()), triggered, ready, ready, math.inf, FINISHED_FAIL, "")


@dataclass(frozen=True)
class ScriptOutcome:
    ok: bool
    message: str  # the script's error when it failed
    log: tuple[tuple[float, str], ...] = ()


def _default_message(status: int) -> str:
    if status in FAILURE_STATUSES:
        return f"The task ended with status {STATUSES[status]} (seeded in the simulated repository)"
    return ""


class Runs:
    def __init__(self, clock: Callable[[], float] = time.time,
                 max_concurrent: int = MAX_CONCURRENT,
                 run_script: Callable[[SeedTask], ScriptOutcome] | None = None) -> None:
        self.clock = clock
        self.run_script = run_script
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
            if self._scripted(task):
                run = Run(str(uuid.uuid4()), task, (_open_attempt(task, now),))
            else:
                slot = min(range(len(self._slots)), key=self._slots.__getitem__)
                run = Run(str(uuid.uuid4()), task, _plan(task, now, self._slots[slot]))
                self._slots[slot] = max(self._slots[slot], run.ends_at)
            self._keep(run)
        if self._scripted(task):
            threading.Thread(target=self._run_scripts, args=(run.session_id,),
                             name=f"script-{task.name}", daemon=True).start()
        return run

    def _scripted(self, task: SeedTask) -> bool:
        return self.run_script is not None and task.script is not None

    def _keep(self, run: Run) -> None:
        """Record `run`, or its newer state (same session); under the lock."""
        self._by_session[run.session_id] = run
        for attempt in run.attempts:
            self._by_result[attempt.result_id] = (run, attempt)
        latest = self._latest.get(run.task.id)
        if latest is None or latest.session_id == run.session_id or latest.finished(self.clock()):
            self._latest[run.task.id] = run

    def _run_scripts(self, session_id: str) -> None:
        """A scripted run's tries, one after the other, each running the task's script."""
        while True:
            with self._lock:
                run = self._by_session[session_id]
            attempt = run.attempts[-1]
            time.sleep(max(0.0, attempt.started_at - self.clock()))
            outcome = self.run_script(run.task)
            with self._lock:
                now = self.clock()
                ended = replace(attempt, ends_at=now, log=outcome.log, message=outcome.message,
                                final_status=FINISHED_SUCCESS if outcome.ok else FINISHED_FAIL)
                attempts = (*run.attempts[:-1], ended)
                retry = not outcome.ok and len(attempts) <= run.task.run_retries
                if retry:
                    attempts += (_open_attempt(run.task, now),)
                self._keep(Run(session_id, run.task, attempts))
            if not retry:
                return

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
