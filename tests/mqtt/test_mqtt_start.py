"""Task starts over a real Mosquitto (SPEC §5; the reference document's part 3, "Start Sense
tasks using MQTT": a message on taskStartTopic is a task ID, which is then started). What was
started is read from the simulated repository's request log; results from the result topic,
in the REST answer's shape (the reference's response bodies, plus Valet's `failed`)."""
from __future__ import annotations

import json
import re
import time

import pytest
import requests

from demo.processes import Valet
from helpers import log_once_written
from mqtt.mqtt_support import START_TOPIC, Client, valet_config
from tasks.start_support import (A1, A2, A3, A4, DISABLED, audit_rows, cp, ids, kv, refs,
                                 result, tag, tid)

FILTER = {"startTaskFilter": {"enable": True, "allowTask": {
    "taskId": [A1[0], A3[0], DISABLED[0]], "tag": ["startTask2"],
    "customProperty": [{"name": "taskGroup", "value": "tasks2"}]}}}


@pytest.fixture(scope="module")
def valet(tmp_path_factory, sense, broker):
    """Valet with the start filter on, MQTT 5, results on RESULT_TOPIC."""
    root = tmp_path_factory.mktemp("valet")
    butler, valet_section = valet_config(sense, broker, FILTER, protocolVersion=5)
    server = Valet(root, butler, valet_section, log=(root / "valet.log").open("w")).start()
    server.log_path = root / "valet.log"
    yield server
    server.stop()


@pytest.fixture
def client(broker, valet):
    c = Client(broker)
    yield c
    c.close()


def test_a_task_id_starts_that_task(client, qlog) -> None:
    client.publish(A1[0])
    assert client.results(1) == [result(started=refs(A1))]
    assert qlog.starts() == {A1[0]: 1}


def test_an_invalid_guid_and_a_denied_id_start_nothing_and_say_why(client, qlog, valet) -> None:
    client.publish("not-a-guid")
    client.publish(A2[0])  # exists, not on the allow list
    client.publish("")
    assert client.results(3) == [result(invalid=ids("not-a-guid")), result(denied=ids(A2[0])),
                                 result(invalid=ids(""))]
    assert qlog.starts() == {}
    log = log_once_written(valet.log_path, f"denied ids [{A2[0]}]").splitlines()
    for what in (f"denied ids [{A2[0]}]", "invalid [not-a-guid]"):
        [line] = [line for line in log if what in line]
        assert "WARNING" in line and "valet.tasks" in line and "via mqtt" in line


def test_a_json_array_of_several_kinds(client, qlog, valet) -> None:
    """The REST body's format: IDs, tags, custom properties, key-value items; each judged by
    the filter (A4, tag startTask1 and tasks1 are not allowed)."""
    body = [kv("mqttKey", "from mqtt", namespace="mqttNs"), tid(A4[0]), tid(A1[0]),
            tag("startTask2"), tag("startTask1"), cp("tasks2"), cp("tasks1")]
    client.publish(json.dumps(body))
    assert client.results(1) == [result(
        started=refs(A1), denied=ids(A4[0]), by_tag=refs(A3), tag_denied=[{"tag": "startTask1"}],
        by_cp=refs(A2), cp_denied=[{"name": "taskGroup", "value": "tasks1"}])]
    assert qlog.starts() == {A1[0]: 1, A3[0]: 1, A2[0]: 1}
    r = requests.get(f"{valet.url}/v4/keyvalues/mqttNs", params={"key": "mqttKey"}, timeout=5)
    assert r.json()["value"] == "from mqtt"


def test_a_disabled_task_is_reported_failed(client, qlog) -> None:
    client.publish(DISABLED[0])
    [body] = client.results(1)
    assert body["tasksId"]["started"] == [] and [f["taskId"] for f in body["failed"]] == [DISABLED[0]]
    assert qlog.starts() == {}


