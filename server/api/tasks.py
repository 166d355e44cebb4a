"""Butler's start-task endpoint, `PUT|POST /v4/reloadtask/{taskId}/start`. The rules live in
server.tasks (shared with MQTT and the CLI); this module only speaks HTTP.

The body is parsed by server.tasks.parse_items (item-numbered messages, the same for every entry
point); the schemas below describe it and the answer in the OpenAPI document."""
from __future__ import annotations

from flask import jsonify, request
from marshmallow import Schema, fields, validate
from webargs.core import missing

from server import tasks
from server.api.errors import ApiError
from server.api.gate import caller_of, requires
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
        '"value", "ttl" (ms, optional)} — stored before any task starts')})


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
_BODY_DOC = {"required": True, "description": "items in order; [] when the URL's ID is all",
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
    starter = current().starter
    if starter is None:
        raise ApiError(503, "task starts are not configured: set Butler.configQRS.host to the "
                            "Sense repository")
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


def _invalid(e: tasks.InvalidStartRequest) -> ApiError:
    return ApiError(400, f"invalid start request: {e}")
