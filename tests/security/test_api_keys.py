"""API keys and scopes (SPEC §10, issue 12): every route but ping and /health refuses a request
with no key or a wrong key (401) and a key without the route's scope (403), in the JSON error
shape, whichever serves it: the real server (gate, fast path, Flask) over HTTP, and the same
app with the fast path taken out. The key's name, never the key, reaches the log and the audit.
"""
from __future__ import annotations

import functools
import json
import sqlite3

import pytest
import requests
from flask import Flask
from werkzeug.test import Client

from demo.processes import Valet
from demo.sense.process import SenseProcess
from helpers import log_once_written
from server import config as config_module
from server.api.gate import warn_if_exposed
from server.app import create_app
from server.credentials import parse_api_keys
from tasks.start_support import A1, qrs_config

KEYS = {  # name -> (key, scopes)
    "reader": ("reader-6c1f0a9e3b7d2c4e8a5f", ["kv:read"]),
    "writer": ("writer-1d9b3f7e5a2c4b6d8e0f", ["kv:write"]),
    "starter": ("starter-4a8c2e6f0b3d5a7c9e1b", ["task:start"]),
    "auditor": ("auditor-9e7c5a3b1d2f4e6a8c0d", ["admin"]),
}
FULL = "full-0f2e4d6c8b1a3f5e7d9c"  # no scopes given: all of them
NO_KEY, WRONG = None, "not-a-configured-key-0000000000"

# (description, method, path, JSON body, extra headers, scope)
ROUTES = [
    ("list namespaces", "GET", "/v4/keyvaluesnamespaces", None, {}, "kv:read"),
    ("read a key (fast path)", "GET", "/v4/keyvalues/ns?key=k", None, {}, "kv:read"),
    ("key exists", "GET", "/v4/keyvalues/ns/keyexists?key=k", None, {}, "kv:read"),
    ("list keys", "GET", "/v4/keylist/ns", None, {}, "kv:read"),
    ("store a key (fast path)", "POST", "/v4/keyvalues/ns", {"key": "k", "value": "changed"}, {}, "kv:write"),
    ("delete a key", "DELETE", "/v4/keyvalues/ns/k", None, {}, "kv:write"),
    ("delete a key by override", "POST", "/v4/keyvalues/ns/k", None,
     {"X-HTTP-Method-Override": "DELETE"}, "kv:write"),
    ("delete a namespace", "DELETE", "/v4/keyvalues/ns", None, {}, "kv:write"),
    ("start tasks (PUT)", "PUT", "/v4/reloadtask/-/start", [], {}, "task:start"),
    ("start tasks (POST)", "POST", f"/v4/reloadtask/{A1[0]}/start", [], {}, "task:start"),
    ("the audit of task starts", "GET", "/v4/audit/taskstarts", None, {}, "admin"),
    ("the audit of deletions", "GET", "/v4/audit/keyvaluedeletions?namespace=ns", None, {}, "admin"),
    ("the OpenAPI document", "GET", "/openapi.json", None, {}, "any"),
    ("the API browser", "GET", "/docs", None, {}, "any"),
]


def _key_config() -> dict:
    return {"apiKeys": [{"name": "etl", "key": FULL}] + [
        {"name": name, "key": key, "scopes": scopes} for name, (key, scopes) in KEYS.items()]}


@pytest.fixture(scope="module")
def sense(tmp_path_factory):
    with SenseProcess(tmp_path_factory.mktemp("sense")) as s:
        yield s


@pytest.fixture(scope="module")
def served(tmp_path_factory, sense) -> Valet:
    root = tmp_path_factory.mktemp("keys")
    server = Valet(root, qrs_config(sense), _key_config(), log=(root / "valet.log").open("w"))
    server.log_path = root / "valet.log"
    yield server.start()
    server.stop()


