"""Butler's start-task endpoint, `PUT|POST /v4/reloadtask/{taskId}/start`, and Valet's
start-and-wait endpoints (a synchronous start by ID or name, a run's status, a task's last runs:
GET/POST only and flat JSON, so Qlik's REST connector reads each answer as one row). The rules
live in server.tasks and server.runs (shared with MQTT and the CLI); this module only speaks HTTP.

The body is parsed by server.tasks.parse_items (item-numbered messages, the same for every entry
point); the schemas below describe it and the answer in the OpenAPI document."""
from __future__ import annotations

from typing import Callable, TypeVar

from flask import jsonify, request
from marshmallow import Schema, fields, validate
from webargs.core import missing

from server import runs, tasks
from server.api.errors import ApiError
from server.api.gate import caller_of, requires
from server.qrs import QrsClient, QrsError, is_guid
from server.api.openapi import Blueprint, JsonBodyParser
from server.services import current

blp = Blueprint("tasks", __name__, url_prefix="/v4",
                description="Start Sense tasks by ID, tag or custom property (Butler-compatible)")
_body_parser = JsonBodyParser()


class StartItemSchema(Schema):
    type = fields.String(required=True, validate=validate.OneOf(tasks.ITEM_TYPES))
    payload = fields.Dict(required=True, metadata={"description": (
        'starttaskid: {"taskId"}; starttasktag: {"tag"}; starttaskcustomproperty: '
        '{"customPropertyName", "customPropertyValue"}; keyvaluestore: {"namespace", "key", '
        '"value", "ttl" (ms, optional)} — stored before any task starts; Valet only: '
        'starttaskname: {"taskName"}, matched exactly, allowed by the start filter when the '
        "task's ID is")})


class StartQuery(Schema):
    allTaskIdsMustExist = fields.Boolean(load_default=False, metadata={
        "description": "true: one invalid task ID stops every ID-based start (tags and custom "
                       "properties are not affected)"})


class TaskRefSchema(Schema):
    taskId = fields.String()
    taskName = fields.String()


class FailedSchema(TaskRefSchema):
    reason = fields.String()


class TasksIdSchema(Schema):
    started = fields.List(fields.Nested(TaskRefSchema), metadata={
        "description": "tasks started by ID that the repository accepted"})
    invalid = fields.List(fields.Nested(TaskRefSchema), metadata={
        "description": "not a GUID, or not in Sense"})
    denied = fields.List(fields.Nested(TaskRefSchema), metadata={
        "description": "not on the start filter's allow list, or held back by allTaskIdsMustExist"})


class StartResultSchema(Schema):
    tasksId = fields.Nested(TasksIdSchema)
    tasksTag = fields.List(fields.Nested(TaskRefSchema), metadata={
        "description": "per tag item, each task it matched and the repository accepted"})
    tasksTagDenied = fields.List(fields.Dict(), metadata={"description": '[{"tag"}]'})
    tasksCP = fields.List(fields.Nested(TaskRefSchema))
    tasksCPDenied = fields.List(fields.Dict(), metadata={"description": '[{"name", "value"}]'})
    failed = fields.List(fields.Nested(FailedSchema), metadata={
        "description": "Valet only: tasks matched but not started (disabled, or the repository "
                       "refused the start batch), each once, with the reason"})
    tasksName = fields.List(fields.Nested(TaskRefSchema), metadata={
        "description": "Valet only, present when starttaskname items were sent: tasks started "
                       "by name"})
    tasksNameDenied = fields.List(fields.Dict(), metadata={"description": '[{"taskName"}]'})
    tasksNameInvalid = fields.List(fields.Dict(), metadata={
        "description": '[{"taskName", "reason"}]: no task or several tasks have that name'})


# From the reference document's examples (Butler's docs, "Start Sense tasks using REST API").
_BODY_EXAMPLE = [{"type": "starttaskid", "payload": {"taskId": "7552d9fc-d1bb-4975-9a38-18357de531ea"}},
                 {"type": "starttasktag", "payload": {"tag": "startTask1"}},
                 {"type": "starttaskcustomproperty",
                  "payload": {"customPropertyName": "taskGroup", "customPropertyValue": "tasks2"}},
                 {"type": "keyvaluestore", "payload": {"namespace": "MyFineNamespace",
                                                       "key": "AnImportantKey",
                                                       "value": "TheValue", "ttl": 10000}}]
