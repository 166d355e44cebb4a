"""The plain-WSGI fast path (server.api.kv_fast) answers exactly as the Flask views do.

Two apps on two databases get the same requests in the same order: one as served (gate,
fast path, Flask), one with the fast path taken out (gate, Flask). Every answer must match byte for byte, and the
rows marked `fast` must really have been answered without reaching Flask (the table would prove
nothing if the fast path quietly passed everything on)."""
from __future__ import annotations

import functools
import json
import sqlite3

import pytest
from flask import Flask
from werkzeug.test import Client

from server import config as config_module
from server.app import create_app
from server.api.kv_fast import KvFastPath

JSON = "application/json"
BIG_VALUE = "x" * 2000  # over the valueBytes limit of 1,000 set below

# (description, method, path and query, body, headers, answered by the fast path)
REQUESTS = [
    ("store a key", "POST", "/v4/keyvalues/ns", {"key": "k", "value": "v"}, {}, True),
    ("read it", "GET", "/v4/keyvalues/ns?key=k", None, {}, True),
    ("overwrite with a ttl number", "POST", "/v4/keyvalues/ns", {"key": "k", "value": "w", "ttl": 60000}, {}, True),
    ("ttl as a numeric string", "POST", "/v4/keyvalues/ns", {"key": "s", "value": "v", "ttl": "60000"}, {}, True),
    ("ttl as empty text", "POST", "/v4/keyvalues/ns", {"key": "e", "value": "v", "ttl": ""}, {}, True),
    ("a number value", "POST", "/v4/keyvalues/ns", {"key": "n", "value": 1.0}, {}, True),
    ("a boolean value", "POST", "/v4/keyvalues/ns", {"key": "b", "value": True}, {}, True),
    ("a null value", "POST", "/v4/keyvalues/ns", {"key": "z", "value": None}, {}, True),
    ("unknown fields are ignored", "POST", "/v4/keyvalues/ns", {"key": "u", "value": "v", "extra": 1}, {}, True),
    ("content type with charset", "POST", "/v4/keyvalues/ns", {"key": "c", "value": "v"},
     {"Content-Type": "application/json; charset=utf-8"}, True),
    ("non-ASCII text", "POST", "/v4/keyvalues/%C3%A9t%C3%A9", {"key": "clé 😀", "value": "наш"}, {}, True),
    ("read non-ASCII back", "GET", "/v4/keyvalues/%C3%A9t%C3%A9?key=cl%C3%A9+%F0%9F%98%80", None, {}, True),
    ("slash inside the namespace", "POST", "/v4/keyvalues/a%2Fb", {"key": "k", "value": "v"}, {}, True),
    ("read it back", "GET", "/v4/keyvalues/a%2Fb?key=k", None, {}, True),
    ("missing key, default given", "GET", "/v4/keyvalues/ns?key=nope&default=fallback", None, {}, True),
    ("missing key, empty default", "GET", "/v4/keyvalues/ns?key=nope&default=", None, {}, True),
    ("existing key, default ignored", "GET", "/v4/keyvalues/ns?key=k&default=fallback", None, {}, True),
    ("empty key (the store refuses)", "POST", "/v4/keyvalues/ns", {"key": "", "value": "v"}, {}, True),
    ("namespace too long", "POST", "/v4/keyvalues/" + "n" * 300, {"key": "k", "value": "v"}, {}, True),
    ("value too large", "POST", "/v4/keyvalues/ns", {"key": "big", "value": BIG_VALUE}, {}, True),
    ("fill the namespace", "POST", "/v4/keyvalues/full", {"key": "1", "value": "v"}, {}, True),
    ("fill the namespace", "POST", "/v4/keyvalues/full", {"key": "2", "value": "v"}, {}, True),
    ("a new key beyond the limit", "POST", "/v4/keyvalues/full", {"key": "3", "value": "v"}, {}, True),
    ("overwriting at the limit", "POST", "/v4/keyvalues/full", {"key": "2", "value": "w"}, {}, True),
    ("missing key, no default", "GET", "/v4/keyvalues/ns?key=nope", None, {}, True),
    ("no key parameter", "GET", "/v4/keyvalues/ns", None, {}, True),
    ("empty key parameter", "GET", "/v4/keyvalues/ns?key=", None, {}, True),
    ("key given twice", "GET", "/v4/keyvalues/ns?key=k&key=s", None, {}, True),
    ("undecodable key", "GET", "/v4/keyvalues/ns?key=%FF", None, {}, True),
    ("object value", "POST", "/v4/keyvalues/ns", {"key": "k", "value": {"a": 1}}, {}, True),
    ("bad ttl", "POST", "/v4/keyvalues/ns", {"key": "k", "value": "v", "ttl": "soon"}, {}, True),
    ("null ttl", "POST", "/v4/keyvalues/ns", {"key": "k", "value": "v", "ttl": None}, {}, True),
    ("no key field", "POST", "/v4/keyvalues/ns", {"value": "v"}, {}, True),
    ("numeric key field", "POST", "/v4/keyvalues/ns", {"key": 5, "value": "v"}, {}, True),
    ("no value field", "POST", "/v4/keyvalues/ns", {"key": "k"}, {}, True),
    ("array body", "POST", "/v4/keyvalues/ns", ["k", "v"], {}, True),
    ("malformed JSON", "POST", "/v4/keyvalues/ns", b'{"key": "k", "value": ', {}, True),
    ("not UTF-8", "POST", "/v4/keyvalues/ns", b'{"key": "\xff", "value": "v"}', {}, True),
    ("text/plain", "POST", "/v4/keyvalues/ns", {"key": "k", "value": "v"}, {"Content-Type": "text/plain"}, True),
    ("no content type", "POST", "/v4/keyvalues/ns", {"key": "nc", "value": "v"}, {"Content-Type": ""}, True),
    ("body over the limit", "POST", "/v4/keyvalues/ns", {"key": "k", "value": "v" * 5000}, {}, True),
    ("empty body", "POST", "/v4/keyvalues/ns", b"", {}, True),
    ("nested 1,000 deep", "POST", "/v4/keyvalues/ns", b"[" * 1000 + b"]" * 1000, {}, True),
    ("unknown override (the gate refuses it)", "POST", "/v4/keyvalues/full",
     {"key": "1", "value": "x"}, {"X-HTTP-Method-Override": "FETCH"}, True),
    # Passed on to Flask:
    ("undecodable namespace", "GET", "/v4/keyvalues/%FF?key=k", None, {}, False),
    ("trailing slash", "GET", "/v4/keyvalues/ns/?key=k", None, {}, False),
    ("keyexists", "GET", "/v4/keyvalues/ns/keyexists?key=k", None, {}, False),
    ("HEAD", "HEAD", "/v4/keyvalues/ns?key=k", None, {}, False),
    ("override to DELETE", "POST", "/v4/keyvalues/ns", None, {"X-HTTP-Method-Override": "DELETE"}, False),
    ("state after everything", "GET", "/v4/keylist/ns", None, {}, False),
    ("state of the full namespace", "GET", "/v4/keylist/full", None, {}, False),
]