class FlaskOnly:
    """The same configuration in process, with the fast path taken out (gate -> Flask)."""

    def __init__(self, served: Valet, tmp_path) -> None:
        config = config_module.load(str(served.config_path)).with_overrides(
            {"Valet.dataDir": str(tmp_path / "flask-only")})
        app = create_app(config)
        app.wsgi_app.app.app.app = functools.partial(Flask.wsgi_app, app)  # RawPath, override, gate
        self.client = Client(app)

    def send(self, method, path, body=None, headers=None):
        url, _, query = path.partition("?")
        data = None if body is None else json.dumps(body)
        headers = {**({"Content-Type": "application/json"} if data else {}), **(headers or {})}
        r = self.client.open(url, method=method, query_string=query, data=data, headers=headers)
        return r.status_code, r.headers.get("Content-Type", ""), r.get_data()


def over_http(server: Valet):
    def send(method, path, body=None, headers=None):
        r = requests.request(method, server.url + path, headers=headers, timeout=10,
                             **({} if body is None else {"json": body}))
        return r.status_code, r.headers.get("Content-Type", ""), r.content
    return send


@pytest.fixture(scope="module", params=["served", "flask-only"])
def send(request, served, tmp_path_factory):
    if request.param == "served":
        return over_http(served)
    return FlaskOnly(served, tmp_path_factory.mktemp("flask-only")).send


def _headers(key: str | None, extra: dict, style: str = "x-api-key") -> dict:
    if key is None:
        return dict(extra)
    auth = {"Authorization": f"Bearer {key}"} if style == "bearer" else {"X-API-Key": key}
    return {**extra, **auth}


def _json_error(answer, status: int) -> dict:
    code, content_type, body = answer
    assert code == status, (code, body)
    assert content_type.startswith("application/json")
    error = json.loads(body)
    assert error["statusCode"] == status and error["error"] and len(error["message"]) > 10
    return error


def _seed(send) -> None:
    code, _, _ = send("POST", "/v4/keyvalues/ns", {"key": "k", "value": "kept"}, {"X-API-Key": FULL})
    assert code == 201


def _value(send) -> str:
    code, _, body = send("GET", "/v4/keyvalues/ns?key=k", None, {"X-API-Key": FULL})
    return json.loads(body)["value"] if code == 200 else f"<{code}>"


def _lacking(scope: str) -> str:
    """A key that has every scope but this one's (for "any" a wrong key is the only refusal)."""
    return next(key for key, scopes in KEYS.values() if scope not in scopes)


@pytest.mark.parametrize("description, method, path, body, extra, scope", ROUTES,
                         ids=[r[0] for r in ROUTES])
def test_no_key_wrong_key_and_wrong_scope_are_refused(send, description, method, path, body,
                                                      extra, scope):
    _seed(send)
    for key in (NO_KEY, WRONG):
        error = _json_error(send(method, path, body, _headers(key, extra)), 401)
        assert "API key" in error["message"]
    if scope != "any":
        error = _json_error(send(method, path, body, _headers(_lacking(scope), extra)), 403)
        assert scope in error["message"]
    assert _value(send) == "kept"  # nothing refused changed anything


@pytest.mark.parametrize("description, method, path, body, extra, scope", ROUTES,
                         ids=[r[0] for r in ROUTES])
@pytest.mark.parametrize("style", ["x-api-key", "bearer"])
def test_a_key_with_the_scope_is_let_through(send, description, method, path, body, extra,
                                             scope, style):
    _seed(send)
    scoped = [key for key, scopes in KEYS.values() if scope in scopes or scope == "any"]
    for key in scoped + [FULL]:
        code, _, answer = send(method, path, body, _headers(key, extra, style))
        assert code not in (401, 403), (key, code, answer)
        assert code < 500, (key, code, answer)
        _seed(send)


def test_ping_and_health_stay_open(send):
    assert send("GET", "/v4/butlerping")[0] == 200
    assert send("GET", "/health")[0] == 200


def test_the_log_names_the_key_never_the_key_itself(served):
    requests.get(served.url + "/v4/keylist/ns", headers={"X-API-Key": KEYS["reader"][0]}, timeout=5)
    requests.put(served.url + "/v4/reloadtask/-/start", json=[],
                 headers={"Authorization": f"Bearer {KEYS['reader'][0]}"}, timeout=5)
    log = log_once_written(served.log_path, "key=reader", times=2)
    assert "GET /v4/keylist/ns 200" in log and "PUT /v4/reloadtask/-/start 403" in log
    for key, _ in [*KEYS.values(), (FULL, None), (WRONG, None)]:
        assert key not in log


