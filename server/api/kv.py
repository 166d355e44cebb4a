"""Butler's key-value endpoints under /v4: same paths, methods, bodies and statuses.
The store's rules live in server.kv; this module only speaks HTTP.

The hot endpoints document their query and reply schemas (`blp.doc`, `blp.response`) but
read `request.args` and answer with `jsonify` themselves: webargs parsing and marshmallow
dumping cost a third of a key lookup's time, and the tests pin the exact shapes."""
from __future__ import annotations

from flask import Response, jsonify, request
from marshmallow import EXCLUDE, Schema, ValidationError, fields

from server import kv
from server.api.errors import ApiError
from server.api.openapi import Blueprint
from server.services import current

blp = Blueprint("keyvalues", __name__, url_prefix="/v4",
                description="Key-value store: namespaces, keys, string values, optional TTL")


class _KvField(fields.Field):
    """A body field checked by one of server.kv's rules, so its errors say what kv says."""

    rule = staticmethod(lambda v: v)

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return self.rule(value)
        except kv.KvError as e:
            raise ValidationError(e.message) from None


class ValueField(_KvField):
    rule = staticmethod(kv.normalize_value)


class TtlField(_KvField):
    rule = staticmethod(kv.parse_ttl)


class KeyValueBody(Schema):
    class Meta:
        unknown = EXCLUDE

    key = fields.String(required=True, metadata={"description": "the key (any non-empty text)"})
    value = ValueField(required=True, allow_none=True, metadata={
        "description": "a string; numbers and booleans are stored as their text, null as \"\""})
    ttl = TtlField(load_default=0, metadata={
        "description": "time to live in ms: a number, a numeric string or \"\"; 0 or absent = no expiry"})


class KeyQuery(Schema):
    key = fields.String(required=True, metadata={"description": "the key"})
    default = fields.String(metadata={
        "description": "answer 200 with this value when the key does not exist"})


class KeyExistsQuery(Schema):
    key = fields.String(required=True)


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


def _one(name: str) -> str:
    """A query parameter given exactly once and not empty."""
    values = request.args.getlist(name)
    if len(values) > 1:
        raise ApiError(400, f"query parameter {name!r} is given {len(values)} times; give it once")
    if not values or values[0] == "":
        raise ApiError(400, f"query parameter {name!r} is missing or empty; add ?{name}=…")
    return values[0]


@blp.route("/keyvaluesnamespaces", methods=["GET"])
@blp.response(200, description='["namespace", …]')
def list_namespaces():
    """List the namespaces that hold at least one live key."""
    return current().store.namespaces()


@blp.route("/keyvalues/<enc:namespace>", methods=["GET"])
@blp.doc(parameters=[{"in": "query", "schema": KeyQuery}])
@blp.response(200, KeyValueSchema, example={"namespace": "MyFineNamespace", "key": "AnImportantKey",
                                             "value": "TheValue"})
@blp.errors(400)
def get_value(namespace: str):
    """Read a key. Unknown namespace or key: 400 (as Butler), unless `default=` is given."""
    key = _one("key")
    entry = current().store.get(namespace, key)
    if entry is not None:
        return jsonify(namespace=namespace, key=key, value=entry.value)
    if "default" in request.args:
        return jsonify(namespace=namespace, key=key, value=request.args["default"])
    raise kv.NotFound(f"key {key!r} does not exist in namespace {namespace!r}; "
                      "add default=… to the query to get a fallback value instead")


@blp.route("/keyvalues/<enc:namespace>/keyexists", methods=["GET"])
@blp.doc(parameters=[{"in": "query", "schema": KeyExistsQuery}])
@blp.response(200, KeyExistsSchema)
@blp.errors(400)
def key_exists(namespace: str):
    """Whether a key exists; an unknown namespace answers keyExists false."""
    key = _one("key")
    entry = current().store.get(namespace, key)
    if entry is None:
        return jsonify(keyExists=False, keyValue={})
    return jsonify(keyExists=True, keyValue={"namespace": namespace, "key": key, "value": entry.value})


@blp.route("/keyvalues/<enc:namespace>", methods=["POST"])
@blp.arguments(KeyValueBody())
@blp.response(201, StoredSchema, example={"namespace": "MyFineNamespace", "key": "AnImportantKey",
                                          "value": "TheValue", "ttl": 10000})
@blp.errors(400, 409, 413, 415)
def set_value(body: dict, namespace: str):
    """Store a key (overwrites; a new TTL restarts the clock)."""
    entry = current().store.set(namespace, body["key"], body["value"], body["ttl"])
    response = jsonify(namespace=namespace, key=entry.key, value=entry.value, ttl=entry.ttl_ms)
    response.status_code = 201
    return response


@blp.route("/keyvalues/<enc:namespace>/<enc:key>", methods=["DELETE"])
@blp.response(204)
@blp.errors(400)
def delete_key(namespace: str, key: str):
    """Delete a key; 400 if it does not exist."""
    current().store.delete(namespace, key)
    return Response(status=204)


@blp.route("/keyvalues/<enc:namespace>", methods=["DELETE"])
@blp.response(204)
@blp.errors(400)
def delete_namespace(namespace: str):
    """Delete a namespace and all its keys; 400 if it holds no keys."""
    current().store.delete_namespace(namespace)
    return Response(status=204)


@blp.route("/keylist/<enc:namespace>", methods=["GET"])
@blp.response(200, KeyListSchema)
def list_keys(namespace: str):
    """The live keys of a namespace (an empty list for an unknown namespace)."""
    return {"namespace": namespace, "keys": [{"key": k} for k in current().store.keys(namespace)]}