_RESULT_EXAMPLE = {"tasksId": {"started": [{"taskId": "e3b27f50-b1c0-4879-88fc-c7cdd9c1cf3e",
                                            "taskName": "Reload task of App1"}],
                               "invalid": [], "denied": []},
                   "tasksTag": [], "tasksTagDenied": [], "tasksCP": [], "tasksCPDenied": [],
                   "failed": []}
_BODY_DOC = {"required": False, "description": "items in order; [] or no body when the URL's ID is all",
             "content": {"application/json": {"schema": StartItemSchema(many=True),
                                               "example": _BODY_EXAMPLE}}}


@blp.route("/reloadtask/<enc:task_id>/start", methods=["PUT", "POST"])
@requires("task:start")
@blp.arguments(StartQuery, location="query")
@blp.doc(requestBody=_BODY_DOC)
@blp.response(200, StartResultSchema, example=_RESULT_EXAMPLE)
@blp.errors(400, 409, 413, 415, 502, 503, 504)
def start_tasks(query: dict, task_id: str):
    """Start tasks by the task ID in the URL (`-`: none) and the body's IDs, tags and custom
    properties; store the body's key-value items first. Each task starts at most once per call."""
    starter = _starter()
    body = _body_parser.load_json(request, None)
    caller = caller_of(request.environ)
    try:
        items = tasks.parse_items(task_id, [] if body is missing else body)
    except tasks.InvalidStartRequest as e:
        starter.refuse(caller, "rest", str(e))
        raise _invalid(e) from None
    try:
        result = starter.start(tasks.StartRequest(
            items, query["allTaskIdsMustExist"], caller=caller, entry_point="rest"))
    except tasks.InvalidStartRequest as e:
        raise _invalid(e) from None
    except tasks.RepositoryUnavailable as e:
        raise ApiError(e.http_status, e.message) from None
    return jsonify(result.to_json())


def _starter() -> tasks.TaskStarter:
    starter = current().starter
    if starter is None:
        raise ApiError(503, "task starts are not configured: set Butler.configQRS.host to the "
                            "Sense repository")
    return starter


def _invalid(e: tasks.InvalidStartRequest) -> ApiError:
    return ApiError(400, f"invalid start request: {e}")


# -- start-and-wait (Valet only) ------------------------------------------------------------------
_STARTED_EXAMPLE = {"started": True, "outcome": "started",
                    "sessionId": "b1e2c3d4-0000-4000-8000-00000000abcd",
                    "taskId": "e3b27f50-b1c0-4879-88fc-c7cdd9c1cf3e",
                    "taskName": "Reload task of App1", "message": "the repository started the task"}
_STATUS_EXAMPLE = {"sessionId": "b1e2c3d4-0000-4000-8000-00000000abcd",
                   "taskId": "e3b27f50-b1c0-4879-88fc-c7cdd9c1cf3e",
                   "taskName": "Reload task of App1", "statusCode": 8, "status": "FinishedFail",
                   "finished": True, "succeeded": False, "startTime": "2026-12-01T21:44:08.842Z",
                   "stopTime": "2026-12-01T21:44:10.442Z", "durationMs": 1600, "tries": 1,
                   "message": "The reload failed: table not found"}


class SyncStartSchema(Schema):
    started = fields.Boolean(metadata={"description": "true when `sessionId` is a run to follow"})
    outcome = fields.String(validate=validate.OneOf(tasks.SYNC_OUTCOMES), metadata={
        "description": "started; alreadyRunning (no second run: the session is the run in "
                       "progress); not started: invalid (not a GUID), unknown (no such ID or "
                       "name), ambiguous (several tasks have the name), denied (start filter), "
                       "disabled, notStarted (Sense answered the empty session ID), failed "
                       "(the start request failed)"})
    sessionId = fields.String(metadata={"description": "the execution session; \"\" when not started"})
    taskId = fields.String()
    taskName = fields.String()
    message = fields.String(metadata={"description": "what happened, in words"})


class ByNameQuery(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1), metadata={
        "description": "the task's exact name (case and all)"})


