"""The audit, read by an `admin` key: task starts and key-value deletions (server.audit).

Paging: newest first, `limit` rows a page (default 100, at most 1000); an answer's
`nextBefore` is the `before=` of the next (older) page, null on the last. Pages are cut by row
ID, so rows written meanwhile never shift them."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable

from flask import jsonify
from marshmallow import Schema, fields, validate

from server.api.gate import requires
from server.api.openapi import Blueprint
from server.audit import GUID, AuditLog, AuditQuery
from server.services import current

blp = Blueprint("audit", __name__, url_prefix="/v4/audit",
                description="The audit of task starts and key-value deletions (admin scope)")


class PageQuery(Schema):
    from_ = fields.AwareDateTime(data_key="from", default_timezone=timezone.utc, metadata={
        "description": "ISO 8601 time, e.g. 2026-12-01T00:00:00Z (UTC when no offset): rows "
                       "at or after it"})
    to = fields.AwareDateTime(default_timezone=timezone.utc, metadata={
        "description": "ISO 8601 time: rows before it"})
    caller = fields.String(validate=validate.Length(min=1, max=255), metadata={
        "description": "a client address or an API key's name, exactly"})
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000),
                           metadata={"description": "rows per page"})
    before = fields.Integer(validate=validate.Range(min=1, max=2**62), metadata={
        "description": "the previous page's nextBefore: rows older than it"})


GUID_ANY_CASE = GUID.pattern.replace("a-f", "a-fA-F")


class TaskStartQuery(PageQuery):
    task = fields.String(validate=validate.Regexp(f"^{GUID_ANY_CASE}$", error="must be a task ID (a GUID)"),
                         metadata={"description": "a task ID asked for or matched"})


class DeletionQuery(PageQuery):
    namespace = fields.String(validate=validate.Length(min=1, max=255),
                              metadata={"description": "the namespace, exactly"})


def _ms(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp() * 1000)


def _query(data: dict, **filters) -> AuditQuery:
    return AuditQuery(limit=data["limit"], before=data.get("before"), from_ms=_ms(data.get("from_")),
                      to_ms=_ms(data.get("to")), caller=data.get("caller"), **filters)


class _Who(Schema):
    id = fields.Integer(metadata={"description": "the row's ID, increasing"})
    at = fields.String(metadata={"description": "when, ISO 8601 UTC"})
    clientAddress = fields.String(metadata={"description": "the client's address (behind "
        "Valet.trustedProxies: X-Forwarded-For's), mqtt://broker or cli:user"})
    keyName = fields.String(allow_none=True, metadata={"description": "the API key's name; "
                                                                       "null without keys"})


class TaskStartRow(_Who):
    entryPoint = fields.String(metadata={"description": "rest, mqtt or cli"})
    request = fields.Dict(metadata={"description": "what was asked (key-value values left out)"})
    outcome = fields.Dict(metadata={"description": "the answer: status and result, or the refusal "
                                                   "or the repository's failure"})
    taskIds = fields.List(fields.String(), metadata={"description": "the task IDs asked for or "
                                                                    "matched"})


class DeletionRow(_Who):
    namespace = fields.String()
    key = fields.String(allow_none=True, metadata={"description": "null: the whole namespace"})
    deletedKeys = fields.Integer(metadata={"description": "live keys deleted"})
    outcome = fields.String(validate=validate.OneOf(["deleted", "notFound"]))


def _page_schema(row: type[Schema]) -> type[Schema]:
    return Schema.from_dict({
        "items": fields.List(fields.Nested(row), metadata={"description": "newest first"}),
        "nextBefore": fields.Integer(allow_none=True, metadata={
            "description": "before= for the next page; null on the last page"})},
        name=row.__name__.replace("Row", "Page"))


def _page_route(path: str, query: type[Schema], row: type[Schema]) -> Callable:
    """One audit page endpoint: its route, the admin scope, its query and its page's shape."""
    def decorate(view: Callable) -> Callable:
        view = blp.errors(400)(blp.response(200, _page_schema(row))(view))
        view = requires("admin")(blp.arguments(query, location="query")(view))
        return blp.route(path, methods=["GET"])(view)
    return decorate


def _answer(page: tuple[list[dict], int | None]):
    items, next_before = page
    return jsonify({"items": items, "nextBefore": next_before})


@_page_route("/taskstarts", TaskStartQuery, TaskStartRow)
def task_starts(query: dict):
    """Task starts by REST, MQTT and the CLI: who (address, key name), when, what was asked,
    what matched and the outcome; filtered by time, task and caller."""
    return _answer(AuditLog(current().database).task_starts(_query(query, task_id=query.get("task"))))


@_page_route("/keyvaluedeletions", DeletionQuery, DeletionRow)
def kv_deletions(query: dict):
    """Deletions of keys and namespaces, found or not: who, when, what, how many keys went;
    filtered by time, namespace and caller."""
    return _answer(AuditLog(current().database).kv_deletions(
        _query(query, namespace=query.get("namespace"))))
