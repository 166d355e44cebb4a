"""JSON shapes of the repository's entities, field names as Qlik's API reference gives them
(qlik-facts §4: ReloadTask `?page=1841`, ExecutionResult `?page=1739`, ExecutionSession
`?page=1743`, CustomPropertyValue `?page=1697` of
https://help.qlik.com/en-US/sense-developer/APIs/RepositoryServiceAPI/index.html).
Numbers for enums, ISO dates, "never" as 1753-01-01 (facts §4)."""
from __future__ import annotations

import functools
from datetime import datetime, timezone

from demo.sense.runs import QUEUED, TRIGGERED, Attempt, Run
from demo.sense.seed import STATUSES, SeedTask, derived_id

NEVER = "1753-01-01T00:00:00.000Z"
ZERO_ID = "00000000-0000-0000-0000-000000000000"
NODE_NAME = "sense-sim"
NODE_ID = derived_id("node", NODE_NAME)
REPOSITORY_USER = "INTERNAL\\sa_repository"
SCHEDULER_USER = "INTERNAL\\sa_scheduler"


@functools.lru_cache(maxsize=1 << 16)
def iso(epoch: float) -> str:
    """Cached: the same few times (a run's) are written for every task of a lookup."""
    stamp = datetime.fromtimestamp(epoch, timezone.utc)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


def _audit(entity_id: str, schema: str, created: float, user: str = REPOSITORY_USER) -> dict:
    return {"id": entity_id, "createdDate": iso(created), "modifiedDate": iso(created),
            "modifiedByUserName": user, "schemaPath": schema, "privileges": None}


def tag(name: str) -> dict:
    return {"id": derived_id("tag", name), "name": name, "privileges": None}


def custom_property(name: str, value: str, choices: list[str], created: float) -> dict:
    definition = {"id": derived_id("customproperty", name), "name": name, "valueType": "Text",
                  "choiceValues": choices, "privileges": None}
    return {**_audit(derived_id("cpvalue", f"{name}={value}"), "CustomPropertyValue", created),
            "value": value, "definition": definition}


def app(task: SeedTask) -> dict:
    # An unpublished app, as Qlik-CLI shows one (facts §4): no stream, "never" publish time.
    return {"id": task.app_id, "name": task.app_name, "appId": "", "publishTime": NEVER,
            "published": False, "stream": None, "savedInProductVersion": "14.0.0",
            "migrationHash": "", "availabilityStatus": 0, "privileges": None}


def _details(run: Run, attempt: Attempt, now: float) -> list[dict]:
    """ExecutionResultDetailCondensed items (`?page=1741`): one per state the try reached
    (detailsType 2 Information), and the failure message last (0 Error)."""
    items = [(at, 2, f"Changing task state to {STATUSES[status]}")
             for at, status in attempt.history(now)]
    if attempt.finished(now) and attempt.message:
        items.append((attempt.ends_at, 0, attempt.message))
    return [{"id": derived_id("detail", f"{attempt.result_id}:{n}"), "privileges": None,
             "detailsType": kind, "message": message, "detailCreatedDate": iso(at)}
            for n, (at, kind, message) in enumerate(items)]


def result_condensed(run: Run | None, now: float, attempt: Attempt | None = None) -> dict:
    """ExecutionResultCondensed of a try (default: the run's current one); a task never run
    has a NeverStarted one."""
    if run is None:
        return {"id": ZERO_ID, "executingNodeName": "", "status": 0, "startTime": NEVER,
                "stopTime": NEVER, "duration": 0, "fileReferenceID": ZERO_ID,
                "scriptLogAvailable": False, "details": [], "scriptLogLocation": "",
                "scriptLogSize": 0, "privileges": None}
    attempt = attempt or run.current(now)
    started = attempt.status(now) not in (TRIGGERED, QUEUED)
    stop = attempt.ends_at if attempt.finished(now) else None
    return {"id": attempt.result_id, "executingNodeName": NODE_NAME if started else "",
            "status": attempt.status(now),
            "startTime": iso(attempt.started_at) if started else NEVER,
            "stopTime": iso(stop) if stop else NEVER,
            "duration": round(((stop or now) - attempt.started_at) * 1000) if started else 0,
            "fileReferenceID": ZERO_ID, "scriptLogAvailable": False,
            "details": _details(run, attempt, now), "scriptLogLocation": "",
            "scriptLogSize": 0, "privileges": None}


def execution_result(run: Run, now: float, attempt: Attempt | None = None) -> dict:
    attempt = attempt or run.current(now)
    condensed = result_condensed(run, now, attempt)
    return {**_audit(attempt.result_id, "ExecutionResult", attempt.triggered_at, SCHEDULER_USER),
            **{k: v for k, v in condensed.items() if k not in ("id", "privileges")},
            "taskID": run.task.id, "executionID": run.session_id, "appID": run.task.app_id,
            "executingNodeID": NODE_ID}


def task_condensed(task: SeedTask) -> dict:
    return {"id": task.id, "privileges": None, "name": task.name, "taskType": 0,
            "enabled": task.enabled, "taskSessionTimeout": 1440, "maxRetries": task.run_retries}


def task_static(task: SeedTask, choices: dict[str, list[str]], created: float) -> dict:
    """The parts of a ReloadTask that runs do not change (cached by the repository)."""
    return {**_audit(task.id, "ReloadTask", created),
            **task_condensed(task),
            "customProperties": [custom_property(name, value, choices.get(name, []), created)
                                 for name, values in task.custom_properties.items()
                                 for value in values],
            "tags": [tag(name) for name in task.tags],
            "app": app(task),
            "isManuallyTriggered": False,
            "isPartialReload": False}


def operational(task: SeedTask, last_run: Run | None, now: float) -> dict:
    return {"id": derived_id("operational", task.id),
            "lastExecutionResult": result_condensed(last_run, now),
            "nextExecution": NEVER, "privileges": None}


def task_full(task: SeedTask, last_run: Run | None, choices: dict[str, list[str]],
              created: float, now: float) -> dict:
    return {**task_static(task, choices, created), "operational": operational(task, last_run, now)}


def execution_session(run: Run, now: float) -> dict:
    task = run.task
    return {**_audit(run.session_id, "ExecutionSession", run.triggered_at, SCHEDULER_USER),
            "executingNode": NODE_NAME,
            "executionResult": result_condensed(run, now),
            "abortAt": iso(run.triggered_at + 1440 * 60),
            "retries": len(run.visible(now)) - 1, "abortReason": 0,
            "app": app(task),
            "user": {"id": derived_id("user", SCHEDULER_USER), "userId": "sa_scheduler",
                     "userDirectory": "INTERNAL", "name": "sa_scheduler", "privileges": None},
            "reloadTask": task_condensed(task),
            "userSyncTask": None, "externalProgramTask": None}


ABOUT = {"buildVersion": "20.4.0.0", "buildDate": "9/20/2013 10:09:00 AM",
         "databaseProvider": "Devart.Data.PostgreSql", "nodeType": 1, "sharedPersistence": True,
         "requiresBootstrap": False, "singleNodeOnly": False, "schemaPath": "About"}