def test_correlation_from_the_json_form_and_from_mqtt5_correlation_data(client, qlog) -> None:
    client.publish(json.dumps({"items": [tid(A1[0])], "correlationId": "job-17"}))
    client.publish(A3[0], correlation=b"run-42")
    got = client.results_with_correlation(2)
    assert got == [({**result(started=refs(A1)), "correlationId": "job-17"}, None),
                   ({**result(started=refs(A3)), "correlationId": "run-42"}, b"run-42")]


def test_all_task_ids_must_exist_in_the_json_form(client, qlog) -> None:
    """One invalid ID (not a GUID: an unknown GUID would be denied by the filter) holds back
    every ID-based start."""
    client.publish(json.dumps({"items": [tid(A1[0]), tid("nope")], "allTaskIdsMustExist": True}))
    assert client.results(1) == [result(invalid=ids("nope"), denied=ids(A1[0]))]
    assert qlog.starts() == {}


@pytest.mark.parametrize("payload, expected", [
    (b"[{bad", "the payload is not valid JSON"),
    (b"\xff\xfe" + A1[0].encode(), "the payload is not UTF-8 text"),
    (b'{"items": [], "taskId": "x"}', "unknown field(s) taskId"),
    (b'{"correlationId": "c"}', "items is missing"),
    (b'[{"type": "starttasktag", "payload": {}}]', "item 1 (starttasktag): payload.tag must be a string"),
    (b'{"items": {}}', "the body must be a JSON array"),
])
def test_an_invalid_payload_answers_400_and_starts_nothing(client, qlog, valet, payload, expected) -> None:
    client.publish(payload)
    [body] = client.results(1)
    assert body["statusCode"] == 400 and body["error"] == "Bad Request"
    assert body["message"].startswith("invalid start request: ") and expected in body["message"]
    assert qlog.starts() == {}
    assert requests.get(f"{valet.url}/v4/butlerping", timeout=5).status_code == 200


def test_a_payload_over_the_body_limit_answers_413(client, qlog) -> None:
    """Valet.limits.requestBodyBytes (default 2 MiB) bounds a payload as it bounds a REST body."""
    client.publish(json.dumps([tid(A1[0])] * 40_000))  # about 2.4 MB
    [body] = client.results(1)
    assert body["statusCode"] == 413 and "over the limit of 2097152" in body["message"]
    assert qlog.starts() == {}


def test_an_invalid_payload_is_audited_and_logged_without_its_values(client, valet) -> None:
    """As a malformed REST body: an audit row with the reason (and here the topic), a WARNING;
    key-value values never reach the log."""
    client.publish(json.dumps([kv("k", "hunter2-secret", namespace=""), tid("nope")]))
    [body] = client.results(1)
    row = audit_rows(valet)[-1]
    assert row["entry_point"] == "mqtt" and json.loads(row["request"])["topic"] == START_TOPIC
    assert json.loads(row["outcome"]) == {"refused": body["message"].removeprefix("invalid start request: ")}
    log = log_once_written(valet.log_path, "refused: ")
    assert any("WARNING" in line and "via mqtt" in line and "refused: " in line
               for line in log.splitlines())
    assert "hunter2-secret" not in log


def test_an_mqtt5_response_topic_gets_the_result(broker, valet, qlog) -> None:
    mine = Client(broker, results="client/7/result")
    other = Client(broker)
    try:
        mine.publish(A1[0], response_topic="client/7/result")
        assert mine.results(1) == [result(started=refs(A1))]
        assert other.results(1, timeout=1) == []  # not also on the configured topic
    finally:
        mine.close()
        other.close()


def test_the_audit_records_the_entry_point_and_the_topic(client, valet, qlog) -> None:
    client.publish(A3[0])
    client.results(1)
    row = audit_rows(valet)[-1]
    assert row["entry_point"] == "mqtt" and row["caller"].startswith("mqtt://127.0.0.1:")
    asked = json.loads(row["request"])
    assert asked["topic"] == START_TOPIC
    assert asked["items"] == [{"type": "starttaskid", "taskId": A3[0]}]
    assert json.loads(row["outcome"])["result"] == result(started=refs(A3))


