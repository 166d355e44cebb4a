"""End to end: Butler-style subs run against a real HTTP server on a loopback port.

The script uses what Butler's butler_subs.qvs relies on (qlik-facts.md §10): Sub with Null()
and omitted arguments, `if (vX <> Null) then`, `For Each v in FieldValueList('T.TaskId')`
over a qualified table, `Let vBody = vBody & ...`, doubled quotes in BODY, a trailing comma in
WITH CONNECTION, `let $(vResultVarName) = Peek(...)`, `set vX;` clean-up and DROP TABLE.
"""
from __future__ import annotations

import json

import pytest

from emulator.errors import ScriptError
from emulator.rest_connector import Connection

SUBS = """
// ---- Butler-style subs (the shape of butler_subs.qvs, with a JSON body built in a loop)
sub StartTask(vTaskId, vTaskIdTable, vTagTable)
    Let vBody = '';
    if (vTaskIdTable <> Null) then
        For Each vId in FieldValueList('$(vTaskIdTable).TaskId')
            Let vBody = vBody & If(Len(vBody) > 0, ',', '') & '{"type":"starttaskid","payload":{"taskId":"' & vId & '"}}';
        Next vId
    end if
    if (vTagTable <> Null) then
        For Each vTag in FieldValueList('$(vTagTable).Tag')
            Let vBody = vBody & If(Len(vBody) > 0, ',', '') & '{"type":"starttasktag","payload":{"tag":"' & vTag & '"}}';
        Next vTag
    end if
    if (vTaskId <> Null) then
        Let vUrlTask = vTaskId;
    else
        Let vUrlTask = '-';
    end if
    Let vBody = Replace('[' & vBody & ']', '"', '""');

    LIB CONNECT TO 'Butler_POST';

    RestConnectorMasterTable:
    SQL SELECT
        "taskId"
    FROM JSON (wrap on) "root"
    WITH CONNECTION (
    Url "$(vButlerHost):$(vButlerPort)/v4/reloadtask/$(vUrlTask)/start",
    BODY "$(vBody)",
    HTTPHEADER "X-HTTP-Method-Override" "PUT",
    );

    set vBody;
    set vUrlTask;
    DROP TABLE RestConnectorMasterTable;
end sub

sub GetKeyValue(vNamespace, vKey, vResultVarName)
    LIB CONNECT TO 'Butler_GET';

    RestConnectorMasterTable:
    SQL SELECT
        "key",
        "value"
    FROM JSON (wrap on) "root"
    WITH CONNECTION (
    Url "$(vButlerHost):$(vButlerPort)/v4/keyvalues/$(vNamespace)?key=$(vKey)"
    );

    let $(vResultVarName) = Peek('value', 0, 'RestConnectorMasterTable');
    set vResultVarName=;
    DROP TABLE RestConnectorMasterTable;
end sub
"""

APP = """
$(Must_Include=subs.qvs);

Qualify *;
ButlerTaskIDs:
Load * Inline [
TaskId
7552d9fc-d1bb-4975-9a38-18357de531ea
fb0f317d-da91-4b86-aafa-0174ae1e8c8f
];
ButlerTags:
Load * Inline [
Tag
startTask1
];
Unqualify *;

Call StartTask('fbf645f0-0c92-40a4-af9a-6e3eb1d3c35c', 'ButlerTaskIDs')
Call StartTask(Null(), Null(), 'ButlerTags')
Call StartTask('e3b27f50-b1c0-4879-88fc-c7cdd9c1cf3e')
Call GetKeyValue('ns 1', 'k1', 'vValue')
Trace Value is $(vValue);
"""


def _connections(url: str) -> dict:
    return {"Butler_POST": Connection("Butler_POST", url + "/placeholder", "POST",
                                      {"Content-Type": "application/json"}, "{}"),
            "Butler_GET": Connection("Butler_GET", url + "/placeholder", "GET", {}, None)}


