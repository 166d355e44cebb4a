"""Configuration: Butler's layout, Valet's keys, environment overrides, precedence,
clear errors naming the key, warnings (not failures) for keys Valet does not use."""
from __future__ import annotations

import logging
from pathlib import Path

import pytest
import yaml

from server import config
from server.config import ConfigError

# An excerpt of a real Butler 16 production config: sections Valet does not use included.
BUTLER_FILE = {
    "Butler": {
        "logLevel": "info",
        "fileLogging": True,
        "anonTelemetry": False,
        "restServerConfig": {"enable": True, "serverHost": "0.0.0.0", "serverPort": 8081,
                             "backgroundServerPort": 8082, "tls": {"enable": False}},
        "restServerEndpointsEnable": {"apiListEnbledEndpoints": False, "butlerping": True,
                                      "keyValueStore": True, "senseStartTask": True},
        "keyValueStore": {"enable": True, "maxKeysPerNamespace": 500},
        "startTaskFilter": {"enable": True, "allowTask": {
            "taskId": ["e3b27f50-b1c0-4879-88fc-c7cdd9c1cf3e"], "tag": ["startTask1"],
            "customProperty": [{"name": "taskGroup", "value": "tasks1"}]}},
        "mqttConfig": {"enable": False, "brokerHost": "mqtt.example", "brokerPort": 1883,
                       "subscriptionRootTopic": "qliksense/#", "taskStartTopic": "qliksense/start_task"},
        "configQRS": {"authentication": "certificates", "host": "sense.example", "port": 4242,
                      "useSSL": True, "rejectUnauthorized": False,
                      "headers": {"static": [{"name": "X-Qlik-User",
                                              "value": "UserDirectory=Internal;UserId=sa_repository"}]}},
        "cert": {"clientCert": "/certs/client.pem", "clientCertKey": "/certs/client_key.pem",
                 "clientCertCA": "/certs/root.pem"},
        "influxDb": {"enable": False, "hostIP": "influx.example"},
        "emailNotification": {"enable": False},
    }
}


def write(tmp_path: Path, tree: dict) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(tree))
    return str(path)


def test_defaults_need_no_file():
    c = config.load(None, env={})
    assert c["Butler.restServerConfig.serverHost"] == "127.0.0.1"
    assert c["Butler.restServerConfig.serverPort"] == 8080
    assert c.database_url.startswith("sqlite:///") and c.database_url.endswith("data/valet.sqlite3")
    assert c.kv_enabled and not c.start_task_enabled
    assert c["Butler.keyValueStore.maxKeysPerNamespace"] == 1000


