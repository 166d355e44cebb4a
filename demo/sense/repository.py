"""The QRS endpoints of the simulated repository, as plain functions of a request: no sockets.

Answers follow qlik-facts §2/§3. Choices where Sense's answer is not recorded (README):
- unknown task GUID on `task/{id}/start`, `.../start/synchronous`, `reloadtask/{id}`: 404
  `Cannot find a task with the following id: <id>`; a non-GUID in an `{id}` slot does not match
  the route: 404 `No matching endpoint found`;
- `task/start/many` with an unknown GUID: 404 and nothing starts (the batch is refused whole);
- a disabled task: `start` answers 204 and nothing runs; `start/synchronous` answers 201 with the
  zero GUID (documented for disabled tasks);
- a task already running: `start` 204, `start/synchronous` 201 zero GUID, no second run;
- `task/start?name=` with several tasks of that name starts the first in seed order.
The filter is evaluated on the full entity; condensed endpoints return condensed entities.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any, Callable

import orjson

from demo.sense import entities
from demo.sense.filters import Filter, FilterError, compile_filter, leaves
from demo.sense.runs import MAX_CONCURRENT, Attempt, Run, Runs, ScriptOutcome
from demo.sense.seed import SeedTask

NO_ENDPOINT = "No matching endpoint found"
_GUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
# A task with every optional part, to check filter properties against the entity's shape.
_SAMPLE_TASK = SeedTask(id=entities.ZERO_ID, name="x", app_id=entities.ZERO_ID, app_name="x",
                        tags=("x",), custom_properties={"x": ("x",)})


def _route(pattern: str) -> re.Pattern:
    return re.compile(pattern, re.IGNORECASE)


@dataclass(frozen=True)
class Response:
    status: int
    body: Any = None  # dict/list -> JSON, str -> plain text (JSON with `json`), None -> empty
    json: bool = False

    def encode(self) -> tuple[bytes, str | None]:
        if self.body is None:
            return b"", None
        if isinstance(self.body, str) and not self.json:
            return self.body.encode("utf-8"), "text/plain; charset=utf-8"
        # orjson: encoding is most of answering a lookup of many tasks, and orjson does it
        # ~15 times faster than the standard library (the same JSON, written compactly).
        return orjson.dumps(self.body), "application/json; charset=utf-8"


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # below /qrs, e.g. "task/full"
    params: dict[str, str]  # query parameters, names lower-cased
    body: Any


class Repository:
    def __init__(self, tasks: list[SeedTask], sync_reply: str = "value",
                 clock: Callable[[], float] = time.time, max_concurrent: int = MAX_CONCURRENT,
                 run_script: Callable[[SeedTask], ScriptOutcome] | None = None) -> None:
        self.tasks = {t.id: t for t in tasks}
        self.order = [t.id for t in tasks]
        self.runs = Runs(clock, max_concurrent, run_script)
        self.clock = clock
        self.created = clock()
        self.sync_reply = sync_reply
        self.choices = _choices(tasks)
        self.static = {t.id: entities.task_static(t, self.choices, self.created) for t in tasks}
        # Seed tasks do not change: prepared once, the unfiltered condensed list (Valet's lookup
        # of many IDs) is little more than its encoding (50,000 tasks: ~20 ms).
        self.condensed = {t.id: entities.task_condensed(t) for t in tasks}
        self.indexes: dict[tuple[str, ...], dict[str, set[str]] | None] = {}
        self.sample_task = entities.task_full(_SAMPLE_TASK, None, {}, 0, 0)
        self.sample_result = entities.execution_result(
            Run(entities.ZERO_ID, _SAMPLE_TASK, (Attempt(entities.ZERO_ID, 0, 0, 0, 0, 7, "x"),)), 1)
        self.routes: list[tuple[str, re.Pattern, Callable[..., Response]]] = [
            ("GET", _route(r"about"), lambda r: Response(200, entities.ABOUT)),
            ("GET", _route(r"(task|reloadtask)"), lambda r, _: self.list_tasks(r, full=False)),
            ("GET", _route(r"(task|reloadtask)/full"), lambda r, _: self.list_tasks(r, full=True)),
            ("GET", _route(rf"reloadtask/({_GUID})"), self.get_task),
            ("POST", _route(r"task/start"), lambda r: self.start_by_name(r, sync=False)),
            ("POST", _route(r"task/start/synchronous"), lambda r: self.start_by_name(r, sync=True)),
            ("POST", _route(r"task/start/many"), self.start_many),
            ("POST", _route(rf"task/({_GUID})/start"), lambda r, i: self.start_by_id(i, sync=False)),
            ("POST", _route(rf"task/({_GUID})/start/synchronous"),
             lambda r, i: self.start_by_id(i, sync=True)),
            ("GET", _route(rf"executionsession/({_GUID})"), self.get_session),
            ("GET", _route(r"executionresult"), lambda r: self.list_results(r, full=False)),
            ("GET", _route(r"executionresult/full"), lambda r: self.list_results(r, full=True)),
            ("GET", _route(rf"executionresult/({_GUID})"), self.get_result),
        ]

    def handle(self, request: Request) -> Response:
        path = request.path.strip("/")
        for method, pattern, handler in self.routes:
            m = pattern.fullmatch(path)
            if m and method == request.method:
                try:
                    return handler(request, *m.groups())
                except FilterError as e:
                    return Response(400, str(e))
        return Response(404, NO_ENDPOINT)

    # -- reading tasks ---------------------------------------------------------------------
    def task_json(self, task: SeedTask, full: bool) -> dict:
        if not full:
            return self.condensed[task.id]
        return {**self.static[task.id],
                "operational": entities.operational(task, self.runs.latest(task.id), self.clock())}

    def list_tasks(self, request: Request, full: bool) -> Response:
        keep = self._filter(request, self.sample_task)
        if keep is None:
            return Response(200, [self.task_json(self.tasks[i], full) for i in self.order])
        # Building every task's operational part is most of a lookup's time; a filter that
        # cannot name it is matched on the prepared rest of the entity.
        judged = (self.task_json if "operational" in keep.text.lower()
                  else lambda task, full: self.static[task.id])
        # A filter of `eq` on indexed text (Valet's lookups) is answered by the index alone: it
        # compares as the filter does (lower-cased, any element of an array), so the tasks it
        # gives are exactly those the filter matches (test_sense_lookup_index).
        narrowed = keep.candidates(self._task_ids_where)
        found = ([self.tasks[i] for i in self.order if i in narrowed] if narrowed is not None
                 else [task for task in (self.tasks[i] for i in self.order) if keep(judged(task, True))])
        return Response(200, [self.task_json(t, full) for t in found])

    def _task_ids_where(self, path: tuple[str, ...], value: str) -> set[str] | None:
        """The IDs of the tasks whose text property at `path` equals `value` (ignoring case),
        from an index built on first use; None for a property that is not always text or
        that runs change (`operational`), which a lookup judges task by task."""
        if path not in self.indexes:
            self.indexes[path] = None if path[0] == "operational" else _index(self.static, path)
        index = self.indexes[path]
        return None if index is None else index.get(value.lower(), set())

    def get_task(self, request: Request, task_id: str) -> Response:
        task = self.tasks.get(task_id.lower())
        return Response(200, self.task_json(task, True)) if task else _unknown_id(task_id)

    def _filter(self, request: Request, sample: dict) -> Filter | None:
        text = request.params.get("filter", "")
        return compile_filter(text, sample) if text.strip() else None

    # -- starting --------------------------------------------------------------------------
    def start_by_id(self, task_id: str, sync: bool) -> Response:
        task = self.tasks.get(task_id.lower())
        return self._start(task, sync) if task else _unknown_id(task_id)

    def start_by_name(self, request: Request, sync: bool) -> Response:
        name = request.params.get("name", "")
        task = next((self.tasks[i] for i in self.order if self.tasks[i].name.lower() == name.lower()), None)
        if task is None or not name:
            return Response(400, f"Cannot find a task with the following name: {name}")
        return self._start(task, sync)

    def start_many(self, request: Request) -> Response:
        ids = request.body
        if not isinstance(ids, list) or not all(isinstance(i, str) and re.fullmatch(_GUID, i) for i in ids):
            return Response(400, "The request body must be a JSON array of task IDs (GUIDs)")
        unknown = [i for i in ids if i.lower() not in self.tasks]
        if unknown:
            return _unknown_id(", ".join(unknown))
        for task_id in ids:
            self._run(self.tasks[task_id.lower()])
        return Response(204)

    def _start(self, task: SeedTask, sync: bool) -> Response:
        run = self._run(task)
        if not sync:
            return Response(204)
        session = run.session_id if run else entities.ZERO_ID
        return Response(201, {"value": session} if self.sync_reply == "value" else session, json=True)

    def _run(self, task: SeedTask) -> Run | None:
        return self.runs.start(task) if task.enabled else None

    # -- execution ---------------------------------------------------------------------------
    def get_session(self, request: Request, session_id: str) -> Response:
        run = self.runs.active_session(session_id.lower())
        if run is None:
            return Response(404, f"Cannot find an execution session with the following id: {session_id}")
        return Response(200, entities.execution_session(run, self.clock()))

    def list_results(self, request: Request, full: bool) -> Response:
        """Every try of every run (one result per try); `executionresult` answers condensed
        results, `executionresult/full` whole ones (API reference `?page=693`, `?page=990`)."""
        now = self.clock()
        keep = self._filter(request, self.sample_result)
        results = [(entities.execution_result(run, now, attempt), run, attempt)
                   for run in self.runs.all() for attempt in run.visible(now)]
        return Response(200, [whole if full else entities.result_condensed(run, now, attempt)
                              for whole, run, attempt in results if keep is None or keep(whole)])

    def get_result(self, request: Request, result_id: str) -> Response:
        found = self.runs.result(result_id.lower())
        if found is None:
            return Response(404, f"Cannot find an execution result with the following id: {result_id}")
        run, attempt = found
        return Response(200, entities.execution_result(run, self.clock(), attempt))


def _index(entities_by_id: dict[str, dict], path: tuple[str, ...]) -> dict[str, set[str]] | None:
    """Lower-cased text at `path` -> the IDs of the entities holding it; None when some
    entity holds anything but text there (a comparison with it could raise)."""
    index: dict[str, set[str]] = {}
    for entity_id, entity in entities_by_id.items():
        for leaf in leaves(entity, path):
            if not isinstance(leaf, str):
                return None
            index.setdefault(leaf.lower(), set()).add(entity_id)
    return index


def _unknown_id(task_id: str) -> Response:
    return Response(404, f"Cannot find a task with the following id: {task_id}")


def _choices(tasks: list[SeedTask]) -> dict[str, list[str]]:
    """Each custom property's choice values: every value the seed uses, in order of appearance."""
    out: dict[str, list[str]] = {}
    for task in tasks:
        for name, values in task.custom_properties.items():
            out.setdefault(name, [])
            out[name] += [v for v in values if v not in out[name]]
    return out
