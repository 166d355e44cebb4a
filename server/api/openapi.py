"""The OpenAPI document, generated from the blueprints by flask-smorest, and a Swagger
UI whose assets come from the installed swagger-ui-bundle package (no CDN)."""
from __future__ import annotations

from importlib.metadata import version
from urllib.parse import quote, unquote

import flask_smorest
from flask import Flask, abort, send_from_directory
from marshmallow import Schema, fields
from swagger_ui_bundle import swagger_ui_path
from webargs.core import missing
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import BadRequest
from werkzeug.routing import BaseConverter

from server.api import plain
from server.api.errors import error_body, handle_http_exception
from server.api.gate import ANY_KEY, DEFAULT_SCOPE, OPEN

VERSION = version("valet")


class EncodedSegment(BaseConverter):
    """One percent-encoded path segment (see server.wsgi.RawPath), decoded as UTF-8."""

    regex = "[^/]+"

    def to_python(self, value: str) -> str:
        try:
            return unquote(value, errors="strict")
        except UnicodeDecodeError:
            raise BadRequest(f"path segment {value!r} is not percent-encoded UTF-8") from None

    def to_url(self, value: str) -> str:
        return quote(value, safe="")


class JsonBodyParser(FlaskParser):
    """JSON bodies by the rules every route shares (server.api.plain.json_body)."""

    DEFAULT_VALIDATION_STATUS = 400

    def load_json(self, req, schema):
        body = plain.json_body(req.environ, req.max_content_length)
        return missing if body is plain.MISSING else body


class ErrorSchema(Schema):
    """Valet's one error shape (server.api.errors)."""

    statusCode = fields.Integer(metadata={"description": "the HTTP status"})
    error = fields.String(metadata={"description": "the status's reason phrase"})
    message = fields.String(metadata={"description": "what was wrong and how to fix it"})


# Every error status an operation can answer besides 500, what causes it, and an example
# message as Valet words it.
ERRORS = {
    400: ("malformed request: a query parameter missing, empty or repeated; a body field of the "
          "wrong type; a body that is not JSON; an unknown key or namespace (Butler's status); or "
          "an X-HTTP-Method-Override other than PUT, DELETE or PATCH",
          "key 'k1' does not exist in namespace 'ns'; add default=… to the query to get a "
          "fallback value instead"),
    404: ("the repository knows no such execution session (start/synchronous answers the IDs)",
          "the repository knows no execution session 6f0c2a4e-0000-4000-8000-00000000abcd; use "
          "the sessionId a start/synchronous call answered"),
    409: ("the namespace already holds Butler.keyValueStore.maxKeysPerNamespace keys (overwriting "
          "a key is always allowed)",
          "namespace 'ns' has no room for a new key: it holds the limit of 1000 keys "
          "(Butler.keyValueStore.maxKeysPerNamespace); delete keys or raise the limit"),
    401: ("API keys are configured (Valet.apiKeys) and the request sent none, or one that is not "
          "configured; sent as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
          "an API key is required: send it as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'"),
    403: ("a browser's cross-site request (an Origin not listed in Valet.cors.allowedOrigins, or "
          "Sec-Fetch-Site: cross-site), or an API key without the scope the route needs",
          "the API key 'dashboards' may not do this: it needs the scope 'kv:write' (it has "
          "kv:read)"),
    413: ("the body is larger than Valet.limits.requestBodyBytes",
          "request body is larger than the limit of 2097152 bytes"),
    415: ("the body's Content-Type is not JSON",
          "Content-Type text/plain is not supported; send the body as application/json"),
    429: ("over Valet.rateLimit.perClient or Valet.rateLimit.perKey; the Retry-After header says "
          "how many seconds to wait",
          "too many requests from client 127.0.0.1: the limit is 100 per 1 minute "
          "(Valet.rateLimit.perClient); retry in 12 s"),
    502: ("the repository answered with an error, refused the certificates, or TLS failed",
          "the Qlik Sense repository could not be queried for the tasks to start (HTTP error: "
          "repository answered 403: XSRF prevention check failed. Possible XSRF discovered.); "
          "no task was started"),
    503: ("the database is unavailable (nothing was stored), or, for task calls, the repository "
          "cannot be reached or is not configured",
          "the Qlik Sense repository could not be queried for the tasks to start (unreachable: "
          "cannot connect to the repository at sense.example:4242: …); no task was started"),
    504: ("the repository did not answer within Valet.qrs.timeoutSeconds",
          "the Qlik Sense repository could not be queried for the tasks to start (timeout: no "
          "answer within 10 s); no task was started"),
    507: ("disk full: the database's disk has no room for the write; nothing was stored",
          "disk full: the disk holding the database (sqlite:///C:/Valet/config/data/valet.sqlite3) "
          "has no room for the write; nothing was stored; free disk space, then retry"),
}
# What the gate (server.api.gate) and the store may answer on any route, by the scope the
# route's view declares: a bad X-HTTP-Method-Override (400) and a cross-site refusal (403)
# anywhere; key, scope and rate refusals where a key is needed; the database's or the disk's
# failure where the route reads or writes (every scoped route), a full disk where it writes.
GATE_ERRORS = {OPEN: (400, 403), ANY_KEY: (400, 401, 403, 429)}
SCOPED_ERRORS = (400, 401, 403, 429, 503)
WRITE_SCOPES = ("kv:write", "task:start")
# How a key is sent (server.api.gate.presented_key); needed only when Valet.apiKeys is set.
SECURITY_SCHEMES = {
    "ApiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key",
                     "description": "a key of Valet.apiKeys, when keys are configured"},
    "BearerKey": {"type": "http", "scheme": "bearer",
                  "description": "the same key as 'Authorization: Bearer <key>'"},
}
RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before retrying",
                               "schema": {"type": "integer"}}}


