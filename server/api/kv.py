"""Butler's key-value endpoints under /v4: same paths, methods, bodies and statuses.
The store's rules live in server.kv; this module only speaks HTTP.

Each endpoint's logic is a plain function from a parsed request to an answer (server.api.plain),
called by its Flask view here and, for the hot calls, by the plain-WSGI fast path
(server.api.kv_fast). The schemas only document queries, bodies and replies: webargs parsing
and marshmallow dumping cost a third of a key lookup's time, and the tests pin the shapes."""
from __future__ import annotations

from typing import Any

from flask import request
from marshmallow import Schema, fields, validate

from server import kv
from server.api.errors import ApiError
from server.api.openapi import Blueprint
from server.api.plain import MISSING, Answer, Endpoint, PlainRequest, flask_response, run
from server.api.gate import caller_of, requires
from server.services import Services, current

blp = Blueprint("keyvalues", __name__, url_prefix="/v4",
                description="Key-value store: namespaces, keys, string values, optional TTL")


class KeyValueBody(Schema):
    key = fields.String(required=True, validate=validate.Length(min=1),
                        metadata={"description": "the key (any non-empty text)"})
    value = fields.Raw(required=True, allow_none=True, metadata={
        "description": "a string; numbers and booleans are stored as their text, null as \"\""})
    ttl = fields.Raw(metadata={
        "description": "time to live in ms: a number, a numeric string or \"\"; 0 or absent = no expiry"})


class KeyQuery(Schema):
    key = fields.String(required=True, validate=validate.Length(min=1), metadata={"description": "the key"})
    default = fields.String(metadata={
        "description": "answer 200 with this value when the key does not exist"})


class KeyExistsQuery(Schema):
    key = fields.String(required=True, validate=validate.Length(min=1))


class KeyValueSchema(Schema):
    namespace = fields.String()
    key = fields.String()
    value = fields.String()


class StoredSchema(KeyValueSchema):
    ttl = fields.Integer(metadata={"description": "the TTL in ms (0 = no expiry)"})


class KeyExistsSchema(Schema):
    keyExists = fields.Boolean()
    keyValue = fields.Dict(metadata={"description": "namespace, key and value; {} when absent"})


class KeyListSchema(Schema):
    namespace = fields.String()
    keys = fields.List(fields.Dict(), metadata={"description": "[{\"key\": …}, …]"})



# -- the endpoints, as plain functions -------------------------------------------------------
def list_namespaces(services: Services, _request: PlainRequest) -> Answer:
    return 200, services.store.namespaces()


def get_value(services: Services, request: PlainRequest) -> Answer:
    namespace, key = request.path["namespace"], request.one("key")
    entry = services.store.get(namespace, key)
    if entry is not None:
        return 200, {"namespace": namespace, "key": key, "value": entry.value}
    default = request.first("default")
    if default is not None:
        return 200, {"namespace": namespace, "key": key, "value": default}
    raise kv.NotFound(f"key {key!r} does not exist in namespace {namespace!r}; "
                      "add default=… to the query to get a fallback value instead")


def key_exists(services: Services, request: PlainRequest) -> Answer:
    namespace, key = request.path["namespace"], request.one("key")
    entry = services.store.get(namespace, key)
    if entry is None:
        return 200, {"keyExists": False, "keyValue": {}}
    return 200, {"keyExists": True, "keyValue": {"namespace": namespace, "key": key, "value": entry.value}}


def _body_field(what: str, rule, value: Any) -> Any:
    try:
        return rule(value)
    except kv.KvError as e:
        raise ApiError(400, f"invalid request: body field {what!r}: {e.message}") from None


def _stored_item(body: Any) -> tuple[str, str, int]:
    """(key, value, ttl) from a store body `{"key", "value", "ttl"}`; unknown fields ignored."""
    if body is MISSING or not isinstance(body, dict):
        raise ApiError(400, 'invalid request: the body must be a JSON object {"key", "value", '
                            '"ttl" (optional)}')
    missing = [name for name in ("key", "value") if name not in body]
    if missing:
        raise ApiError(400, f"invalid request: body field {missing[0]!r} is missing")
    if not isinstance(body["key"], str):
        raise ApiError(400, f"invalid request: body field 'key' must be text, got "
                            f"{type(body['key']).__name__}")
    if body.get("ttl", 0) is None:
        raise ApiError(400, "invalid request: body field 'ttl' must be a number of milliseconds, "
                            "got null; leave it out for no expiry")
    return (body["key"], _body_field("value", kv.normalize_value, body["value"]),
            _body_field("ttl", kv.parse_ttl, body.get("ttl", 0)))