class RunStatusSchema(Schema):
    sessionId = fields.String()
    taskId = fields.String()
    taskName = fields.String()
    statusCode = fields.Integer(metadata={"description": "TaskExecutionStatus: 0 NeverStarted, "
        "1 Triggered, 2 Started, 3 Queued, 4 AbortInitiated, 5 Aborting, 6 Aborted, "
        "7 FinishedSuccess, 8 FinishedFail, 9 Skipped, 10 Retry, 11 Error, 12 Reset, "
        "13 DistributionQueue, 14 DistributionRunning"})
    status = fields.String(metadata={"description": "the status code's name"})
    finished = fields.Boolean(metadata={"description": "the run has ended (its execution "
                                                       "session is gone)"})
    succeeded = fields.Boolean(metadata={"description": "finished with FinishedSuccess"})
    startTime = fields.String(metadata={"description": "ISO time; \"\" before it started"})
    stopTime = fields.String(metadata={"description": "ISO time; \"\" while it runs"})
    durationMs = fields.Integer()
    tries = fields.Integer(metadata={"description": "1 + the retries so far"})
    message = fields.String(metadata={"description": "the repository's last error detail, "
                                                     "else its last detail"})


class HistoryQuery(Schema):
    limit = fields.Integer(load_default=10, validate=validate.Range(min=1, max=1000))


def _start_synchronously(target: tasks.ById | tasks.ByName):
    request_ = tasks.SyncStartRequest(target, caller=caller_of(request.environ),
                                      entry_point="rest")
    try:
        answer = _starter().start_synchronous(request_)
    except tasks.InvalidStartRequest as e:
        raise _invalid(e) from None
    except tasks.RepositoryUnavailable as e:
        raise ApiError(e.http_status, e.message) from None
    return jsonify(answer.to_json())


def _sync_start_docs(view: Callable) -> Callable:
    return blp.errors(400, 502, 503, 504)(blp.response(200, SyncStartSchema, example=_STARTED_EXAMPLE)(view))


@blp.route("/reloadtask/<enc:task_id>/start/synchronous", methods=["POST"])
@requires("task:start")
@_sync_start_docs
def start_task_synchronously(task_id: str):
    """Start one task by ID and answer its execution session, to follow with
    `GET /v4/executionsession/{sessionId}`. A task that cannot start is answered 200 with
    `started: false` and the reason, so a load script can act on it; a start of a task already
    running starts nothing and answers the run in progress. The start filter applies."""
    return _start_synchronously(tasks.ById(task_id))


@blp.route("/reloadtask/start/synchronous", methods=["POST"])
@requires("task:start")
@blp.arguments(ByNameQuery, location="query")
@_sync_start_docs
def start_task_by_name_synchronously(query: dict):
    """Start one task by its exact name (`?name=`), as the start by ID does. No task or several
    tasks with that name: `started: false` with outcome unknown or ambiguous."""
    return _start_synchronously(tasks.ByName(query["name"]))


T = TypeVar("T")


def _read(what: Callable[[QrsClient], T]) -> T:
    """A read from the repository, its failures answered 502/503/504."""
    try:
        with QrsClient(_starter().settings) as client:
            return what(client)
    except QrsError as e:
        raise ApiError(e.http_status, f"the Qlik Sense repository could not be read "
                                      f"({e.kind}: {e.message})") from None


def _guid_or_400(value: str, what: str) -> str:
    if not is_guid(value):
        raise ApiError(400, f"{what} must be a GUID, got {value[:80]!r}")
    return value


@blp.route("/executionsession/<enc:session_id>", methods=["GET"])
@requires("task:start")
@blp.response(200, RunStatusSchema, example=_STATUS_EXAMPLE)
@blp.errors(400, 404, 502, 503, 504)
def run_status(session_id: str):
    """The status of a run, flat: poll it until `finished` is true. Read from the repository's
    execution session while the run lasts, then from its execution results (the last try's)."""
    _guid_or_400(session_id, "the execution session ID")
    status = _read(lambda client: runs.read_run(client, session_id))
    if status is None:
        raise ApiError(404, f"the repository knows no execution session {session_id}; use the "
                            "sessionId a start/synchronous call answered")
    return jsonify(status.to_json())


@blp.route("/reloadtask/<enc:task_id>/history", methods=["GET"])
@requires("task:start")
@blp.arguments(HistoryQuery, location="query")
@blp.response(200, RunStatusSchema(many=True), example=[_STATUS_EXAMPLE])
@blp.errors(400, 502, 503, 504)
def task_history(query: dict, task_id: str):
    """The task's last runs (`limit`, default 10), newest first, one flat row per run: the
    status history the repository keeps."""
    _guid_or_400(task_id, "the task ID")
    history = _read(lambda client: runs.task_history(client, task_id, query["limit"]))
    return jsonify([run.to_json() for run in history])
