"""Task runs of the simulated repository: each start makes an execution session and result;
a run takes its task's `run.seconds` and then ends in its `run.status` (SPEC §4).

The state is computed from the clock when asked, so there are no timers to stop. A task with a
run in progress is not started again (the start is still answered as accepted)."""
from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass
from typing import Callable

from demo.sense.seed import SeedTask

STARTED = 2  # TaskExecutionStatus.Started


@dataclass(frozen=True)
class Run:
    session_id: str
    result_id: str
    task: SeedTask
    started_at: float  # epoch seconds

    @property
    def ends_at(self) -> float:
        return self.started_at + self.task.run_seconds

    def finished(self, now: float) -> bool:
        return now >= self.ends_at

    def status(self, now: float) -> int:
        return self.task.run_status if self.finished(now) else STARTED


class Runs:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._by_session: dict[str, Run] = {}
        self._by_result: dict[str, Run] = {}
        self._latest: dict[str, Run] = {}

    def start(self, task: SeedTask) -> Run | None:
        """A new run of `task`, or None when one is already in progress."""
        with self._lock:
            now = self.clock()
            last = self._latest.get(task.id)
            if last is not None and not last.finished(now):
                return None
            run = Run(str(uuid.uuid4()), str(uuid.uuid4()), task, now)
            self._by_session[run.session_id] = run
            self._by_result[run.result_id] = run
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

    def result(self, result_id: str) -> Run | None:
        with self._lock:
            return self._by_result.get(result_id)

    def all(self) -> list[Run]:
        with self._lock:
            return list(self._by_result.values())
