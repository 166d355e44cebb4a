"""No configured secret ever reaches the log or an answer (SPEC §10, issue 12): one Valet with
every secret it can hold — API keys, the passphrase of an encrypted client key, the MQTT
password — logging at DEBUG to stderr and to its daily file, is driven through every endpoint
with no key, a wrong key and the right ones, bad inputs and MQTT messages; then its log, every
HTTP answer (headers and body) and every MQTT result is searched for each secret, as sent and
percent- or base64-encoded."""
from __future__ import annotations

import base64
import json
from urllib.parse import quote

import pytest
import requests

from demo.processes import Valet
from demo.sense.process import SenseProcess
from mqtt.mqtt_support import Client, Mosquitto, valet_config, wait_for_state
from security.test_api_keys import ROUTES
from security.test_repository_tls import PASSPHRASE, _encrypted_key
from tasks.start_support import A1, tid

KEYS = {"etl": "etl-secret-5f7a9c1e3b5d7f9a", "reader": "reader-secret-2c4e6a8c0e2a4c6e"}
MQTT_PASSWORD = "mqtt-secret-8d0f2b4d6f8a0c2e"
WRONG = "wrong-but-secret-looking-1a3c5e7a"  # what a client sent is not echoed either
SECRETS = [*KEYS.values(), PASSPHRASE, MQTT_PASSWORD, WRONG]


def _forms(secret: str) -> list[str]:
    return [secret, quote(secret, safe=""), base64.b64encode(secret.encode()).decode()]


@pytest.fixture(scope="module")
def sense(tmp_path_factory):
    with SenseProcess(tmp_path_factory.mktemp("sense")) as s:
        yield s


@pytest.fixture(scope="module")
def secretive(tmp_path_factory, sense):
    root = tmp_path_factory.mktemp("secrets")
    with Mosquitto(root / "broker", users={"valet": MQTT_PASSWORD}) as broker:
        butler, valet = valet_config(sense, broker, username="valet", password=MQTT_PASSWORD)
        butler["cert"]["clientCertKey"] = str(_encrypted_key(sense, root))
        butler.update({"logLevel": "debug", "fileLogging": True, "logDirectory": str(root / "log")})
        valet.update({"apiKeys": [{"name": "etl", "key": KEYS["etl"]},
                                  {"name": "reader", "key": KEYS["reader"], "scopes": ["kv:read"]}],
                      "qrs": {"clientCertKeyPassphrase": PASSPHRASE}})
        server = Valet(root / "valet", butler, valet, log=(root / "valet.out").open("w"))
        server.start()
        wait_for_state(server, "connected")
        answers: list[str] = []
        yield server, broker, answers, root
        server.stop()


def _record(answers: list[str], r: requests.Response) -> None:
    answers.append(json.dumps(dict(r.headers)) + "\n" + r.text)


def test_every_endpoint_with_every_kind_of_key(secretive):
    server, _broker, answers, _root = secretive
    headers = [{}, {"X-API-Key": WRONG}, {"Authorization": f"Bearer {WRONG}"},
               {"X-API-Key": KEYS["reader"]}, {"X-API-Key": KEYS["etl"]},
               {"Authorization": f"Bearer {KEYS['etl']}"}, {"Authorization": KEYS["etl"]}]
    for _name, method, path, body, extra, _scope in ROUTES:
        for auth in headers:
            r = requests.request(method, server.url + path, headers={**extra, **auth}, timeout=15,
                                 **({} if body is None else {"json": body}))
            _record(answers, r)
            assert r.status_code < 500, (path, r.text)


@pytest.mark.parametrize("method, path, kwargs", [
    ("POST", "/v4/keyvalues/ns", {"data": b"{not json"}),
    ("POST", "/v4/keyvalues/ns", {"data": b"\xff\xfe", "headers": {"Content-Type": "application/json"}}),
    ("PUT", "/v4/reloadtask/-/start", {"json": [{"type": "nope", "payload": {"x": MQTT_PASSWORD}}]}),
    ("GET", "/v4/keyvalues/ns", {"params": {"key": ["a", "b"]}}),
    ("GET", "/v4/nothing-here", {}), ("PATCH", "/v4/keyvaluesnamespaces", {}),
    ("GET", "/v4/audit/taskstarts", {"params": {"task": "x", "from": "never"}}),
    ("GET", "/openapi.json", {}), ("GET", "/health", {}), ("GET", "/v4/configfile/endpointsenabled", {}),
])
def test_bad_inputs_and_documents(secretive, method, path, kwargs):
    server, _broker, answers, _root = secretive
    kwargs = {**kwargs, "headers": {"X-API-Key": KEYS["etl"], **kwargs.get("headers", {})}}
    r = requests.request(method, server.url + path, timeout=15, **kwargs)
    assert r.status_code < 500, r.text
    _record(answers, r)


def test_task_starts_by_rest_and_mqtt(secretive):
    server, broker, answers, _root = secretive
    r = requests.put(f"{server.url}/v4/reloadtask/-/start", json=[tid(A1[0])],
                     headers={"X-API-Key": KEYS["etl"]}, timeout=30)
    assert r.status_code == 200 and r.json()["tasksId"]["started"], r.text  # the key decrypted
    _record(answers, r)
    client = Client(broker, username="valet", password=MQTT_PASSWORD)
    try:
        client.publish(json.dumps({"items": [tid(A1[0])]}))
        client.publish(json.dumps({"items": [{"type": "keyvaluestore", "payload": {
            "namespace": "n", "key": "k", "value": "v"}}], "extra": KEYS["etl"]}))
        answers.extend(json.dumps(result) for result in client.results(2))
    finally:
        client.close()


def test_no_secret_in_the_log_nor_in_any_answer(secretive):
    server, _broker, answers, root = secretive
    requests.get(f"{server.url}/health", timeout=10)
    server.stop()  # every pending log line written
    logs = {"stderr": (root / "valet.out").read_text(errors="replace"),
            "daily file": "".join(p.read_text(errors="replace") for p in (root / "log").glob("valet.log*"))}
    assert "key=etl" in logs["stderr"] and "DEBUG" in logs["stderr"]  # the log is the real one
    assert len(answers) > len(ROUTES) * 7
    for secret in SECRETS:
        for form in _forms(secret):
            for where, text in logs.items():
                assert form not in text, f"{secret!r} ({form!r}) in the {where}"
            leaked = [a for a in answers if form in a]
            assert not leaked, f"{secret!r} ({form!r}) in an answer: {leaked[0][:500]}"
