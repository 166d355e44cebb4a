"""The OpenAPI document, generated from the blueprints by flask-smorest, and a Swagger
UI whose assets come from the installed swagger-ui-bundle package (no CDN)."""
from __future__ import annotations

from importlib.metadata import version
from urllib.parse import quote, unquote

import flask_smorest
from flask import Flask, abort, send_from_directory
from swagger_ui_bundle import swagger_ui_path
from webargs.core import missing
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import BadRequest
from werkzeug.routing import BaseConverter

from server.api import plain
from server.api.errors import handle_http_exception

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


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = JsonBodyParser()


class Api(flask_smorest.Api):
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

    @app.get("/docs/assets/<path:name>")
    def swagger_assets(name: str):
        if ".." in name:
            abort(404)
        return send_from_directory(swagger_ui_path, name)

    return api
