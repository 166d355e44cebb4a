"""Shared by tests/mqtt and the MQTT benchmark (imported as `mqtt.mqtt_support`; tests/ is on
pythonpath): a real Mosquitto broker on a free loopback port (`demo.processes.Mosquitto`, also
the demo's), and a paho client that publishes and collects results."""
from __future__ import annotations

import json
import uuid
import threading
import time

import paho.mqtt.client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

import pytest

from demo.processes import START_TOPIC, Mosquitto, Valet
from demo.sense.process import SenseProcess
from tasks.start_support import EXTRA_TASKS, qrs_config

RESULT_TOPIC = "valet/start_result"
FLOOD = [str(uuid.UUID(int=0xF100D << 108 | n)) for n in range(1000)]
FLOOD_TASKS = [{"id": t, "name": f"Flood task {n}"} for n, t in enumerate(FLOOD)]


class Client:
    """A test's own MQTT client (paho): publishes starts, collects what arrives on `results`."""

    def __init__(self, broker: Mosquitto, results: str | None = RESULT_TOPIC, v5: bool = True,
                 username: str | None = None, password: str | None = None) -> None:
        self.v5 = v5
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5 if v5
                                  else paho.MQTTv311)
        if username:
            self.client.username_pw_set(username, password)
        if broker.certs:
            self.client.tls_set(str(broker.certs.root), str(broker.certs.client),
                                str(broker.certs.client_key))
        self.received: list[tuple[str, bytes, bytes | None]] = []  # topic, payload, correlation
        self._lock = threading.Lock()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()
        if results:
            self.client.subscribe(results, qos=1)
        time.sleep(0.2)  # let the subscription settle

    def _on_message(self, _client, _userdata, msg) -> None:
        props = getattr(msg, "properties", None)
        with self._lock:
            self.received.append((msg.topic, bytes(msg.payload), getattr(props, "CorrelationData", None)))

    def publish(self, payload: str | bytes, topic: str = START_TOPIC, correlation: bytes | None = None,
                response_topic: str | None = None) -> None:
        props = None
        if correlation is not None or response_topic is not None:
            props = Properties(PacketTypes.PUBLISH)
            if correlation is not None:
                props.CorrelationData = correlation
            if response_topic is not None:
                props.ResponseTopic = response_topic
        self.client.publish(topic, payload, qos=1, properties=props).wait_for_publish(10)

    def results(self, count: int, timeout: float = 15.0) -> list[dict]:
        """The first `count` result bodies, waiting up to `timeout` for them."""
        return [body for body, _c in self.results_with_correlation(count, timeout)]

    def results_with_correlation(self, count: int, timeout: float = 15.0) -> list[tuple[dict, bytes | None]]:
        end = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < end:
            time.sleep(0.05)
        with self._lock:
            return [(json.loads(payload), corr) for _t, payload, corr in self.received]

    def topics(self) -> list[str]:
        with self._lock:
            return [topic for topic, _p, _c in self.received]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture(scope="package")
def sense(tmp_path_factory) -> SenseProcess:
    """The simulated repository: the reference tasks, tests/tasks' extra ones, 1,000 flood tasks."""
    with SenseProcess(tmp_path_factory.mktemp("sense"), extra_tasks=EXTRA_TASKS + FLOOD_TASKS) as s:
        yield s


@pytest.fixture(scope="package")
def broker(tmp_path_factory) -> Mosquitto:
    """One anonymous broker shared by the tests that do not stop it."""
    with Mosquitto(tmp_path_factory.mktemp("mosquitto")) as b:
        yield b


def valet_config(sense: SenseProcess, broker: Mosquitto, *sections: dict, **mqtt) -> tuple[dict, dict]:
    """(Butler, Valet) config sections: the repository, the broker, a result topic; `mqtt`
    entries are Valet.mqtt keys."""
    butler = {**qrs_config(sense), **broker.butler_config()}
    for section in sections:
        butler.update(section)
    return butler, {"mqtt": {"taskStartResultTopic": RESULT_TOPIC, "reconnectMaxSeconds": 1, **mqtt}}


def health(valet: Valet) -> dict:
    import requests  # noqa: PLC0415

    return requests.get(f"{valet.url}/health", timeout=5).json()


def mqtt_check(valet: Valet) -> dict:
    """/health's check named mqtt: {name, required, status, detail}."""
    return next(c for c in health(valet)["checks"] if c["name"] == "mqtt")


def wait_for_state(valet: Valet, state: str, timeout: float = 15.0) -> dict:
    """The mqtt check once its detail starts with `state` (or at the timeout)."""
    end = time.monotonic() + timeout
    while True:
        check = mqtt_check(valet)
        if check["detail"].startswith(state + " ") or time.monotonic() > end:
            return check
        time.sleep(0.1)