def test_butler_style_subs_send_the_expected_requests(run, http_server) -> None:
    http_server.answers += [(200, "{}")] * 3 + [(200, json.dumps({"key": "k1", "value": "v 1"}))]
    host, port = http_server.url.rsplit(":", 1)
    runner = run(APP, variables={"vButlerHost": host, "vButlerPort": port},
                 files={"subs.qvs": SUBS}, connections=_connections(http_server.url))

    seen = http_server.seen
    assert [(r["method"], r["path"]) for r in seen] == [
        ("POST", "/v4/reloadtask/fbf645f0-0c92-40a4-af9a-6e3eb1d3c35c/start"),
        ("POST", "/v4/reloadtask/-/start"),
        ("POST", "/v4/reloadtask/e3b27f50-b1c0-4879-88fc-c7cdd9c1cf3e/start"),
        ("GET", "/v4/keyvalues/ns%201?key=k1"),
    ]
    assert json.loads(seen[0]["body"]) == [
        {"type": "starttaskid", "payload": {"taskId": "7552d9fc-d1bb-4975-9a38-18357de531ea"}},
        {"type": "starttaskid", "payload": {"taskId": "fb0f317d-da91-4b86-aafa-0174ae1e8c8f"}},
    ]
    assert json.loads(seen[1]["body"]) == [{"type": "starttasktag", "payload": {"tag": "startTask1"}}]
    assert json.loads(seen[2]["body"]) == []
    assert all(r["headers"].get("X-HTTP-Method-Override") == "PUT" for r in seen[:3])
    assert len(runner.requests) == 4

    assert runner.variable_text("vValue") == "v 1"
    assert runner.trace == ["Value is v 1"]
    # the subs clean up: parameters restored (absent), helper variables emptied, tables dropped
    assert "vTaskId" not in runner.variables and "vResultVarName" not in runner.variables
    assert runner.variable_text("vBody") == ""
    assert sorted(runner.model.tables) == ["ButlerTags", "ButlerTaskIDs"]
    assert runner.model.tables["ButlerTaskIDs"].fields == ["ButlerTaskIDs.TaskId"]


def test_a_failing_request_stops_the_script_at_the_sql_statement(run, http_server) -> None:
    http_server.answers.append((500, "boom"))
    host, port = http_server.url.rsplit(":", 1)
    with pytest.raises(ScriptError) as caught:
        run(APP, variables={"vButlerHost": host, "vButlerPort": port},
            files={"subs.qvs": SUBS}, connections=_connections(http_server.url))
    assert "500" in caught.value.message
    assert caught.value.file.endswith("subs.qvs")
    assert caught.value.line == SUBS.splitlines().index("    RestConnectorMasterTable:") + 1


def test_errormode_0_lets_the_script_go_on_after_a_failed_request(run, http_server) -> None:
    """https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/ErrorVariables/ErrorMode.htm"""
    http_server.answers.append((404, "no such namespace"))
    runner = run("Set ErrorMode = 0;\nLIB CONNECT TO 'Butler_GET';\nT:\n"
                 f"SQL SELECT \"key\" FROM JSON (wrap on) \"root\" WITH CONNECTION (Url \"{http_server.url}/x\");\n"
                 "Let code = Num(ScriptError);\nLet after = 'went on';",
                 connections=_connections(http_server.url))
    assert (runner.variable_text("code"), runner.variable_text("after")) == ("1", "went on")
    assert "404" in runner.variable_text("ScriptErrorList")
    assert "T" not in runner.model.tables


def test_preceding_load_on_top_of_a_rest_select(run, http_server) -> None:
    """A LOAD with no source reads what the SQL SELECT below it returns
    (https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/LoadData/work-with-preceding-load.htm)."""
    http_server.answers.append((200, json.dumps([{"key": "a", "value": "1"}, {"key": "b", "value": "2"}])))
    runner = run("LIB CONNECT TO 'Butler_GET';\nKV:\nLOAD Upper(key) as Key, value * 10 as Value;\n"
                 f"SQL SELECT \"key\", \"value\" FROM JSON (wrap on) \"root\" WITH CONNECTION (Url \"{http_server.url}/kv\");",
                 connections=_connections(http_server.url))
    table = runner.model.tables["KV"]
    assert (table.fields, table.texts()) == (["Key", "Value"], [["A", "10"], ["B", "20"]])


def test_null_display_replaces_the_connectors_nulls_below_a_preceding_load(run, http_server) -> None:
    """NullDisplay: "The defined symbol will substitute all NULL values from ODBC, and
    connectors, on the lowest level of data": the preceding load above sees the symbol, not NULL
    (https://help.qlik.com/en-US/sense/Subsystems/Hub/Content/Sense_Hub/Scripting/ValueHandlingVariables/NullDisplay.htm)."""
    http_server.answers += [(200, json.dumps([{"key": "a", "value": None}, {"key": "b", "value": "2"}]))] * 2
    sql = ("SQL SELECT \"key\", \"value\" FROM JSON (wrap on) \"root\" "
           f"WITH CONNECTION (Url \"{http_server.url}/kv\");\n")
    runner = run("LIB CONNECT TO 'Butler_GET';\nSet NullDisplay = '<NULL>';\n"
                 "KV: LOAD key, value, IsNull(value) as Missing;\n" + sql +
                 "Set NullDisplay = ;\nKV2: NoConcatenate LOAD key, value, IsNull(value) as Missing;\n" + sql,
                 connections=_connections(http_server.url))
    assert runner.model.tables["KV"].texts() == [["a", "<NULL>", "0"], ["b", "2", "0"]]
    assert runner.model.tables["KV2"].texts() == [["a", None, "-1"], ["b", "2", "0"]]
