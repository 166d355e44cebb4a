"""MQTT configuration (Butler.mqttConfig.*, Valet.mqtt.*) and the payload rules, without a
broker: wrong settings stop start-up naming the key; Butler's other mqttConfig keys are warned
about; how payloads are read and how messages are grouped for one start call."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from server import config, tasks
from server.config import ConfigError
from server.mqtt import Handled, Message, MqttSettings, batches, parse_payload
from tasks.start_support import A1

ROOT = Path(__file__).resolve().parents[2]


def settings(tmp_path: Path, mqtt: dict | None = None, valet_mqtt: dict | None = None) -> MqttSettings:
    tree = {"Butler": {"mqttConfig": {"enable": True, "brokerHost": "127.0.0.1", **(mqtt or {})}},
            "Valet": {"mqtt": valet_mqtt or {}}}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(tree))
    return MqttSettings.from_config(config.load(str(path), env={}))


def test_butler_defaults_and_valet_defaults(tmp_path) -> None:
    s = settings(tmp_path)
    assert (s.port, s.start_topic, s.result_topic) == (1883, "qliksense/start_task", None)
    assert s.protocol == 4 and s.subscription == "qliksense/start_task"  # MQTT 3.1.1 is 4
    assert s.client_id.startswith("valet-") and s.username is None and not s.tls
    assert settings(tmp_path, valet_mqtt={"protocolVersion": 5}).protocol == 5
    assert settings(tmp_path, valet_mqtt={"sharedSubscriptionGroup": "g"}).subscription == \
        "$share/g/qliksense/start_task"


@pytest.mark.parametrize("mqtt, valet_mqtt, key, says", [
    ({"taskStartTopic": "other/start"}, {}, "Butler.mqttConfig.taskStartTopic", "must sit under"),
    ({"taskStartTopic": "qliksense/#/x"}, {}, "Butler.mqttConfig.taskStartTopic", "'#' may only end it"),
    ({}, {"taskStartResultTopic": "qliksense/start_task"}, "Valet.mqtt.taskStartResultTopic",
     "read back as a start request"),
    ({"taskStartTopic": "qliksense/#"}, {"taskStartResultTopic": "qliksense/result"},
     "Valet.mqtt.taskStartResultTopic", "read back"),
    ({}, {"taskStartResultTopic": "results/+"}, "Valet.mqtt.taskStartResultTopic", "wildcards"),
    ({}, {"password": "p"}, "Valet.mqtt.password", "username is not"),
    ({}, {"tls": {"enable": True, "certFile": "/nowhere/c.pem"}}, "Valet.mqtt.tls.certFile",
     "go together"),
    ({}, {"tls": {"enable": True, "caFile": "/nowhere/ca.pem"}}, "Valet.mqtt.tls.caFile",
     "cannot read /nowhere/ca.pem"),
    ({}, {"tls": {"caFile": "/nowhere/ca.pem"}}, "Valet.mqtt.tls", "tls.enable is false"),
    ({}, {"protocolVersion": 4}, "Valet.mqtt.protocolVersion", "expected one of 3.1.1, 5"),
    ({"brokerPort": 70000}, {}, "Butler.mqttConfig.brokerPort", "from 0 to 65535"),
    ({}, {"sessionExpirySeconds": 60}, "Valet.mqtt.sessionExpirySeconds", "needs Valet.mqtt.clientId"),
])
def test_wrong_settings_name_the_key(tmp_path, mqtt, valet_mqtt, key, says) -> None:
    with pytest.raises(ConfigError) as e:
        settings(tmp_path, mqtt, valet_mqtt)
    assert key in str(e.value) and says in str(e.value)


def test_a_password_is_never_echoed(tmp_path) -> None:
    with pytest.raises(ConfigError) as e:
        settings(tmp_path, valet_mqtt={"username": "u", "password": ["hunter2"]})
    assert "hunter2" not in str(e.value) and "Valet.mqtt.password" in str(e.value)


def test_butlers_other_mqtt_keys_are_reported_as_ignored(tmp_path) -> None:
    """Butler's mqttConfig has topics for features Valet lacks (task failure messages, Azure
    Event Grid); they go to the start-up report of ignored keys, by section."""
    tree = {"Butler": {"mqttConfig": {"enable": False, "taskFailureTopic": "qliksense/task_failure",
                                      "azureEventGrid": {"enable": False}}}}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(tree))
    loaded = config.load(str(path), env={})
    assert set(loaded.ignored) == {"Butler.mqttConfig.taskFailureTopic",
                                   "Butler.mqttConfig.azureEventGrid.enable"}
    assert "mqttConfig (2)" in config.ignored_summary(loaded)


def _serve(tmp_path: Path, butler: dict) -> subprocess.CompletedProcess:
    path = tmp_path / "valet.yaml"
    path.write_text(yaml.safe_dump({"Butler": {"restServerConfig": {"serverPort": 0}, **butler},
                                    "Valet": {"dataDir": str(tmp_path / "data")}}))
    return subprocess.run([sys.executable, "-m", "server", "--config", str(path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


def test_start_up_refuses_mqtt_without_a_repository(tmp_path) -> None:
    done = _serve(tmp_path, {"mqttConfig": {"enable": True}})
    assert done.returncode == 2
    assert "Butler.mqttConfig.enable" in done.stderr and "Butler.configQRS.host" in done.stderr


# -- payloads -----------------------------------------------------------------------------------
def test_a_plain_payload_is_a_task_id_as_butler_reads_it() -> None:
    assert parse_payload(f"  {A1[0]}\n".encode(), 100) == ([tasks.ById(A1[0])], False, None)


def test_the_json_forms() -> None:
    item = {"type": "starttasktag", "payload": {"tag": "t"}}
    assert parse_payload(json.dumps([item]).encode(), 1000) == ([tasks.ByTag("t")], False, None)
    body = {"items": [item], "allTaskIdsMustExist": True, "correlationId": "c-1"}
    assert parse_payload(json.dumps(body).encode(), 1000) == ([tasks.ByTag("t")], True, "c-1")


def _handled(*items: tasks.Item) -> Handled:
    return Handled(Message("t", b""), tasks.StartRequest(list(items)))


def test_a_message_with_key_value_items_is_started_alone_in_its_place() -> None:
    """Its values must be stored just before its own tasks start, not before the others'."""
    a, b, c, d = (_handled(tasks.ById(str(n))) for n in range(4))
    with_kv = _handled(tasks.KeyValueItem("ns", "k", "v", 0), tasks.ById("x"))
    runs = batches([a, b, with_kv, c, d])
    assert [[id(h) for h in run] for run in runs] == [[id(a), id(b)], [id(with_kv)], [id(c), id(d)]]