def gate_statuses(scope: str, methods: list[str]) -> tuple[int, ...]:
    """The error statuses a route of `scope` can answer whatever its view does."""
    if scope in GATE_ERRORS:
        return GATE_ERRORS[scope]
    writes = scope in WRITE_SCOPES and set(methods) - {"GET", "HEAD"}
    return SCOPED_ERRORS + ((507,) if writes else ())


def _documented(func) -> set:
    return {int(s) for s in getattr(func, "_apidoc", {}).get("response", {}).get("responses", {})}


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = JsonBodyParser()

    def errors(self, *statuses: int):
        """Document the error answers `statuses` (see ERRORS) of an operation, each once."""
        def decorate(func):
            for status in sorted(set(statuses) - _documented(func)):
                description, message = ERRORS[status]
                func = self.alt_response(status, schema=ErrorSchema, description=description,
                                         example=error_body(status, message),
                                         headers=RETRY_AFTER if status == 429 else None)(func)
            return func

        return decorate

    def add_url_rule(self, rule, endpoint=None, view_func=None, **options):
        """Every route documents the gate's answers and the key for the scope its view declares."""
        if view_func is not None:
            scope = getattr(view_func, "valet_scope", DEFAULT_SCOPE)
            view_func = self.errors(*gate_statuses(scope, options.get("methods", ["GET"])))(view_func)
            if scope != OPEN:
                view_func = self.doc(security=[{name: []} for name in SECURITY_SCHEMES])(view_func)
        super().add_url_rule(rule, endpoint, view_func, **options)


class Api(flask_smorest.Api):
    ERROR_SCHEMA = ErrorSchema

    def handle_http_exception(self, error):
        return handle_http_exception(error)


def create_api(app: Flask) -> Api:
    app.config.update(
        API_TITLE="Valet", API_VERSION=VERSION, OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/", OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="/docs", OPENAPI_SWAGGER_UI_URL="/docs/assets/",
    )
    app.url_map.converters["enc"] = EncodedSegment
    api = Api(app)
    api.register_converter(EncodedSegment, lambda _converter: {"type": "string"})
    for name, scheme in SECURITY_SCHEMES.items():
        api.spec.components.security_scheme(name, scheme)

    @app.get("/docs/assets/<path:name>")
    def swagger_assets(name: str):
        if ".." in name:
            abort(404)
        return send_from_directory(swagger_ui_path, name)

    return api