def set_value(services: Services, request: PlainRequest) -> Answer:
    key, value, ttl = _stored_item(request.json())
    entry = services.store.set(request.path["namespace"], key, value, ttl)
    return 201, {"namespace": request.path["namespace"], "key": entry.key, "value": entry.value,
                 "ttl": entry.ttl_ms}


def delete_key(services: Services, request: PlainRequest) -> Answer:
    services.store.delete(request.path["namespace"], request.path["key"],
                          caller_of(request.environ))
    return 204, None


def delete_namespace(services: Services, request: PlainRequest) -> Answer:
    services.store.delete_namespace(request.path["namespace"], caller_of(request.environ))
    return 204, None


def list_keys(services: Services, request: PlainRequest) -> Answer:
    namespace = request.path["namespace"]
    return 200, {"namespace": namespace, "keys": [{"key": k} for k in services.store.keys(namespace)]}


def serve(endpoint: Endpoint, **path: str):
    """A Flask view's answer: the endpoint function on this request."""
    services = current()
    plain = PlainRequest(request.environ, path, services.config["Valet.limits.requestBodyBytes"])
    return flask_response(run(endpoint, services, plain))


# -- the Flask views: routes and documentation -------------------------------------------------
@blp.route("/keyvaluesnamespaces", methods=["GET"], endpoint="list_namespaces")
@requires("kv:read")
@blp.response(200, description='["namespace", …]')
def list_namespaces_view():
    """List the namespaces that hold at least one live key."""
    return serve(list_namespaces)


@blp.route("/keyvalues/<enc:namespace>", methods=["GET"], endpoint="get_value")
@requires("kv:read")
@blp.doc(parameters=[{"in": "query", "schema": KeyQuery}])
@blp.response(200, KeyValueSchema, example={"namespace": "MyFineNamespace", "key": "AnImportantKey",
                                             "value": "TheValue"})
@blp.errors(400)
def get_value_view(namespace: str):
    """Read a key. Unknown namespace or key: 400 (as Butler), unless `default=` is given."""
    return serve(get_value, namespace=namespace)


@blp.route("/keyvalues/<enc:namespace>/keyexists", methods=["GET"], endpoint="key_exists")
@requires("kv:read")
@blp.doc(parameters=[{"in": "query", "schema": KeyExistsQuery}])
@blp.response(200, KeyExistsSchema)
@blp.errors(400)
def key_exists_view(namespace: str):
    """Whether a key exists; an unknown namespace answers keyExists false."""
    return serve(key_exists, namespace=namespace)


@blp.route("/keyvalues/<enc:namespace>", methods=["POST"], endpoint="set_value")
@requires("kv:write")
@blp.doc(requestBody={"required": True, "content": {"application/json": {"schema": KeyValueBody}}})
@blp.response(201, StoredSchema, example={"namespace": "MyFineNamespace", "key": "AnImportantKey",
                                          "value": "TheValue", "ttl": 10000})
@blp.errors(400, 409, 413, 415)
def set_value_view(namespace: str):
    """Store a key (overwrites; a new TTL restarts the clock)."""
    return serve(set_value, namespace=namespace)


@blp.route("/keyvalues/<enc:namespace>/<enc:key>", methods=["DELETE"], endpoint="delete_key")
@requires("kv:write")
@blp.response(204)
@blp.errors(400)
def delete_key_view(namespace: str, key: str):
    """Delete a key; 400 if it does not exist."""
    return serve(delete_key, namespace=namespace, key=key)


@blp.route("/keyvalues/<enc:namespace>", methods=["DELETE"], endpoint="delete_namespace")
@requires("kv:write")
@blp.response(204)
@blp.errors(400)
def delete_namespace_view(namespace: str):
    """Delete a namespace and all its keys; 400 if it holds no keys."""
    return serve(delete_namespace, namespace=namespace)


@blp.route("/keylist/<enc:namespace>", methods=["GET"], endpoint="list_keys")
@requires("kv:read")
@blp.response(200, KeyListSchema)
def list_keys_view(namespace: str):
    """The live keys of a namespace (an empty list for an unknown namespace)."""
    return serve(list_keys, namespace=namespace)


# The hot calls the fast path answers without Flask, by Flask endpoint name.
FAST = {"keyvalues.get_value": get_value, "keyvalues.set_value": set_value}
