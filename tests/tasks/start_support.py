"""Shared by tests/tasks (imported as `tasks.start_support`; tests/ is on pythonpath): the
simulated repository as a real process over real TLS with client certificates, Valet processes
configured against it, and readers of what the repository really received (its --log)."""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine, text

from demo.processes import Valet
from demo.sense.process import SenseProcess

A1 = ("e3b27f50-b1c0-4879-88fc-c7cdd9c1cf3e", "Reload task of App1")
A2 = ("7552d9fc-d1bb-4975-9a38-18357de531ea", "Reload task of App2")
A3 = ("fb0f317d-da91-4b86-aafa-0174ae1e8c8f", "Reload task of App3")
OPS = ("fbf645f0-0c92-40a4-af9a-6e3eb1d3c35c", "Reload Operations Monitor")
A4 = ("8b4fe424-d90c-493f-a61d-0ce91cd485c9", "Reload task of App4")
DISABLED = ("0d15ab1e-0000-4000-8000-000000000001", "Disabled task")
TRICKY_TAGS = ["O'Brien", "R&D #1", "x' or name sw '"]
TRICKY = [(f"7111c4e0-0000-4000-8000-00000000000{n}", f"Tricky {n}") for n in range(1, 4)]
EXTRA_TASKS = [
    {"id": DISABLED[0], "name": DISABLED[1], "enabled": False, "tags": ["mixed"],
     "customProperties": {"taskGroup": ["mixed"]}},
    *({"id": tid, "name": name, "tags": [tag, "mixed"], "customProperties": {"owner": [tag]}}
      for (tid, name), tag in zip(TRICKY, TRICKY_TAGS)),
]
USER_HEADER = {"name": "X-Qlik-User", "value": "UserDirectory=Internal;UserId=sa_repository"}


def qrs_config(sense: SenseProcess, **overrides) -> dict:
    """Butler's configQRS and cert sections for this repository (Butler's own layout)."""
    config = {"configQRS": {"authentication": "certificates", "host": "127.0.0.1",
                            "port": sense.port, "useSSL": True,
                            "headers": {"static": [USER_HEADER]}, "rejectUnauthorized": True},
              "cert": {"clientCert": str(sense.certs.client),
                       "clientCertKey": str(sense.certs.client_key),
                       "clientCertCA": str(sense.certs.root)},
              "restServerEndpointsEnable": {"senseStartTask": True, "keyValueStore": True}}
    for section, values in overrides.items():
        config[section] = {**config.get(section, {}), **values}
    return config


FILTER = {"startTaskFilter": {"enable": True, "allowTask": {
    "taskId": [A1[0], A2[0], A3[0], DISABLED[0]], "tag": ["startTask1", "startTask2", "mixed"],
    "customProperty": [{"name": "taskGroup", "value": "tasks1"},
                       {"name": "taskGroup", "value": "tasks2"}]}}}


@pytest.fixture(scope="package")
def sense(tmp_path_factory) -> SenseProcess:
    with SenseProcess(tmp_path_factory.mktemp("sense"), extra_tasks=EXTRA_TASKS) as s:
        yield s


@pytest.fixture
def clean_sense(sense):
    """The shared repository, with no faults left behind by the test."""
    yield sense
    sense.clear_faults()


def _valet(tmp_path_factory, name: str, butler: dict, valet: dict | None = None,
           database_url: str | None = None) -> Valet:
    root = tmp_path_factory.mktemp(name)
    if database_url:
        valet = {**(valet or {}), "databaseUrl": database_url}
    server = Valet(root, butler, valet, log=(root / "valet.log").open("w"))
    server.database_url = database_url or f"sqlite:///{root / 'data' / 'valet.sqlite3'}"
    return server.start()


@pytest.fixture(scope="package", params=["sqlite", "postgresql"])
def store_url(request) -> str | None:
    """The package's start-task Valets run on each store: SQLite (None: the default) and
    PostgreSQL (a database of the session's throwaway cluster)."""
    if request.param == "sqlite":
        return None
    return request.getfixturevalue("cluster").new_database("tasks_suite")