def test_the_task_start_audit_names_the_key(served):
    r = requests.put(f"{served.url}/v4/reloadtask/{A1[0]}/start", json=[],
                     headers={"X-API-Key": KEYS["starter"][0]}, timeout=10)
    assert r.status_code == 200 and r.json()["tasksId"]["started"], r.text
    db = sqlite3.connect(served.data_dir / "data" / "valet.sqlite3")
    caller, = db.execute("SELECT caller FROM task_start_audit ORDER BY id DESC LIMIT 1").fetchone()
    assert caller == "127.0.0.1 (key starter)"
    assert KEYS["starter"][0] not in caller


def test_docs_can_be_configured_open(tmp_path):
    config = config_module.load(env={"VALET_DATA_DIR": str(tmp_path)}).with_overrides(
        {"Valet.apiKeys": [{"name": "etl", "key": FULL}], "Valet.docsOpen": True})
    client = Client(create_app(config))
    assert client.get("/openapi.json").status_code == 200
    assert client.get("/docs").status_code == 200
    assert client.get("/v4/keyvaluesnamespaces").status_code == 401


def test_keys_come_from_a_file_or_the_environment(tmp_path, monkeypatch):
    (tmp_path / "etl.key").write_text(FULL + "\n")
    monkeypatch.setenv("READER_KEY", KEYS["reader"][0])
    config = config_module.load(env={"VALET_DATA_DIR": str(tmp_path)}).with_overrides({
        "Valet.apiKeys": [{"name": "etl", "key": {"file": str(tmp_path / "etl.key")}},
                          {"name": "reader", "key": {"env": "READER_KEY"}, "scopes": ["kv:read"]}]})
    client = Client(create_app(config))
    assert client.post("/v4/keyvalues/ns", json={"key": "k", "value": "v"},
                       headers={"X-API-Key": FULL}).status_code == 201
    assert client.get("/v4/keyvalues/ns?key=k", headers={"X-API-Key": KEYS["reader"][0]}).status_code == 200
    assert client.post("/v4/keyvalues/ns", json={"key": "k", "value": "w"},
                       headers={"X-API-Key": KEYS["reader"][0]}).status_code == 403


@pytest.mark.parametrize("keys, wanted", [
    ([{"name": "a", "key": "k1"}, {"name": "a", "key": "k2"}], "used twice"),
    ([{"name": "a", "key": "k1"}, {"name": "b", "key": "k1"}], "same key"),
    ([{"name": "a", "key": "k1", "scopes": ["kv:rw"]}], "unknown scope"),
    ([{"name": "a", "key": ""}], "secret"),
    ([{"name": "a", "key": {"env": "VALET_TEST_UNSET_KEY"}}], "VALET_TEST_UNSET_KEY"),
    ([{"name": "a", "key": {"file": "/nonexistent/valet.key"}}], "/nonexistent/valet.key"),
    (["just-a-key"], "name, key"),
])
def test_unusable_keys_stop_start_up_naming_the_problem(keys, wanted):
    with pytest.raises(config_module.ConfigError, match="Valet.apiKeys") as e:
        config_module.load(env={}).with_overrides({"Valet.apiKeys": keys})
    assert wanted in str(e.value)
    assert "k1" not in str(e.value)  # a secret is never echoed


@pytest.mark.parametrize("host, warns", [("0.0.0.0", True), ("::", True), ("10.1.2.3", True),
                                         ("valet.example.com", True), ("127.0.0.1", False),
                                         ("::1", False), ("localhost", False)])
def test_listening_beyond_loopback_without_keys_warns(host, warns, caplog):
    warn_if_exposed(host, ())
    assert ("without API keys" in caplog.text) == warns
    caplog.clear()
    warn_if_exposed(host, parse_api_keys([{"name": "etl", "key": FULL}]))
    assert "without API keys" not in caplog.text


def test_the_served_process_with_keys_does_not_warn(served):
    assert "without API keys" not in served.log_path.read_text()
