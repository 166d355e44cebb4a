"""The audit (issue 12): task starts and key-value deletions, read back by an `admin` key from
`GET /v4/audit/taskstarts` and `GET /v4/audit/keyvaluedeletions` — who (address and key name),
when, what was asked, what matched, the outcome; filtered by time, task, namespace and caller;
paged by `before=`; kept over a restart, on SQLite and PostgreSQL; and never written by a
request the gate refuses (401, 403, 429, a bad override)."""
from __future__ import annotations

import sqlite3
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import requests
from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import create_engine, text
from werkzeug.test import Client

from demo.processes import Valet
from demo.sense.process import SenseProcess
from helpers import assert_error
from server import config as config_module
from server.app import create_app
from server.db import MIGRATIONS
from tasks.start_support import A1, A2, qrs_config, tid

KEYS = {"starter": ("starter-5d7f9b1c3e5a7c9e1b3d", ["task:start"]),
        "writer": ("writer-8e0a2c4e6a8c0e2a4c6e", ["kv:write", "kv:read"]),
        "auditor": ("auditor-1f3b5d7f9b1d3f5b7d9f", ["admin"])}
AUDITOR = {"X-API-Key": KEYS["auditor"][0]}


def _keys() -> dict:
    return {"apiKeys": [{"name": n, "key": k, "scopes": s} for n, (k, s) in KEYS.items()]}


def _as(name: str) -> dict:
    return {"X-API-Key": KEYS[name][0]}


@pytest.fixture(scope="module")
def sense(tmp_path_factory):
    with SenseProcess(tmp_path_factory.mktemp("sense")) as s:
        yield s


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def audited(request, tmp_path_factory, sense) -> Valet:
    valet = _keys()
    if request.param == "postgresql":
        valet["databaseUrl"] = request.getfixturevalue("cluster").new_database("audit_suite")
    server = Valet(tmp_path_factory.mktemp("audited"), qrs_config(sense), valet)
    yield server.start()
    server.stop()


