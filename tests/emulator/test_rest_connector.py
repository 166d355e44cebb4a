"""The REST connector against a real HTTP server on a free 127.0.0.1 port.

Statements are written as Butler's published butler_subs.qvs writes them (qlik-facts.md §7-§8,
source BSUBS); response shapes are Valet's/Butler's (SPEC §2)."""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from emulator.errors import SYNTAX_ERROR, ScriptError
from emulator.rest_connector import (Connection, RecordedRequest, load_connections, parse_sql_select,
                                     run_sql_select)


# ---------------------------------------------------------------- a recording HTTP server

@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: str


@dataclass
class Reply:
    status: int = 200
    body: str = ""
    delay: float = 0.0


@dataclass
class RecordingServer:
    base: str = ""
    replies: dict[tuple[str, str], Reply] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)

    def reply(self, method: str, path: str, status: int = 200, body: object = "", delay: float = 0.0) -> None:
        text = body if isinstance(body, str) else json.dumps(body)
        self.replies[(method, path)] = Reply(status, text, delay)


def _handler(server: RecordingServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode("utf-8")
            server.seen.append(Seen(self.command, self.path, dict(self.headers.items()), body))
            reply = server.replies.get((self.command, self.path), Reply(404, '{"message": "no route"}'))
            time.sleep(reply.delay)
            payload = reply.body.encode("utf-8")
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            try:
                self.wfile.write(payload)
            except BrokenPipeError:  # the client gave up (timeout test)
                pass

        do_GET = do_POST = _serve

        def log_message(self, *args) -> None:
            pass

    return Handler


@pytest.fixture
def server():
    state = RecordingServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def butler_get(server: RecordingServer) -> Connection:
    return Connection("Butler_GET", server.base + "/v4/butlerping", "GET", {"X-Api-Key": "secret"}, None)


def butler_post(server: RecordingServer) -> Connection:
    # Butler's setup page creates Butler_POST with this JSON body (qlik-facts.md §7, BDOCS-DC)
    return Connection("Butler_POST", server.base + "/v4/butlerping", "POST",
                      {"Content-Type": "application/json"}, '{"key":"abc","value":"123","ttl":"5000"}')


def run(statement: str, connection: Connection):
    recorder: list[RecordedRequest] = []
    fields, rows = run_sql_select(statement, connection, recorder)
    return fields, [[None if v is None else v.text for v in row] for row in rows], recorder


# ---------------------------------------------------------------- Butler's subs, one by one

def test_get_key_value(server) -> None:
    server.reply("GET", "/v4/keyvalues/ns1?key=k1", body={"namespace": "ns1", "key": "k1", "value": "v1"})
    statement = f'''SQL
    SELECT
        "key",
        "value"
    FROM JSON (wrap on) "root"
    WITH CONNECTION (
    Url "{server.base}/v4/keyvalues/ns1?key=k1"
    );'''
    fields, rows, recorded = run(statement, butler_get(server))
    assert (fields, rows) == (["key", "value"], [["k1", "v1"]])
    assert recorded == [RecordedRequest("GET", server.base + "/v4/keyvalues/ns1?key=k1",
                                        {"X-Api-Key": "secret"}, None)]
    seen = server.seen[0]
    assert (seen.method, seen.path, seen.body) == ("GET", "/v4/keyvalues/ns1?key=k1", "")
    assert seen.headers["X-Api-Key"] == "secret"


# Each shape: the route, Valet's/Butler's reply (SPEC §2), the statement as butler_subs.qvs
# writes it, and the master table the connector gives (qlik-facts.md §8).
KEY_EXISTS_SELECT = '''SQL SELECT
        "keyExists",
        "__KEY_root",
        (SELECT
            "namespace",
            "key",
            "value",
            "ttl",
            "__FK_keyValue"
        FROM "keyValue" FK "__FK_keyValue")
    FROM JSON (wrap on) "root" PK "__KEY_root"
    WITH CONNECTION (
    Url "{base}{path}",
    );'''
KEY_VALUE_FIELDS = ["keyExists", "__KEY_root", "namespace", "key", "value", "ttl", "__FK_keyValue"]

JSON_SHAPES = {
    "keyexists with nested keyValue": (
        "/v4/keyvalues/ns1/keyexists?key=k1",
        {"keyExists": True, "keyValue": {"namespace": "ns1", "key": "k1", "value": "v1", "ttl": 0}},
        KEY_EXISTS_SELECT, KEY_VALUE_FIELDS,
        [["true", "1", None, None, None, None, None], [None, None, "ns1", "k1", "v1", "0", "1"]]),
    "keyexists false with empty keyValue": (
        "/v4/keyvalues/nope/keyexists?key=k1", {"keyExists": False, "keyValue": {}},
        KEY_EXISTS_SELECT, KEY_VALUE_FIELDS,
        [["false", "1", None, None, None, None, None], [None, None, None, None, None, None, "1"]]),
    "keylist with an array of objects": (
        "/v4/keylist/ns1", {"namespace": "ns1", "keys": [{"key": "a"}, {"key": "b"}]},
        '''SQL SELECT
            "namespace",
            "__KEY_root",
            (SELECT
                "key",
                "__FK_keys"
            FROM "keys" FK "__FK_keys")
		FROM JSON (wrap on) "root" PK "__KEY_root"
    WITH CONNECTION (
    Url "{base}{path}",
    );''',
        ["namespace", "__KEY_root", "key", "__FK_keys"],
        [["ns1", "1", None, None], [None, None, "a", "1"], [None, None, "b", "1"]]),
    "namespaces, an array of strings": (
        "/v4/keyvaluesnamespaces", ["ns1", "ns 2", "42"],
        '''SQL SELECT
        "@Value"
    FROM JSON (wrap on) "root" ArrayValueAlias "@Value"
    WITH CONNECTION (
    Url "{base}{path}",
    );''',
        ["@Value"], [["ns1"], ["ns 2"], ["42"]]),
    "a top-level array of objects (a QRS-style list), each a root row": (
        "/qrs/task", [{"id": "t1", "name": "Reload A"}, {"id": "t2", "name": "Reload B"}],
        'SQL SELECT "id", "name" FROM JSON (wrap on) "root" PK "__KEY_root" WITH CONNECTION (Url "{base}{path}")',
        ["id", "name", "__KEY_root"], [["t1", "Reload A", "1"], ["t2", "Reload B", "2"]]),
    "a nested array of strings through ArrayValueAlias": (
        "/qrs/task/full", [{"id": "t1", "tags": ["nightly", "finance"]}, {"id": "t2", "tags": []}],
        '''SQL SELECT "id", (SELECT "@Value", "__FK_tags" FROM "tags" FK "__FK_tags" ArrayValueAlias "@Value")
        FROM JSON (wrap on) "root" PK "__KEY_root" WITH CONNECTION (Url "{base}{path}")''',
        ["id", "__KEY_root", "@Value", "__FK_tags"],
        [["t1", "1", None, None], [None, None, "nightly", "1"], [None, None, "finance", "1"], ["t2", "2", None, None]]),
}


@pytest.mark.parametrize("path, reply, statement, fields, rows", JSON_SHAPES.values(), ids=JSON_SHAPES.keys())
def test_json_shape_to_master_table(server, path: str, reply, statement: str, fields: list, rows: list) -> None:
    server.reply("GET", path, body=reply)
    assert run(statement.format(base=server.base, path=path), butler_get(server))[:2] == (fields, rows)


START_REPLY = {"tasksId": {"started": [{"taskId": "e3b27f50-b1c0-4879-88fc-c7cdd9c1cf3e", "taskName": "Reload A"}],
                           "invalid": [], "denied": []},
               "tasksTag": [], "tasksTagDenied": [], "tasksCP": [], "tasksCPDenied": []}


def test_start_task_sends_the_stored_body_and_selects_an_absent_field(server) -> None:
    server.reply("POST", "/v4/reloadtask/e3b27f50-b1c0-4879-88fc-c7cdd9c1cf3e/start", body=START_REPLY)
    statement = f'''SQL SELECT
    	"taskId"
    FROM JSON (wrap on) "root"
    WITH CONNECTION (
    Url "{server.base}/v4/reloadtask/e3b27f50-b1c0-4879-88fc-c7cdd9c1cf3e/start",
    HTTPHEADER "X-HTTP-Method-Override" "PUT"
    );'''
    fields, rows, recorded = run(statement, butler_post(server))
    assert (fields, rows) == (["taskId"], [[None]])
    assert recorded[0].headers == {"Content-Type": "application/json", "X-HTTP-Method-Override": "PUT"}
    assert recorded[0].body == '{"key":"abc","value":"123","ttl":"5000"}'
    seen = server.seen[0]
    assert seen.body == recorded[0].body
    assert seen.headers["X-HTTP-Method-Override"] == "PUT"


def test_start_task_reply_two_levels_deep(server) -> None:
    server.reply("POST", "/v4/reloadtask/-/start", body=START_REPLY)
    statement = f'''SQL SELECT
        (SELECT
            (SELECT "taskId", "taskName", "__FK_started" FROM "started" FK "__FK_started")
         FROM "tasksId" PK "__KEY_tasksId" FK "__FK_tasksId")
    FROM JSON (wrap on) "root" PK "__KEY_root"
    WITH CONNECTION (Url "{server.base}/v4/reloadtask/-/start", BODY "[]");'''
    fields, rows, recorded = run(statement, butler_post(server))
    assert fields == ["__KEY_root", "__FK_tasksId", "__KEY_tasksId", "taskId", "taskName", "__FK_started"]
    assert rows == [["1", None, None, None, None, None],
                    [None, "1", "1", None, None, None],
                    [None, None, None, "e3b27f50-b1c0-4879-88fc-c7cdd9c1cf3e", "Reload A", "1"]]
    assert recorded[0].body == server.seen[0].body == "[]"


def test_add_key_value_body_with_doubled_quotes_and_header_override(server) -> None:
    # AddKeyValue doubles every quote of the body (Replace(vRequestBody,'"', chr(34)&chr(34)))
    server.reply("POST", "/v4/keyvalues/ns1", status=201,
                 body={"namespace": "ns1", "key": "k1", "value": 'say "hi"', "ttl": 60000})
    connection = Connection("Butler_POST", server.base, "POST", {"content-type": "text/plain"}, None)
    statement = f'''SQL SELECT
        "namespace",
        "key",
        "value",
        "ttl"
    FROM JSON (wrap on) "root"
    WITH CONNECTION (
    Url "{server.base}/v4/keyvalues/ns1",
    BODY "{{""key"": ""k1"", ""value"": ""say \\""hi\\"""", ""ttl"": ""60000""}}",
    HTTPHEADER "Content-Type" "application/json"
    );'''
    fields, rows, recorded = run(statement, connection)
    assert rows == [["ns1", "k1", 'say "hi"', "60000"]]
    assert json.loads(server.seen[0].body) == {"key": "k1", "value": 'say "hi"', "ttl": "60000"}
    assert recorded[0].headers == {"Content-Type": "application/json"}
    assert server.seen[0].headers["Content-Type"] == "application/json"


def test_delete_with_empty_field_list_and_no_content(server) -> None:
    server.reply("POST", "/v4/keyvalues/ns1/k1", status=204)
    statement = f'''SQL SELECT
    FROM JSON (wrap on) "root"
    WITH CONNECTION (
    Url "{server.base}/v4/keyvalues/ns1/k1",
    HTTPHEADER "X-HTTP-Method-Override" "DELETE"
    );'''
    fields, rows, recorded = run(statement, butler_post(server))
    assert (fields, rows) == ([], [])
    assert [(r.method, r.url, r.headers["X-HTTP-Method-Override"]) for r in recorded] == \
        [("POST", server.base + "/v4/keyvalues/ns1/k1", "DELETE")]


def test_empty_field_list_selects_root_scalars(server) -> None:
    server.reply("GET", "/v4/butlerping", body={"response": "Butler reporting for duty", "butlerVersion": "1.0",
                                                 "nested": {"a": 1}})
    fields, rows, _ = run('SQL SELECT FROM JSON (wrap on) "root";', butler_get(server))
    assert (fields, rows) == (["response", "butlerVersion"], [["Butler reporting for duty", "1.0"]])


# ---------------------------------------------------------------- WITH CONNECTION syntax

def test_query_parameters_are_encoded_and_appended(server) -> None:
    server.reply("GET", "/v4/keyvalues/ns1?x=1&key=a%20b%26c&default=", body={"value": "v"})
    statement = f'''SQL SELECT "value" FROM JSON (wrap on) "root"
    WITH CONNECTION (URL "{server.base}/v4/keyvalues/ns1?x=1", QUERY "key" "a b&c", QUERY "default" "");'''
    _, rows, recorded = run(statement, butler_get(server))
    assert rows == [["v"]]
    assert recorded[0].url == server.base + "/v4/keyvalues/ns1?x=1&key=a%20b%26c&default="


def test_recorded_url_is_the_url_sent(server) -> None:
    # Butler's subs put namespace and key straight into Url, unencoded (qlik-facts.md §7)
    server.reply("GET", "/v4/keyvalues/my%20ns?key=k%C3%A9", body={"value": "v"})
    statement = f'SQL SELECT "value" FROM JSON (wrap on) "root" WITH CONNECTION (Url "{server.base}/v4/keyvalues/my ns?key=ké")'
    _, rows, recorded = run(statement, butler_get(server))
    assert rows == [["v"]]
    assert recorded[0].url == server.base + server.seen[0].path == server.base + "/v4/keyvalues/my%20ns?key=k%C3%A9"


@pytest.mark.parametrize("url, message", [("localhost:8080/v4/x", "GET localhost:8080/v4/x failed"),
                                          ("http://", "cannot send GET http://")])
def test_unusable_url_fails(url: str, message: str) -> None:
    statement = f'SQL SELECT "x" FROM JSON (wrap on) "root" WITH CONNECTION (Url "{url}")'
    with pytest.raises(ScriptError, match=message):
        run(statement, Connection("c", "http://127.0.0.1:1/", "GET", {}, None))


def test_commas_comments_and_lowercase_keywords(server) -> None:
    server.reply("POST", "/v4/keyvalues/ns1", body={"key": "k"})
    statement = f'''sql select "key" from json (WRAP ON) "root"
    with connection (
        , url "{server.base}/v4/keyvalues/ns1"
        // a comment line, as ChristofSchwarz's scripts have
        ,, httpheader "X-A" "1",
        /* a block comment */ body "{{}}",
    )'''
    _, rows, recorded = run(statement, butler_post(server))
    assert rows == [["k"]]
    assert recorded[0].headers["X-A"] == "1" and recorded[0].body == "{}"


def test_without_with_connection_the_connection_is_used_as_stored(server) -> None:
    server.reply("POST", "/v4/butlerping", body={"response": "ok"})
    _, rows, recorded = run('SQL SELECT "response" FROM JSON (wrap on) "root"', butler_post(server))
    assert rows == [["ok"]]
    assert recorded == [RecordedRequest("POST", server.base + "/v4/butlerping", {"Content-Type": "application/json"},
                                        '{"key":"abc","value":"123","ttl":"5000"}')]


def test_json_value_types(server) -> None:
    server.reply("GET", "/v4/butlerping", body={"t": True, "f": False, "n": None, "i": 42, "x": 1.5,
                                                 "s": "007", "o": {"a": 1}})
    recorder: list[RecordedRequest] = []
    fields, rows = run_sql_select('SQL SELECT "t","f","n","i","x","s","o","missing" FROM JSON (wrap on) "root"',
                                  butler_get(server), recorder)
    values = dict(zip(fields, rows[0]))
    assert values["t"].text == "true" and values["f"].text == "false"
    assert values["n"] is None and values["o"] is None and values["missing"] is None
    assert (values["i"].text, values["i"].num) == ("42", 42)
    assert (values["x"].text, values["x"].num) == ("1.5", 1.5)
    assert (values["s"].text, values["s"].num) == ("007", 7)


# ---------------------------------------------------------------- failures

@pytest.mark.parametrize("status, body", [
    (400, {"statusCode": 400, "error": "Bad Request", "message": "Key 'k9' not found in namespace 'ns1'"}),
    (404, {"statusCode": 404, "error": "Not Found", "message": "no such route"}),
    (500, {"statusCode": 500, "error": "Internal Server Error", "message": "database is locked"}),
    (503, {"statusCode": 503, "error": "Service Unavailable", "message": "repository unreachable"}),
])
def test_non_2xx_fails_with_status_and_body(server, status: int, body: dict) -> None:
    server.reply("GET", "/v4/keyvalues/ns1?key=k9", status=status, body=body)
    recorder: list[RecordedRequest] = []
    statement = f'SQL SELECT "value" FROM JSON (wrap on) "root" WITH CONNECTION (Url "{server.base}/v4/keyvalues/ns1?key=k9")'
    with pytest.raises(ScriptError) as failure:
        run_sql_select(statement, butler_get(server), recorder)
    assert f"HTTP {status}" in str(failure.value)
    assert body["message"] in str(failure.value)
    assert [r.url for r in recorder] == [server.base + "/v4/keyvalues/ns1?key=k9"]


def test_answer_that_is_not_json_fails(server) -> None:
    server.reply("GET", "/v4/butlerping", body="<html>proxy login</html>")
    with pytest.raises(ScriptError, match="not JSON"):
        run('SQL SELECT "x" FROM JSON (wrap on) "root"', butler_get(server))


def test_timeout_fails(server) -> None:
    server.reply("GET", "/v4/butlerping", body={"x": 1}, delay=1.0)
    connection = butler_get(server)
    connection.timeout = 0.2
    with pytest.raises(ScriptError, match="failed"):
        run('SQL SELECT "x" FROM JSON (wrap on) "root"', connection)


def test_refused_connection_fails() -> None:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    connection = Connection("dead", f"http://127.0.0.1:{port}/x", "GET", {}, None, timeout=2)
    with pytest.raises(ScriptError, match=f"GET http://127.0.0.1:{port}/x failed"):
        run('SQL SELECT "x" FROM JSON (wrap on) "root"', connection)


@pytest.mark.parametrize("statement, message", [
    ('SQL SELECT "x" FROM "root"', "expected JSON"),
    ('SQL SELECT "x" FROM JSON (wrap off) "root"', "expected on"),
    ('SQL SELECT "x" FROM JSON (wrap on) "root" WITH CONNECTION (TIMEOUT "5")', "expected URL, QUERY"),
    ('SQL SELECT "x" FROM JSON (wrap on) "root" WITH CONNECTION (Url "http://h" ', "expected a quoted URL|found end"),
    ('SQL SELECT "x", (SELECT "y" FROM "c") FROM JSON (wrap on) "root" PK "__KEY_root"', "needs FK"),
    ('SQL SELECT "x", (SELECT "y" FROM "c" FK "__FK_c") FROM JSON (wrap on) "root"', "needs PK"),
    ('SQL SELECT "x" FROM JSON (wrap on) "root" FK "f"', "FK is not allowed here"),
    ('SQL SELECT "x" FROM JSON (wrap on) "root" extra', "expected the end"),
    ('SQL SELECT "x" FROM JSON (wrap on) "root" WITH CONNECTION (Url "unterminated)', "unexpected"),
])
def test_unsupported_syntax_fails_loudly(statement: str, message: str) -> None:
    with pytest.raises(ScriptError, match=message) as failure:
        parse_sql_select(statement)
    assert failure.value.code == SYNTAX_ERROR


def test_field_alias_and_doubled_quotes_in_names() -> None:
    sql = parse_sql_select('SQL SELECT "value" AS "value_u0", "say ""x""" FROM JSON (wrap on) "root"')
    assert sql.select.fields == [("value", "value_u0"), ('say "x"', 'say "x"')]


# ---------------------------------------------------------------- connections file

def test_load_connections(tmp_path) -> None:
    path = tmp_path / "connections.yaml"
    path.write_text("""
Butler_GET:
  url: http://127.0.0.1:8080/v4/butlerping
Butler_POST:
  url: http://127.0.0.1:8080/v4/butlerping
  method: post
  headers: {Content-Type: application/json, X-Api-Key: k}
  body: {"key": "abc", "value": "123", "ttl": "5000"}
  timeout: 5
""", encoding="utf-8")
    connections = load_connections(path)
    assert connections["Butler_GET"] == Connection("Butler_GET", "http://127.0.0.1:8080/v4/butlerping", "GET", {}, None)
    post = connections["Butler_POST"]
    assert (post.method, post.headers, post.timeout) == ("POST", {"Content-Type": "application/json", "X-Api-Key": "k"}, 5)
    assert json.loads(post.body) == {"key": "abc", "value": "123", "ttl": "5000"}


@pytest.mark.parametrize("content, message", [
    ("C: {url: http://h, method: PUT}", "method must be GET or POST"),
    ("C: {method: GET}", "needs a 'url'"),
    ("C: {url: http://h, password: x}", "unknown keys"),
    ("- just a list", "expected a mapping"),
    ("C: {url: http://h, headers: [a, b]}", "'headers' must be a mapping"),
])
def test_bad_connections_file_fails(tmp_path, content: str, message: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ScriptError, match=message):
        load_connections(path)


def test_missing_connections_file_fails(tmp_path) -> None:
    with pytest.raises(ScriptError, match="Cannot read connections file"):
        load_connections(tmp_path / "absent.yaml")
