"""/health: a list of named checks. The database is required (503 when down); the repository,
checked with an authenticated GET /qrs/about and cached for a few seconds, is reported but not
required (the key-value store still serves while Sense is away)."""
from __future__ import annotations

import time

import requests
from sqlalchemy import create_engine

from demo.processes import free_port
from server import config as config_module
from server.app import create_app
from tasks.start_support import qrs_config

DB_UP = {"name": "database", "required": True, "status": "up", "detail": "sqlite"}


def _about_calls(sense) -> int:
    return sum(r["path"].endswith("/qrs/about") for r in sense.requests())


def test_the_repository_is_checked_and_reported(start_valet, clean_sense) -> None:
    valet = start_valet(butler=qrs_config(clean_sense))
    r = requests.get(f"{valet.url}/health", timeout=10)
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    assert body["checks"][0] == DB_UP
    repository = body["checks"][1]
    assert repository["name"] == "repository" and repository["status"] == "up"
    assert repository["required"] is False


def test_the_repository_result_is_cached_for_a_few_seconds(start_valet, clean_sense) -> None:
    valet = start_valet(butler=qrs_config(clean_sense))
    requests.get(f"{valet.url}/health", timeout=10)  # the first call after start-up
    before = _about_calls(clean_sense)
    for _ in range(5):
        requests.get(f"{valet.url}/health", timeout=10)
    assert _about_calls(clean_sense) == before
    time.sleep(5.2)
    requests.get(f"{valet.url}/health", timeout=10)
    assert _about_calls(clean_sense) == before + 1


def test_a_repository_down_is_degraded_not_unavailable(start_valet, sense) -> None:
    config = qrs_config(sense)
    config["configQRS"]["port"] = free_port()  # nothing listens there
    valet = start_valet(butler=config)
    r = requests.get(f"{valet.url}/health", timeout=10)
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "degraded"
    repository = body["checks"][1]
    assert repository["status"] == "down" and "unreachable" in repository["detail"]


def test_without_task_starts_only_the_database_and_its_disk_are_checked(valet) -> None:
    checks = requests.get(f"{valet.url}/health", timeout=5).json()["checks"]
    assert [c["name"] for c in checks] == ["database", "disk"] and checks[0] == DB_UP


def test_a_database_down_answers_503(tmp_path) -> None:
    # A database that goes away under a running server cannot be staged portably; swap the
    # engine of an in-process app for one whose file cannot be opened.
    config = config_module.load(None, env={"VALET_DATA_DIR": str(tmp_path)})
    app = create_app(config)
    app.extensions["valet"].database.engine = create_engine(f"sqlite:///{tmp_path}/missing/dir/x.sqlite3")
    r = app.test_client().get("/health")
    assert r.status_code == 503
    body = r.get_json()
    assert body["status"] == "unavailable"
    assert body["checks"][0]["name"] == "database" and body["checks"][0]["status"] == "down"