def _config(tmp_path, name):
    return config_module.load(env={"VALET_DATA_DIR": str(tmp_path / name)}).with_overrides({
        "Butler.keyValueStore.maxKeysPerNamespace": 2,
        "Valet.limits.valueBytes": 1000,
        "Valet.limits.requestBodyBytes": 4096,
    })


class CountingFlask:
    """Flask's own WSGI entry, counting the requests that reach it."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.calls = 0

    def __call__(self, environ, start_response):
        self.calls += 1
        return Flask.wsgi_app(self.app, environ, start_response)


@pytest.fixture(scope="module")
def clients(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fast")
    served = create_app(_config(tmp, "served"))
    counted = CountingFlask(served)
    gate = served.wsgi_app.app.app  # RawPath -> MethodOverride -> Gate -> KvFastPath -> Flask
    assert isinstance(gate.app, KvFastPath)
    gate.app.app = counted
    flask_only = create_app(_config(tmp, "flask"))
    flask_gate = flask_only.wsgi_app.app.app
    flask_gate.app = functools.partial(Flask.wsgi_app, flask_only)
    return Client(served), Client(flask_only), counted, (served, flask_only)


def _send(client: Client, method, url, body, headers):
    path, _, query = url.partition("?")
    data = body if isinstance(body, bytes) or body is None else json.dumps(body)
    headers = {"Content-Type": JSON, **headers} if data is not None else headers
    if headers.get("Content-Type") == "":
        del headers["Content-Type"]
    return client.open(path, method=method, query_string=query, data=data, headers=headers)


def test_the_fast_path_is_what_it_replaces(clients):
    served, flask_only, counted, _ = clients
    covered = set()
    for description, method, url, body, headers, fast in REQUESTS:
        before = counted.calls
        got = _send(served, method, url, body, headers)
        want = _send(flask_only, method, url, body, headers)
        where = f"{description}: {method} {url}"
        assert (got.status, got.content_type, got.get_data()) == \
               (want.status, want.content_type, want.get_data()), where
        assert got.headers.get("Content-Length") == want.headers.get("Content-Length"), where
        assert (counted.calls == before) == fast, f"{where}: expected fast path = {fast}"
        covered.add((fast, got.status_code // 100))
    # successes and errors, on both paths
    assert covered == {(True, 2), (True, 4), (False, 2), (False, 4)}


def test_a_failing_database_is_answered_as_flask_answers_it(clients, monkeypatch):
    """The database's own failure (here a disk error on every connection) is an outage:
    503 naming it, on both paths alike, not an internal error."""
    served, flask_only, _, apps = clients

    def broken(*_args, **_kwargs):
        raise sqlite3.OperationalError("disk I/O error")

    answers = []
    for client, app in zip((served, flask_only), apps):
        database = app.extensions["valet"].store.database
        database.release()
        monkeypatch.setattr(database, "_connection", broken)
        answers.append([_send(client, *request) for request in (
            ("GET", "/v4/keyvalues/ns?key=k", None, {}),
            ("POST", "/v4/keyvalues/ns", {"key": "k", "value": "v"}, {}))])
    for got, want in zip(*answers):
        assert got.status_code == 503, got.json
        assert "unavailable" in got.json["message"] and "disk I/O error" in got.json["message"]
        # the same answer but for the apps' database files
        assert (got.status, got.content_type, got.get_data().replace(b"/served/", b"/flask/")) == \
               (want.status, want.content_type, want.get_data())