def test_a_message_while_the_repository_is_down_is_reported_failed(client, clean_sense, qlog, valet) -> None:
    clean_sense.set_faults(refuse=True)
    client.publish(A1[0], correlation=b"down-1")
    [body] = client.results(1, timeout=30)
    assert body["statusCode"] == 503 and body["correlationId"] == "down-1"
    assert "could not be queried" in body["message"] and "no task was started" in body["message"]
    clean_sense.clear_faults()
    client.publish(A1[0])
    assert client.results(2)[1] == result(started=refs(A1))
    log = log_once_written(valet.log_path, "could not be queried").splitlines()
    assert any("WARNING" in line and "via mqtt" in line and "could not be queried" in line
               for line in log)


def test_health_shows_the_connection(valet) -> None:
    body = requests.get(f"{valet.url}/health", timeout=5).json()
    assert body["status"] == "ok"
    [check] = [c for c in body["checks"] if c["name"] == "mqtt"]
    assert check["status"] == "up" and not check["required"]
    assert check["detail"].startswith("connected (127.0.0.1:") and "last error" not in check["detail"]
    received, handled = re.search(r"(\d+) message\(s\) received, (\d+) handled", check["detail"]).groups()
    assert received == handled


def test_no_result_topic_still_starts(start_valet, sense, broker, qlog) -> None:
    """MQTT 3.1.1 (the default) without a result topic: Butler's setup. Nothing is published
    back (the client listens to every topic)."""
    butler, valet_section = valet_config(sense, broker)
    butler["mqttConfig"]["taskStartTopic"] = topic = "qliksense/start_task_311"  # this Valet's own
    del valet_section["mqtt"]["taskStartResultTopic"]
    start_valet(butler, valet_section)
    client = Client(broker, results="#", v5=False)
    try:
        client.publish(A4[0], topic=topic)
        end = time.monotonic() + 10
        while not qlog.starts() and time.monotonic() < end:
            time.sleep(0.1)
        assert qlog.starts() == {A4[0]: 1}
        time.sleep(0.5)
        assert client.topics() == [topic]
    finally:
        client.close()


def test_messages_that_arrive_together_share_one_start_and_keep_their_own_results(
        client, clean_sense, qlog, valet) -> None:
    """While the first message's lookup is slow, six more arrive; they are started with one
    lookup per kind (IDs, tags) and one task/start/many, and each result is what that message
    alone would get."""
    clean_sense.set_faults(rules=[{"action": "slow", "ms": 1500, "path": "qrs/task$", "times": 1}])
    client.publish(A1[0])
    time.sleep(0.3)
    for payload in (A3[0], "nope", A2[0], DISABLED[0], A1[0],
                    json.dumps({"items": [tag("startTask2")], "correlationId": "tagged"})):
        client.publish(payload)
    bodies = client.results(7)
    assert bodies[:6] == [result(started=refs(A1)), result(started=refs(A3)),
                          result(invalid=ids("nope")), result(denied=ids(A2[0])),
                          bodies[4], result(started=refs(A1))]
    assert [f["taskId"] for f in bodies[4]["failed"]] == [DISABLED[0]]
    assert bodies[6] == {**result(by_tag=refs(A3)), "correlationId": "tagged"}
    start_calls = [path for method, path in qlog.paths() if path.endswith("/start/many")]
    assert len(start_calls) == 2  # the first message's, and the batch's
    assert qlog.starts() == {A1[0]: 2, A3[0]: 1}  # A3 asked twice in the batch, started once
    rows = audit_rows(valet)[-7:]
    assert [json.loads(r["outcome"]).get("batchOf") for r in rows] == [None] + [6] * 6
