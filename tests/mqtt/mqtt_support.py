"""Shared by tests/mqtt and the MQTT benchmark (imported as `mqtt.mqtt_support`; tests/ is on
pythonpath): a real Mosquitto broker on a free loopback port, from a config file written here
(never the system service), and a paho client that publishes and collects results."""
from __future__ import annotations

import getpass
import json
import shutil
import socket
import uuid
import subprocess
import threading
import time
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

import pytest

from demo.processes import Valet, free_port, terminate
from demo.sense.certs import CertPaths, ensure_certs
from demo.sense.process import SenseProcess
from tasks.start_support import EXTRA_TASKS, qrs_config

START_TOPIC = "qliksense/start_task"
RESULT_TOPIC = "valet/start_result"
MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"  # sbin is not on every PATH
FLOOD = [str(uuid.UUID(int=0xF100D << 108 | n)) for n in range(1000)]
FLOOD_TASKS = [{"id": t, "name": f"Flood task {n}"} for n, t in enumerate(FLOOD)]


class Mosquitto:
    """`mosquitto -c FILE` on 127.0.0.1; optional users (a password file) and TLS with
    client certificates (CA and certificates made with trustme)."""

    def __init__(self, workdir: Path, users: dict[str, str] | None = None, tls: bool = False,
                 port: int | None = None) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.users = users
        self.certs: CertPaths | None = ensure_certs(self.workdir / "certs") if tls else None
        self.log_path = self.workdir / "mosquitto.log"
        self.proc: subprocess.Popen | None = None

    def _config(self) -> str:
        # Started as root, mosquitto switches to its own user, who cannot read the test's
        # files; stay the current user (the option has no effect for anyone else).
        lines = [f"user {getpass.getuser()}", f"listener {self.port} 127.0.0.1", "persistence false",
                 f"log_dest file {self.log_path}", "log_type all",
                 f"allow_anonymous {'false' if self.users else 'true'}"]
        if self.users:
            password_file = self.workdir / "passwords"
            password_file.write_text("")
            for user, password in self.users.items():
                subprocess.run(["mosquitto_passwd", "-b", str(password_file), user, password],
                               check=True, capture_output=True)
            lines.append(f"password_file {password_file}")
        if self.certs:
            lines += [f"cafile {self.certs.root}", f"certfile {self.certs.server}",
                      f"keyfile {self.certs.server_key}", "require_certificate true"]
        return "\n".join(lines) + "\n"

    def start(self, timeout: float = 10.0) -> "Mosquitto":
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(self._config())
        out = (self.workdir / "mosquitto.out").open("ab")
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=out,
                                     stderr=subprocess.STDOUT)
        end = time.monotonic() + timeout
        while time.monotonic() < end and self.proc.poll() is None:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"mosquitto did not start on port {self.port}: "
                           f"{(self.workdir / 'mosquitto.out').read_text()[-500:]}")

    def stop(self) -> None:
        terminate(self.proc)
        self.proc = None

    def wait_for_subscriptions(self, topic: str, count: int, timeout: float = 20.0) -> int:
        """How many QoS 1 subscriptions to `topic` the broker has logged, once `count` (or at the
        timeout); mosquitto logs each as "CLIENT 1 TOPIC"."""
        end = time.monotonic() + timeout
        while True:
            lines = self.log_path.read_text().splitlines() if self.log_path.exists() else []
            found = sum(line.endswith(f" 1 {topic}") for line in lines)
            if found >= count or time.monotonic() > end:
                return found
            time.sleep(0.1)

    def __enter__(self) -> "Mosquitto":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def butler_config(self, **overrides) -> dict:
        """Butler's mqttConfig section for this broker."""
        return {"mqttConfig": {"enable": True, "brokerHost": "127.0.0.1", "brokerPort": self.port,
                               "subscriptionRootTopic": "qliksense/#",
                               "taskStartTopic": START_TOPIC, **overrides}}

    def tls_config(self) -> dict:
        """Valet.mqtt.tls for this broker's certificates (the client certificate included)."""
        return {"enable": True, "caFile": str(self.certs.root), "certFile": str(self.certs.client),
                "keyFile": str(self.certs.client_key)}


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
