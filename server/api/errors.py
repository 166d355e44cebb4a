"""One JSON error shape for every failure: {"statusCode", "error", "message"}.

No stack trace and no HTML page ever reaches a client, whatever the URL or the fault.
"""
from __future__ import annotations

import logging
from http import HTTPStatus

from flask import Flask, Response, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException

from server.db import DatabaseUnavailable, DiskFull
from server.kv import InvalidInput, KvError, NamespaceFull, NotFound, StoreFull, StoreUnavailable

log = logging.getLogger(__name__)

KV_STATUS = {InvalidInput: 400, NotFound: 400, NamespaceFull: 409, StoreUnavailable: 503,
             StoreFull: 507}
INTERNAL_ERROR = "internal error; the server log has the details"


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def error_body(status: int, message: str) -> dict:
    return {"statusCode": status, "error": HTTPStatus(status).phrase, "message": message}


def error_response(status: int, message: str) -> Response:
    request.environ["valet.error"] = message  # for the request's log line (server.api.gate)
    response = jsonify(error_body(status, message))
    response.status_code = status
    return response


def _validation_message(messages: dict) -> str:
    """Flatten webargs/marshmallow messages ({"json": {"ttl": ["..."]}}) into one line."""
    parts = []
    for location, fields in messages.items():
        where = {"json": "body", "query": "query parameter"}.get(location, location)
        if isinstance(fields, dict):
            for field, problems in fields.items():
                text = "; ".join(map(str, problems)) if isinstance(problems, list) else str(problems)
                parts.append(f"{where} field {field!r}: {text}" if field != "_schema" else f"{where}: {text}")
        else:
            parts.append(f"{where}: {fields}")
    return "invalid request: " + "; ".join(parts)


# Butler 16's endpoints that Valet does not implement, by path prefix (longest first wins).
BUTLER_ONLY = {
    "/v4/mqttpublishmessage": "MQTT publish", "/v4/filecopy": "file copy",
    "/v4/filemove": "file move", "/v4/filedelete": "file delete",
    "/v4/createdirqvd": "create QVD directory", "/v4/createdir": "create directory",
    "/v4/base62tobase16": "base conversion", "/v4/base16tobase62": "base conversion",
    "/v4/newrelic/": "New Relic", "/v4/schedules": "scheduler", "/v4/slackpostmessage": "Slack",
    "/v4/app/": "app reload and dump", "/v4/senseappdump": "app dump",
    "/v4/senselistapps": "app list", "/v4/apps/": "app list",
}
# Valet's endpoints that the configuration switches off: path prefix -> (what, whether
# this configuration enables it, the keys to set).
_KV = ("the key-value endpoints are", lambda c: c.kv_enabled,
       "Butler.restServerEndpointsEnable.keyValueStore and Butler.keyValueStore.enable")
SWITCHABLE = {
    "/v4/keyvalues": _KV, "/v4/keylist": _KV,
    "/v4/reloadtask/": ("the start-task endpoint is", lambda c: c.start_task_enabled,
                        "Butler.restServerEndpointsEnable.senseStartTask (and Butler.configQRS.host)"),
    "/v4/butlerping": ("ping is", lambda c: c["Butler.restServerEndpointsEnable.butlerping"],
                       "Butler.restServerEndpointsEnable.butlerping"),
    "/v4/configfile/endpointsenabled": ("the endpoint list is", lambda c: c.endpoint_list_enabled,
                                        "Butler.restServerEndpointsEnable.apiListEnabledEndpoints"),
}


def _prefix_of(path: str, table: dict) -> str | None:
    return max((p for p in table if path.startswith(p)), key=len, default=None)


def _not_found_message(path: str) -> str:
    butler_only = _prefix_of(path, BUTLER_ONLY)
    if butler_only:
        return (f"Valet does not implement Butler's {BUTLER_ONLY[butler_only]} endpoint "
                f"({butler_only}); it serves Butler's key-value store, task starts and ping "
                "only, and no setting enables it")
    switchable = _prefix_of(path, SWITCHABLE)
    if switchable:
        what, enabled, keys = SWITCHABLE[switchable]
        if not enabled(current_app.extensions["valet"].config):
            return f"{what} disabled in this configuration: set {keys} to true"
    return f"no endpoint at {path}; the API is described at /openapi.json"


def _http_message(e: HTTPException) -> str:
    if e.code == 404:
        return _not_found_message(request.path)
    if e.code == 405:
        allowed = ", ".join(sorted(getattr(e, "valid_methods", None) or []))
        return f"method {request.method} is not allowed on {request.path}; allowed: {allowed}"
    if e.code == 413:
        return f"request body is larger than the limit of {request.max_content_length} bytes"
    data = getattr(e, "data", None) or {}
    if "messages" in data:
        return _validation_message(data["messages"])
    return data.get("message") or e.description or HTTPStatus(e.code).phrase


def handle_http_exception(e: HTTPException) -> Response:
    status = 400 if e.code == 422 else (e.code or 500)
    response = error_response(status, _http_message(e))
    if getattr(e, "valid_methods", None):  # a 405 says what is allowed (RFC 9110 §15.5.6)
        response.headers["Allow"] = ", ".join(sorted(e.valid_methods))
    return response


def register(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(e: ApiError) -> Response:
        return error_response(e.status, e.message)

    @app.errorhandler(KvError)
    def _kv_error(e: KvError) -> Response:
        return error_response(KV_STATUS[type(e)], e.message)

    @app.errorhandler(DatabaseUnavailable)
    def _database_unavailable(e: DatabaseUnavailable) -> Response:
        return error_response(507 if isinstance(e, DiskFull) else 503, e.message)

    @app.errorhandler(Exception)
    def _unexpected(e: Exception) -> Response:
        if isinstance(e, HTTPException):
            return handle_http_exception(e)
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, INTERNAL_ERROR)
