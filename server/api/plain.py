"""Endpoints as plain functions: a parsed request in, an answer (status, JSON body) out.

The plain-WSGI fast path (server.api.kv_fast) and the Flask views both build a PlainRequest
from the WSGI environ and call the same endpoint function through `run`, so an endpoint
answers the same bytes whichever of the two serves it. The rules for query strings and JSON
bodies (encoding, Content-Type, size, nesting) live here, once, for every route.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from http import HTTPStatus
from typing import Any, Callable, Iterable
from urllib.parse import parse_qsl

from flask import Response

from server.api.errors import KV_STATUS, ApiError, error_body
from server.kv import KvError

Answer = tuple[int, Any]  # (status, JSON-able body; None: no body)
MISSING = object()  # no request body
# As Flask's jsonify with sort_keys off: compact, ASCII-escaped, newline-terminated.
_encode = json.JSONEncoder(ensure_ascii=True, separators=(",", ":")).encode


def encode(obj: Any) -> bytes:
    return (_encode(obj) + "\n").encode("ascii")


def status_line(status: int) -> str:
    return f"{status} {HTTPStatus(status).phrase.upper()}"  # as Werkzeug writes it


def start_json(start_response: Callable, status: int, obj: Any,
               headers: Iterable[tuple[str, str]] = ()) -> list[bytes]:
    """Answer a WSGI request with a JSON body."""
    body = encode(obj)
    start_response(status_line(status), [("Content-Type", "application/json"),
                                         ("Content-Length", str(len(body))), *headers])
    return [body]


def raw_error(status: int, message: str) -> bytes:
    """A whole HTTP/1.1 answer in the JSON error shape that ends the connection, for what a
    listener answers on its own socket before any request reaches the app."""
    body = encode(error_body(status, message))
    head = (f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode("latin-1") + body


def read_body(environ: dict[str, Any], limit: int) -> bytes:
    """The request body, at most `limit` bytes (413 beyond, chunked bodies included: they
    are never cut short). Read once; later calls get the same bytes."""
    if "valet.body" in environ:
        return environ["valet.body"]
    length = environ.get("CONTENT_LENGTH") or ""
    stream = environ["wsgi.input"]
    if length:
        if not length.isdigit():
            raise ApiError(400, f"Content-Length {length!r} is not a number of bytes")
        if int(length) > limit:
            raise ApiError(413, f"request body is larger than the limit of {limit} bytes")
        body = stream.read(int(length))
    elif environ.get("wsgi.input_terminated"):  # chunked: the server marks where it ends
        body = stream.read(limit + 1)
        if len(body) > limit:
            raise ApiError(413, f"request body is larger than the limit of {limit} bytes")
    else:
        body = b""
    environ["valet.body"] = body
    return body


def parse_json(data: bytes, content_type: str) -> Any:
    """A JSON body (MISSING when empty). A body with no Content-Type is read as JSON too,
    since what Qlik's REST connector sends by default is not documented."""
    if not data:
        return MISSING
    mimetype = content_type.partition(";")[0].strip().lower()
    if mimetype and mimetype != "application/json" and not mimetype.endswith("+json"):
        raise ApiError(415, f"Content-Type {mimetype} is not supported; send the body as "
                            "application/json")
    try:
        return json.loads(data)
    except UnicodeDecodeError:
        raise ApiError(400, "request body is not UTF-8 text") from None
    except json.JSONDecodeError as e:
        raise ApiError(400, f"request body is not valid JSON: {e.msg} at line {e.lineno} "
                            f"column {e.colno}") from None
    except RecursionError:
        raise ApiError(400, "request body is nested too deeply; no endpoint takes more than "
                            "a few levels") from None


def json_body(environ: dict[str, Any], limit: int) -> Any:
    return parse_json(read_body(environ, limit), environ.get("CONTENT_TYPE") or "")


@dataclass
class PlainRequest:
    environ: dict[str, Any]
    path: dict[str, str] = field(default_factory=dict)  # decoded path segments
    max_body_bytes: int = 2 * 1024 * 1024

    @cached_property
    def query(self) -> list[tuple[str, str]]:
        try:
            text = self.environ.get("QUERY_STRING", "").encode("latin-1").decode("utf-8")
            return parse_qsl(text, keep_blank_values=True, errors="strict")
        except UnicodeError:
            raise ApiError(400, "the query string is not percent-encoded UTF-8") from None

    def values(self, name: str) -> list[str]:
        return [v for n, v in self.query if n == name]

    def one(self, name: str) -> str:
        """A query parameter given exactly once and not empty."""
        values = self.values(name)
        if len(values) > 1:
            raise ApiError(400, f"query parameter {name!r} is given {len(values)} times; give it once")
        if not values or values[0] == "":
            raise ApiError(400, f"query parameter {name!r} is missing or empty; add ?{name}=…")
        return values[0]

    def first(self, name: str) -> str | None:
        values = self.values(name)
        return values[0] if values else None

    def json(self) -> Any:
        return json_body(self.environ, self.max_body_bytes)


Endpoint = Callable[[Any, PlainRequest], Answer]


def run(endpoint: Endpoint, services: Any, request: PlainRequest) -> Answer:
    """Call an endpoint; a refusal it raises becomes its JSON error answer."""
    try:
        return endpoint(services, request)
    except ApiError as e:
        return e.status, error_body(e.status, e.message)
    except KvError as e:
        status = KV_STATUS[type(e)]
        return status, error_body(status, e.message)


def flask_response(answer: Answer) -> Response:
    status, obj = answer
    if obj is None:
        return Response(status=status)
    return Response(encode(obj), status=status, mimetype="application/json")