def _audit(valet: Valet, which: str, **query) -> dict:
    r = requests.get(f"{valet.url}/v4/audit/{which}", params=query, headers=AUDITOR, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def _delete(valet: Valet, *path: str, key: str = "writer") -> int:
    return requests.delete("/".join([valet.url, "v4", "keyvalues", *path]), headers=_as(key),
                           timeout=10).status_code


def _store(valet: Valet, ns: str, key: str) -> None:
    r = requests.post(f"{valet.url}/v4/keyvalues/{ns}", json={"key": key, "value": "v"},
                      headers=_as("writer"), timeout=10)
    assert r.status_code == 201, r.text


def test_a_task_start_is_audited_with_its_caller_tasks_and_outcome(audited):
    r = requests.put(f"{audited.url}/v4/reloadtask/-/start", json=[tid(A1[0])],
                     headers=_as("starter"), timeout=30)
    assert r.status_code == 200 and r.json()["tasksId"]["started"], r.text
    row = _audit(audited, "taskstarts", task=A1[0], limit=1)["items"][0]
    assert row["clientAddress"] == "127.0.0.1" and row["keyName"] == "starter"
    assert row["entryPoint"] == "rest" and A1[0] in row["taskIds"]
    assert row["request"]["items"] == [{"type": "starttaskid", "taskId": A1[0]}]
    assert row["outcome"]["status"] == 200
    assert row["outcome"]["result"]["tasksId"]["started"][0]["taskId"] == A1[0]
    # the ISO time is now (UTC), to within the machine's slowness
    at = datetime.fromisoformat(row["at"].replace("Z", "+00:00"))
    assert abs(datetime.now(timezone.utc) - at) < timedelta(minutes=2)


def test_the_task_filter_matches_asked_and_matched_ids_only(audited):
    requests.put(f"{audited.url}/v4/reloadtask/{A2[0]}/start", json=[], headers=_as("starter"),
                 timeout=30)
    rows = _audit(audited, "taskstarts", task=A2[0].upper())["items"]
    assert rows and all(A2[0] in row["taskIds"] for row in rows)
    assert all(A1[0] not in row["taskIds"] or A2[0] in row["taskIds"] for row in rows)
    unknown = str(uuid.uuid4())
    assert _audit(audited, "taskstarts", task=unknown)["items"] == []


def test_key_and_namespace_deletions_are_audited_found_or_not(audited, ns):
    _store(audited, ns, "a")
    _store(audited, ns, "b")
    _store(audited, ns, "c")
    assert _delete(audited, ns, "a") == 204
    assert _delete(audited, ns, "a") == 400  # already gone: audited as notFound
    assert _delete(audited, ns) == 204  # b and c
    rows = _audit(audited, "keyvaluedeletions", namespace=ns)["items"]
    assert [(r["key"], r["deletedKeys"], r["outcome"]) for r in rows] == [
        (None, 2, "deleted"), ("a", 0, "notFound"), ("a", 1, "deleted")]
    assert {(r["clientAddress"], r["keyName"]) for r in rows} == {("127.0.0.1", "writer")}


def test_a_deletion_by_method_override_is_audited(audited, ns):
    _store(audited, ns, "k")
    r = requests.post(f"{audited.url}/v4/keyvalues/{ns}/k",
                      headers={**_as("writer"), "X-HTTP-Method-Override": "DELETE"}, timeout=10)
    assert r.status_code == 204
    assert _audit(audited, "keyvaluedeletions", namespace=ns)["items"][0]["outcome"] == "deleted"


def test_filters_by_caller_and_time(audited, ns):
    _store(audited, ns, "k")
    before = datetime.now(timezone.utc) - timedelta(seconds=1)
    assert _delete(audited, ns, "k") == 204
    after = datetime.now(timezone.utc) + timedelta(seconds=1)
    mine = {"namespace": ns}
    assert len(_audit(audited, "keyvaluedeletions", caller="writer", **mine)["items"]) == 1
    assert len(_audit(audited, "keyvaluedeletions", caller="127.0.0.1", **mine)["items"]) == 1
    assert _audit(audited, "keyvaluedeletions", caller="starter", **mine)["items"] == []
    assert len(_audit(audited, "keyvaluedeletions", **{"from": before.isoformat()}, **mine)["items"]) == 1
    assert _audit(audited, "keyvaluedeletions", **{"from": after.isoformat()}, **mine)["items"] == []
    assert _audit(audited, "keyvaluedeletions", to=before.isoformat(), **mine)["items"] == []
    assert _audit(audited, "keyvaluedeletions", to=before.isoformat(), **{"from": after.isoformat()},
                  **mine)["items"] == []  # an empty range is empty, not an error
    # a time without an offset is UTC
    naive = before.replace(tzinfo=None).isoformat()
    assert len(_audit(audited, "keyvaluedeletions", **{"from": naive}, **mine)["items"]) == 1


def test_pages_are_newest_first_and_cut_by_id(audited, ns):
    for n in range(7):
        _store(audited, ns, f"k{n}")
        assert _delete(audited, ns, f"k{n}") == 204
    pages, before = [], None
    while True:
        page = _audit(audited, "keyvaluedeletions", namespace=ns, limit=3,
                      **({} if before is None else {"before": before}))
        pages.append([r["key"] for r in page["items"]])
        before = page["nextBefore"]
        if before is None:
            break
    assert pages == [["k6", "k5", "k4"], ["k3", "k2", "k1"], ["k0"]]


def test_the_audit_survives_a_restart(audited, ns):
    _store(audited, ns, "k")
    assert _delete(audited, ns, "k") == 204
    audited.stop()
    audited.start()
    rows = _audit(audited, "keyvaluedeletions", namespace=ns)["items"]
    assert [(r["key"], r["outcome"]) for r in rows] == [("k", "deleted")]
    assert _audit(audited, "taskstarts", task=A1[0])["items"]


@pytest.mark.parametrize("query, wanted", [
    ({"task": "not-a-guid"}, "task"), ({"limit": "0"}, "limit"), ({"limit": "1001"}, "limit"),
    ({"before": "abc"}, "before"), ({"from": "yesterday"}, "from"),
    ({"caller": ""}, "caller")])
def test_bad_queries_are_400_naming_the_parameter(audited, query, wanted):
    r = requests.get(f"{audited.url}/v4/audit/taskstarts", params=query, headers=AUDITOR, timeout=10)
    assert wanted in assert_error(r, 400)["message"]


@pytest.mark.parametrize("who", ["starter", "writer"])
def test_only_an_admin_key_reads_the_audit(audited, who):
    for which in ("taskstarts", "keyvaluedeletions"):
        r = requests.get(f"{audited.url}/v4/audit/{which}", headers=_as(who), timeout=10)
        assert "admin" in assert_error(r, 403)["message"]
        assert_error(requests.get(f"{audited.url}/v4/audit/{which}", timeout=10), 401)


# -- refused requests leave no row -----------------------------------------------------------
@pytest.fixture
def limited(tmp_path):
    """In process, keys on, 8 requests a minute per client: the gate's every refusal."""
    config = config_module.load(env={"VALET_DATA_DIR": str(tmp_path)}).with_overrides({
        **{f"Valet.{k}": v for k, v in _keys().items()}, "Valet.rateLimit.perClient": "8/minute",
        "Butler.restServerEndpointsEnable.senseStartTask": True,
        "Butler.configQRS.host": "127.0.0.1", "Butler.configQRS.useSSL": False,
        "Butler.configQRS.authentication": "header", "Valet.qrs.headerAuthName": "X-Qlik-User",
        "Valet.qrs.headerAuthUser": "UserDirectory=Internal;UserId=sa"})
    client = Client(create_app(config))
    assert client.post("/v4/keyvalues/ns", json={"key": "k", "value": "v"},
                       headers=_as("writer")).status_code == 201
    return client, tmp_path / "valet.sqlite3"


def _rows(database) -> tuple[int, int]:
    db = sqlite3.connect(database)
    try:
        return (db.execute("SELECT COUNT(*) FROM task_start_audit").fetchone()[0],
                db.execute("SELECT COUNT(*) FROM kv_delete_audit").fetchone()[0])
    finally:
        db.close()


def test_requests_the_gate_refuses_leave_no_audit_row(limited):
    client, database = limited
    start = [tid(A1[0])]
    refused = [
        (401, lambda: client.delete("/v4/keyvalues/ns/k")),
        (401, lambda: client.put("/v4/reloadtask/-/start", json=start, headers={"X-API-Key": "nope"})),
        (403, lambda: client.delete("/v4/keyvalues/ns", headers=_as("starter"))),
        (403, lambda: client.put("/v4/reloadtask/-/start", json=start, headers=_as("writer"))),
        (403, lambda: client.delete("/v4/keyvalues/ns/k", headers={
            **_as("writer"), "Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"})),
        (400, lambda: client.post("/v4/keyvalues/ns/k", headers={
            **_as("writer"), "X-HTTP-Method-Override": "DELETEX"})),
        (400, lambda: client.post("/v4/reloadtask/-/start", json=start, headers={
            **_as("starter"), "X-HTTP-Method-Override": "TRACE"})),
    ]
    for status, send in refused:
        assert send().status_code == status
    while client.get("/v4/keylist/ns", headers=_as("writer")).status_code != 429:
        time.sleep(0)
    assert client.delete("/v4/keyvalues/ns/k", headers=_as("writer")).status_code == 429
    assert client.put("/v4/reloadtask/-/start", json=start, headers=_as("starter")).status_code == 429
    assert _rows(database) == (0, 0)


# -- the migration ---------------------------------------------------------------------------
def test_the_migration_fills_the_new_columns_of_existing_rows(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    engine = create_engine(url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "k16a")
        conn.execute(text("INSERT INTO task_start_audit (at_ms, caller, entry_point, request, "
                          "outcome) VALUES (1, '10.0.0.7 (key etl)', 'rest', :request, :outcome), "
                          "(2, 'mqtt://broker:1883', 'mqtt', '{}', 'not json')"),
                     {"request": f'{{"items": [{{"type": "starttaskid", "taskId": "{A1[0].upper()}"}}]}}',
                      "outcome": f'{{"result": {{"tasksTag": [{{"taskId": "{A2[0]}"}}]}}}}'})
        command.upgrade(cfg, "head")
        rows = conn.execute(text("SELECT client_address, key_name, task_ids FROM task_start_audit "
                                 "ORDER BY id")).fetchall()
    engine.dispose()
    assert rows == [("10.0.0.7", "etl", f" {A1[0]} {A2[0]} "), ("mqtt://broker:1883", None, "")]