def test_a_butler_file_is_read_and_unused_keys_are_warned_about(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        c = config.load(write(tmp_path, BUTLER_FILE), env={})
    assert c["Butler.restServerConfig.serverHost"] == "0.0.0.0"
    assert c["Butler.restServerConfig.serverPort"] == 8081
    assert c["Butler.keyValueStore.maxKeysPerNamespace"] == 500
    assert c["Butler.startTaskFilter.allowTask.customProperty"] == [{"name": "taskGroup", "value": "tasks1"}]
    assert c["Butler.configQRS.headers.static"][0]["name"] == "X-Qlik-User"
    assert c.start_task_enabled
    assert {"Butler.influxDb.hostIP", "Butler.restServerConfig.backgroundServerPort"} <= set(c.ignored)
    assert "influxDb (2)" in config.ignored_summary(c)


def test_environment_overrides_the_file(tmp_path):
    path = write(tmp_path, {"Butler": {"restServerConfig": {"serverPort": 9000}},
                            "Valet": {"dataDir": "/from/file"}})
    c = config.load(path, env={"VALET_PORT": "9100", "VALET_DATA_DIR": "/from/env",
                               "VALET_API_KEYS": "[{name: a, key: k1}, {name: b, key: k2, scopes: kv:read}]"})
    assert c["Butler.restServerConfig.serverPort"] == 9100
    assert c["Valet.dataDir"] == "/from/env"
    assert [(k.name, sorted(k.scopes)) for k in c["Valet.apiKeys"]] == \
        [("a", ["admin", "kv:read", "kv:write", "task:start"]), ("b", ["kv:read"])]


def test_command_line_overrides_environment(tmp_path):
    c = config.load(None, env={"VALET_PORT": "9100"}).with_overrides(
        {"Butler.restServerConfig.serverPort": 9200})
    assert c["Butler.restServerConfig.serverPort"] == 9200


def test_valet_config_variable_names_the_file(tmp_path):
    path = write(tmp_path, {"Butler": {"keyValueStore": {"maxKeysPerNamespace": 7}}})
    assert config.load(None, env={"VALET_CONFIG": path})["Butler.keyValueStore.maxKeysPerNamespace"] == 7


def test_database_url_from_environment():
    c = config.load(None, env={"VALET_DATABASE_URL": "postgresql+psycopg://u@h/db"})
    assert c.database_url == "postgresql+psycopg://u@h/db"


@pytest.mark.parametrize("tree, key", [
    ({"Butler": {"restServerConfig": {"serverPort": "eighty"}}}, "Butler.restServerConfig.serverPort"),
    ({"Butler": {"restServerConfig": {"serverPort": 70000}}}, "Butler.restServerConfig.serverPort"),
    ({"Butler": {"keyValueStore": {"maxKeysPerNamespace": 0}}}, "Butler.keyValueStore.maxKeysPerNamespace"),
    ({"Butler": {"keyValueStore": {"enable": "maybe"}}}, "Butler.keyValueStore.enable"),
    ({"Butler": {"keyValueStore": {"maxKeysPerNamespace": True}}}, "Butler.keyValueStore.maxKeysPerNamespace"),
    ({"Butler": {"startTaskFilter": {"allowTask": {"customProperty": [{"name": "x"}]}}}},
     "Butler.startTaskFilter.allowTask.customProperty"),
    ({"Butler": {"configQRS": {"authentication": "kerberos"}}}, "Butler.configQRS.authentication"),
    ({"Valet": {"limits": {"valueBytes": -1}}}, "Valet.limits.valueBytes"),
    ({"Valet": {"threads": 0}}, "Valet.threads"),
    ({"Valet": {"workerThreads": "many"}}, "Valet.workerThreads"),
])
def test_wrong_values_name_the_key(tmp_path, tree, key):
    path = write(tmp_path, tree)
    with pytest.raises(ConfigError) as e:
        config.load(path, env={})
    assert key in str(e.value) and path in str(e.value)


def test_a_single_text_where_a_list_is_expected_is_read_as_comma_separated(tmp_path):
    path = write(tmp_path, {"Butler": {"startTaskFilter": {"allowTask": {"tag": "a, b"}}}})
    assert config.load(path, env={})["Butler.startTaskFilter.allowTask.tag"] == ["a", "b"]


def test_not_yaml_is_a_clear_error(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("Butler: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        config.load(str(path), env={})


def test_top_level_must_be_a_mapping(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="mapping"):
        config.load(str(path), env={})


def test_disabled_kv_endpoints_answer_404(start_valet):
    import requests
    valet = start_valet(butler={"restServerEndpointsEnable": {"keyValueStore": False}})
    r = requests.get(valet.url + "/v4/keyvaluesnamespaces")
    assert r.status_code == 404 and "Butler.restServerEndpointsEnable.keyValueStore" in r.json()["message"]
    assert requests.get(valet.url + "/v4/butlerping").status_code == 200


def test_relative_folders_from_the_file_resolve_against_its_folder(tmp_path):
    path = write(tmp_path, {"Butler": {"logDirectory": "logs"}, "Valet": {"dataDir": "store"}})
    c = config.load(path, env={})
    assert c["Valet.dataDir"] == str(tmp_path / "store")
    assert c["Butler.logDirectory"] == str(tmp_path / "logs")
    assert c.log_directory is None  # Butler.fileLogging is off by default


def test_the_default_data_folder_sits_beside_the_file_not_in_the_working_directory(tmp_path):
    c = config.load(write(tmp_path, {}), env={})
    assert c.database_url == f"sqlite:///{tmp_path / 'data' / 'valet.sqlite3'}"


def test_the_older_templates_spelling_of_the_endpoint_list_flag_is_honoured(tmp_path):
    path = write(tmp_path, {"Butler": {"restServerEndpointsEnable": {"apiListEnbledEndpoints": False}}})
    c = config.load(path, env={})
    assert not c.endpoint_list_enabled and "apiListEnabledEndpoints" not in c.endpoints_enabled


def test_a_file_switching_every_endpoint_off_is_warned_about(tmp_path):
    path = write(tmp_path, {"Butler": {"restServerEndpointsEnable": {"butlerping": False,
                                                                      "keyValueStore": False}}})
    warnings = config.feature_warnings(config.load(path, env={}))
    assert any("no API endpoint is enabled" in w for w in warnings)
