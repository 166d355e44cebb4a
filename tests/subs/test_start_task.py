"""StartTask and StartTask_KeyValue through the emulator against a live Valet and the simulated
repository: the exact request, what the repository was asked to start, what is left behind.
The examples are part 2 of reference/butler-start-sense-tasks.txt."""
from __future__ import annotations

import json

from tasks.start_support import A1, A2, A3, OPS

TASK_TABLE = f"""Qualify *;
ButlerTaskIDs:
Load * Inline [
TaskId
{A2[0]}
{A3[0]}
];
"""
TAG_TABLE = """Qualify *;
ButlerTags:
Load * Inline [
Tag
startTask1
startTask2
];
"""
CP_TABLE = """Qualify *;
ButlerCustomProperties:
Load * Inline [
Name, Value
taskGroup, tasks1
];
"""


def tid(task_id: str) -> dict:
    return {"type": "starttaskid", "payload": {"taskId": task_id}}


def tag(name: str) -> dict:
    return {"type": "starttasktag", "payload": {"tag": name}}


def cp(name: str, value: str) -> dict:
    return {"type": "starttaskcustomproperty",
            "payload": {"customPropertyName": name, "customPropertyValue": value}}


def the_start_request(run, url_task: str) -> list:
    """The one request of the run: a POST to the start endpoint (the REST connector has no PUT,
    and the endpoint takes POST); its parsed body."""
    [request] = run.requests
    assert request.method == "POST"
    assert request.url == f"{run.var('vButlerHost')}:{run.var('vButlerPort')}/v4/reloadtask/{url_task}/start"
    assert request.headers.get("Content-Type") == "application/json"
    assert "X-API-Key" not in request.headers  # the committed file sends no key
    return json.loads(request.body)


def assert_clean(run, *caller_tables: str) -> None:
    assert run.left_variables() == set()
    assert run.tables() == set(caller_tables)


def test_one_task(run_script, qlog) -> None:
    run = run_script(f"Call StartTask('{OPS[0]}')").succeeded()
    assert the_start_request(run, OPS[0]) == []
    assert qlog.starts() == {OPS[0]: 1}
    assert_clean(run)


def test_example_1_task_id_table_and_first_argument(run_script, qlog) -> None:
    run = run_script(TASK_TABLE + f"Call StartTask('{OPS[0]}', 'ButlerTaskIDs')\nUnqualify *;\n").succeeded()
    assert the_start_request(run, OPS[0]) == [tid(A2[0]), tid(A3[0])]
    assert qlog.starts() == {OPS[0]: 1, A2[0]: 1, A3[0]: 1}
    assert_clean(run, "ButlerTaskIDs")


def test_example_2_first_argument_null(run_script, qlog) -> None:
    run = run_script(TASK_TABLE + "Call StartTask(Null(), 'ButlerTaskIDs')\nUnqualify *;\n").succeeded()
    assert the_start_request(run, "-") == [tid(A2[0]), tid(A3[0])]
    assert qlog.starts() == {A2[0]: 1, A3[0]: 1}
    assert_clean(run, "ButlerTaskIDs")


def test_tags_with_the_first_argument_left_empty(run_script, qlog) -> None:
    run = run_script(TAG_TABLE + "Call StartTask(, Null(), 'ButlerTags')\nUnqualify *;\n").succeeded()
    assert the_start_request(run, "-") == [tag("startTask1"), tag("startTask2")]
    assert qlog.starts() == {A1[0]: 1, A2[0]: 1, A3[0]: 1}
    assert_clean(run, "ButlerTags")


def test_custom_properties_corrected_call(run_script, qlog) -> None:
    run = run_script(CP_TABLE + "Call StartTask(, Null(), Null(), 'ButlerCustomProperties')\n"
                     "Unqualify *;\n").succeeded()
    assert the_start_request(run, "-") == [cp("taskGroup", "tasks1")]
    assert qlog.starts() == {A1[0]: 1, A2[0]: 1, A3[0]: 1}
    assert_clean(run, "ButlerCustomProperties")


def test_custom_properties_as_the_reference_wrote_it_fails_naming_the_table(run_script, qlog) -> None:
    """The reference loads ButlerCustomProperties but passes 'ButlerKeyValues'."""
    run = run_script(CP_TABLE + "Call StartTask(, Null(), Null(), 'ButlerKeyValues')\nUnqualify *;\n")
    assert run.error is not None
    assert run.requests == [] and qlog.starts() == {}
    [message] = [t for t in run.runner.trace if "failed" in t]
    assert message.startswith("butler_subs.qvs: StartTask failed: ")
    assert "no table named ButlerKeyValues" in message
    # the reload stops at the library's deliberate failing statement, right after the trace line
    assert run.error.statement.startswith("ValetSubsError")


def test_a_missing_field_fails_naming_table_and_field(run_script) -> None:
    run = run_script("Qualify *;\nT:\nLoad * Inline [\nId\nx\n];\nCall StartTask(, 'T')\n")
    assert run.error is not None and run.requests == []
    assert any("StartTask failed: table T has no field TaskId" in t for t in run.runner.trace)