@pytest.fixture(scope="package")
def open_valet(tmp_path_factory, sense, store_url) -> Valet:
    """Valet against the shared repository, start filter off."""
    server = _valet(tmp_path_factory, "open", qrs_config(sense), database_url=store_url)
    yield server
    server.stop()


@pytest.fixture(scope="package")
def filtered_valet(tmp_path_factory, sense, store_url) -> Valet:
    """Valet against the shared repository, start filter on (FILTER)."""
    server = _valet(tmp_path_factory, "filtered", {**qrs_config(sense), **FILTER},
                    database_url=store_url)
    yield server
    server.stop()


def tid(task_id: str) -> dict:
    return {"type": "starttaskid", "payload": {"taskId": task_id}}


def tag(name: str) -> dict:
    return {"type": "starttasktag", "payload": {"tag": name}}


def cp(value: str, name: str = "taskGroup") -> dict:
    return {"type": "starttaskcustomproperty",
            "payload": {"customPropertyName": name, "customPropertyValue": value}}


def kv(key: str, value, ttl=None, namespace: str = "MyFineNamespace") -> dict:
    payload = {"namespace": namespace, "key": key, "value": value}
    if ttl is not None:
        payload["ttl"] = ttl
    return {"type": "keyvaluestore", "payload": payload}


def start(valet: Valet, url_id: str = "-", body=None, query: str = "", method: str = "PUT",
          **kwargs) -> requests.Response:
    return requests.request(method, f"{valet.url}/v4/reloadtask/{url_id}/start{query}",
                            json=[] if body is None else body, timeout=30, **kwargs)


def refs(*tasks: tuple[str, str]) -> list[dict]:
    return [{"taskId": t, "taskName": n} for t, n in tasks]


def ids(*values: str) -> list[dict]:
    return [{"taskId": v} for v in values]


def result(started=(), invalid=(), denied=(), by_tag=(), tag_denied=(), by_cp=(), cp_denied=(),
           failed=()) -> dict:
    """A whole expected response body, Butler's shape plus Valet's `failed`."""
    return {"tasksId": {"started": list(started), "invalid": list(invalid), "denied": list(denied)},
            "tasksTag": list(by_tag), "tasksTagDenied": list(tag_denied),
            "tasksCP": list(by_cp), "tasksCPDenied": list(cp_denied), "failed": list(failed)}


class Log:
    """What the repository received since `mark()` (its request log)."""

    def __init__(self, sense: SenseProcess) -> None:
        self.sense = sense
        self.before = len(sense.requests())

    def new(self) -> list[dict]:
        return self.sense.requests()[self.before:]

    def starts(self) -> Counter:
        """How many times each task was asked to start (start/many bodies and single starts)."""
        out: Counter = Counter()
        for r in self.new():
            if r["method"] == "POST" and r["path"].endswith("/start/many"):
                out.update(r["body"] or [])
            elif r["method"] == "POST" and r["path"].endswith("/start"):
                out[r["path"].split("/")[-2]] += 1
        return out

    def paths(self) -> list[tuple[str, str]]:
        return [(r["method"], r["path"]) for r in self.new()]


@pytest.fixture
def qlog(clean_sense) -> Log:
    return Log(clean_sense)


def _query(valet: Valet, sql: str) -> list[Any]:
    """Rows (by column name) of Valet's own database: its SQLite file under the data
    directory unless the Valet was started on another (`database_url`)."""
    url = getattr(valet, "database_url", None) or f"sqlite:///{Path(valet.data_dir) / 'data' / 'valet.sqlite3'}"
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as conn:
            return [row._mapping for row in conn.execute(text(sql))]
    finally:
        engine.dispose()


def audit_rows(valet: Valet) -> list[Any]:
    return _query(valet, "SELECT * FROM task_start_audit ORDER BY id")


def kv_rows(valet: Valet) -> list[tuple]:
    return [tuple(r.values()) for r in _query(valet, "SELECT namespace, key, value FROM kv_entries")]
