"""What the demo runs, on free loopback ports in one temporary folder: the simulated Sense
repository with the demo's seed (its tasks' scripts run in the emulator against Valet), Valet
configured for it (API keys, the start filter, MQTT), and Mosquitto when it is installed."""
from __future__ import annotations

import os
import secrets
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml

from demo.processes import MOSQUITTO, START_TOPIC, Mosquitto, Valet
from demo.sense.process import SenseProcess
from demo.sense.seed import SeedTask, load_seed
from generator.render import Options, render

APPS = Path(__file__).resolve().parent / "apps"
SEED = APPS / "seed.yaml"
TASKS: dict[str, SeedTask] = {task.name: task for task in load_seed(SEED)}
RESULT_TOPIC = "valet/start_result"
API_KEY_VARIABLE = "vValetApiKey"
KEY_SCOPES = {"upstream": ["kv:write", "task:start"],  # the ETL tool that starts the chain
              "sense-apps": ["kv:read", "kv:write", "task:start"],  # the apps' load scripts
              "dashboards": ["kv:read"]}  # reads results only
ALLOWED = ["Sales ETL step 2", "Sales ETL check", "Inventory reload", "Finance dashboard reload"]


def mosquitto_installed() -> bool:
    return shutil.which(MOSQUITTO) is not None or os.access(MOSQUITTO, os.X_OK)


def task_id(name: str) -> str:
    return TASKS[name].id


class Stage:
    def __init__(self, root: Path, settings: list[tuple[str, Any]], no_mqtt: str | None) -> None:
        """`settings`: (dotted key, value) pairs put into Valet's config file, such as
        ("Butler.restServerEndpointsEnable.senseStartTask", False); `no_mqtt`: why MQTT is
        left out, or None to run Mosquitto."""
        self.root = root
        self.no_mqtt = no_mqtt
        self.keys = {name: secrets.token_urlsafe(24) for name in KEY_SCOPES}
        self.library = root / "scripts" / "butler_subs.qvs"
        self.library.parent.mkdir(parents=True)
        self.library.write_text(render(Options(api_key_variable=API_KEY_VARIABLE)), encoding="utf-8")
        self.sense = SenseProcess(root / "sense", seed=SEED)
        self.broker = None if no_mqtt else Mosquitto(root / "mosquitto")
        self.valet_log = root / "valet.log"
        self._log = self.valet_log.open("w", encoding="utf-8")
        self.valet = Valet(root / "valet", self._butler(), self._valet(), log=self._log)
        _apply(self.valet.config_path, settings)
        self.sense.run_scripts(self.valet.url, self._connections(),
                               {API_KEY_VARIABLE: self.keys["sense-apps"]})

    def _butler(self) -> dict:
        sense = self.sense
        config = {
            "configQRS": {"authentication": "certificates", "host": "127.0.0.1", "port": sense.port,
                          "useSSL": True, "rejectUnauthorized": True,
                          "headers": {"static": [{"name": "X-Qlik-User",
                                                  "value": "UserDirectory=Internal;UserId=sa_repository"}]}},
            "cert": {"clientCert": str(sense.certs.client), "clientCertKey": str(sense.certs.client_key),
                     "clientCertCA": str(sense.certs.root)},
            "restServerEndpointsEnable": {"senseStartTask": True, "keyValueStore": True},
            "startTaskFilter": {"enable": True, "allowTask": {
                "taskId": [task_id(name) for name in ALLOWED], "tag": ["salesEtl"],
                "customProperty": [{"name": "taskGroup", "value": "nightly"}]}}}
        if self.broker:
            config["mqttConfig"] = {"enable": True, "brokerHost": "127.0.0.1",
                                    "brokerPort": self.broker.port,
                                    "subscriptionRootTopic": "qliksense/#", "taskStartTopic": START_TOPIC}
        return config

    def _valet(self) -> dict:
        return {"apiKeys": [{"name": name, "key": self.keys[name], "scopes": scopes}
                            for name, scopes in KEY_SCOPES.items()],
                "mqtt": {"taskStartResultTopic": RESULT_TOPIC, "reconnectMaxSeconds": 1}}

    def _connections(self) -> Path:
        """The apps' REST connections, named as the library expects, and lib://Scripts."""
        path = self.root / "connections.yaml"
        ping = f"{self.valet.url}/v4/butlerping"
        path.write_text(yaml.safe_dump({"Butler_GET": {"url": ping, "method": "GET"},
                                        "Butler_POST": {"url": ping, "method": "POST"},
                                        "libs": {"Scripts": str(self.library.parent)}}),
                        encoding="utf-8")
        return path

    def start(self) -> None:
        """All at once: each is slow to start on a busy machine, and none needs another up."""
        parts = [self.sense, self.valet, *([self.broker] if self.broker else [])]
        with ThreadPoolExecutor(len(parts)) as pool:
            for started in [pool.submit(part.start) for part in parts]:
                started.result()

    def stop(self) -> None:
        self.valet.stop()
        if self.broker:
            self.broker.stop()
        self.sense.stop()
        self._log.close()

    def pids(self) -> dict[str, int]:
        procs = {"Sense": self.sense.proc, "Valet": self.valet.proc,
                 "Mosquitto": self.broker.proc if self.broker else None}
        return {name: proc.pid for name, proc in procs.items() if proc is not None}


def parse_setting(text: str) -> tuple[str, Any]:
    """`KEY=VALUE` of --set: the value read as YAML (false, 3, [a, b], text)."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip() or key.split(".")[0] not in ("Butler", "Valet"):
        raise ValueError(f"--set expects Butler.KEY=VALUE or Valet.KEY=VALUE, got {text!r}")
    return key.strip(), yaml.safe_load(value)


def _apply(config_path: Path, settings: list[tuple[str, Any]]) -> None:
    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    for key, value in settings:
        *parents, last = key.split(".")
        section = config
        for name in parents:
            section = section.setdefault(name, {})
        section[last] = value
    config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