def test_mixed_tables_in_one_call_one_request(run_script, qlog, kv) -> None:
    run = run_script(TASK_TABLE + TAG_TABLE + CP_TABLE + """Qualify *;
KV:
Load * Inline [
Namespace, Key, Value, TTL
Mixed, p1, one, 60000
Mixed, p2, two,
];
Call StartTask('""" + OPS[0] + """', 'ButlerTaskIDs', 'ButlerTags', 'ButlerCustomProperties', 'KV')
Unqualify *;
""").succeeded()
    assert the_start_request(run, OPS[0]) == [
        tid(A2[0]), tid(A3[0]), tag("startTask1"), tag("startTask2"), cp("taskGroup", "tasks1"),
        {"type": "keyvaluestore", "payload": {"namespace": "Mixed", "key": "p1", "value": "one", "ttl": 60000}},
        {"type": "keyvaluestore", "payload": {"namespace": "Mixed", "key": "p2", "value": "two"}}]
    # one start per task whatever the number of items matching it (SPEC §2)
    assert qlog.starts() == {OPS[0]: 1, A1[0]: 1, A2[0]: 1, A3[0]: 1}
    assert (kv("Mixed", "p1"), kv("Mixed", "p2")) == ("one", "two")
    assert_clean(run, "ButlerTaskIDs", "ButlerTags", "ButlerCustomProperties", "KV")


def test_a_key_value_table_without_ttl_field_and_unqualified(run_script, kv) -> None:
    run = run_script("P:\nLoad * Inline [\nNamespace, Key, Value\nPlain, k, v\n];\n"
                     "Call StartTask(Null(), Null(), Null(), Null(), 'P')\n").succeeded()
    assert the_start_request(run, "-") == [
        {"type": "keyvaluestore", "payload": {"namespace": "Plain", "key": "k", "value": "v"}}]
    assert kv("Plain", "k") == "v"


def test_a_ttl_that_is_not_a_number_fails_before_sending(run_script) -> None:
    run = run_script("Qualify *;\nP:\nLoad * Inline [\nNamespace, Key, Value, TTL\nn, k, v, soon\n];\n"
                     "Call StartTask(Null(), Null(), Null(), Null(), 'P')\n")
    assert run.error is not None and run.requests == []
    assert any("field TTL of table P must be a number of milliseconds" in t for t in run.runner.trace)


def test_empty_tables_send_an_empty_list(run_script, qlog) -> None:
    run = run_script("Qualify *;\nE:\nLoad * Inline [\nTaskId\n];\nF:\nLoad * Inline [\nTag\n];\n"
                     "Call StartTask(Null(), 'E', 'F')\n").succeeded()
    assert the_start_request(run, "-") == []
    assert qlog.starts() == {}
    assert_clean(run, "E", "F")


def test_a_1000_row_task_table_is_one_request(run_script, qlog) -> None:
    run = run_script("Qualify *;\nMany:\nLoad '" + A4_LIKE + "' & Num(RecNo(), '000000000000') as TaskId\n"
                     "AutoGenerate 1000;\nCall StartTask(Null(), 'Many')\n").succeeded()
    body = the_start_request(run, "-")
    assert body == [tid(f"{A4_LIKE}{n:012d}") for n in range(1, 1001)]
    assert qlog.starts() == {}  # well-formed IDs Sense does not know: invalid, nothing started
    assert_clean(run, "Many")


A4_LIKE = "00000000-0000-4000-8000-"


def test_start_task_key_value(run_script, qlog, kv) -> None:
    run = run_script(f"Call StartTask_KeyValue('{OPS[0]}', 'MyNamespace', 'An important key', 'The value', 3000)").succeeded()
    assert the_start_request(run, OPS[0]) == [
        {"type": "keyvaluestore", "payload": {"namespace": "MyNamespace", "key": "An important key",
                                              "value": "The value", "ttl": 3000}}]
    assert qlog.starts() == {OPS[0]: 1}
    assert kv("MyNamespace", "An important key") == "The value"
    assert_clean(run)


def test_start_task_key_value_without_ttl_sends_none(run_script) -> None:
    for ttl in ("", ", 0", ", ''", ", Null()"):
        run = run_script(f"Call StartTask_KeyValue('{OPS[0]}', 'N', 'K', 'V'{ttl})").succeeded()
        assert the_start_request(run, OPS[0])[0]["payload"] == {"namespace": "N", "key": "K", "value": "V"}


def test_tasks_valet_could_not_start_are_traced(run_script, clean_sense) -> None:
    clean_sense.set_faults(rules=[{"path": "/qrs/task/start/many", "action": "status", "status": 500}])
    run = run_script(f"Call StartTask('{OPS[0]}')").succeeded()
    assert any(t.startswith(f"StartTask: task {OPS[0]} did not start: ") for t in run.runner.trace)
