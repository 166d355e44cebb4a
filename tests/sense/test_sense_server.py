"""The simulated repository over real TLS: authentication, xrfkey, endpoints, shapes, runs, log.

Expected texts and statuses come from shared/reference/qlik-facts.md (§2 error bodies, §3
endpoints, §4 shapes); where Sense's answer is unrecorded, the simulator's documented choice."""
from __future__ import annotations

import json
import socket
import ssl
import time
import uuid

import pytest
import requests

from demo.sense.certs import ensure_certs
from sense.sense_support import DISABLED, FAILING, SLOW, USER, XRFKEY

A1 = "e3b27f50-b1c0-4879-88fc-c7cdd9c1cf3e"
A2 = "7552d9fc-d1bb-4975-9a38-18357de531ea"
A3 = "fb0f317d-da91-4b86-aafa-0174ae1e8c8f"
OPS = "fbf645f0-0c92-40a4-af9a-6e3eb1d3c35c"
A4 = "8b4fe424-d90c-493f-a61d-0ce91cd485c9"
XSRF = "XSRF prevention check failed. Possible XSRF discovered."
ZERO = "00000000-0000-0000-0000-000000000000"


# -- certificates and TLS ---------------------------------------------------------------------
def test_certificates_use_the_qmc_export_names(sense) -> None:
    names = sorted(p.name for p in sense.certs.root.parent.iterdir())
    assert names == ["client.pem", "client_key.pem", "root.pem", "server.pem", "server_key.pem"]


def test_no_client_certificate_fails_the_handshake(sense) -> None:
    with pytest.raises((requests.exceptions.SSLError, requests.exceptions.ConnectionError)):
        requests.get(f"https://127.0.0.1:{sense.port}/qrs/about?xrfkey={XRFKEY}",
                     headers={"X-Qlik-Xrfkey": XRFKEY, "X-Qlik-User": USER},
                     verify=str(sense.certs.root), timeout=5)


def test_a_client_certificate_from_another_ca_fails_the_handshake(sense, tmp_path) -> None:
    other = ensure_certs(tmp_path / "other")
    with pytest.raises((requests.exceptions.SSLError, requests.exceptions.ConnectionError)):
        requests.get(f"https://127.0.0.1:{sense.port}/qrs/about?xrfkey={XRFKEY}",
                     headers={"X-Qlik-Xrfkey": XRFKEY, "X-Qlik-User": USER},
                     cert=(str(other.client), str(other.client_key)),
                     verify=str(sense.certs.root), timeout=5)


def test_the_server_certificate_is_issued_by_root_pem_for_localhost(sense) -> None:
    ctx = ssl.create_default_context(cafile=str(sense.certs.root))
    ctx.load_cert_chain(str(sense.certs.client), str(sense.certs.client_key))
    for host in ("localhost", "127.0.0.1"):
        with socket.create_connection(("127.0.0.1", sense.port), timeout=5) as raw:
            with ctx.wrap_socket(raw, server_hostname=host) as tls:
                assert tls.version() in ("TLSv1.2", "TLSv1.3")


# -- xrfkey and X-Qlik-User ---------------------------------------------------------------------
@pytest.mark.parametrize("params,header", [
    ({}, None),                                  # neither
    ({}, XRFKEY),                                # header only
    ({"xrfkey": XRFKEY}, None),                  # parameter only
    ({"xrfkey": XRFKEY}, "ponmlkjihgfedcba"),    # different
    ({"xrfkey": "short"}, "short"),              # docs: 16 characters
    ({"xrfkey": "abcdefgh-jklmnop"}, "abcdefgh-jklmnop"),  # docs: 0-9 a-z A-Z only
])
def test_xrfkey_rule_answers_403_with_senses_text(qrs, params, header) -> None:
    r = qrs("GET", "about", params=params, xrfkey=None,
            headers={"X-Qlik-Xrfkey": header} if header else None)
    assert (r.status_code, r.text) == (403, XSRF)
    assert r.headers["Content-Type"].startswith("text/plain")


@pytest.mark.parametrize("name", ["xrfkey", "Xrfkey", "XRFKEY"])
def test_xrfkey_parameter_name_is_case_insensitive(qrs, name) -> None:
    r = qrs("GET", "about", params={name: XRFKEY}, xrfkey=None, headers={"X-Qlik-Xrfkey": XRFKEY})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("user", [None, "", "UserDirectory:Internal;UserId:sa_repository",
                                  "UserId=sa_repository", "UserDirectory=Internal; UserId="])
def test_missing_or_malformed_user_is_refused(qrs, user) -> None:
    r = qrs("GET", "about", headers={"X-Qlik-User": user})
    assert r.status_code == 403
    assert r.text == ("Unknown users not allowed for repository calls, missing or malformed "
                      "http header: X-Qlik-User")


@pytest.mark.parametrize("user", ["UserDirectory=internal;UserId=sa_repository",
                                  "UserDirectory= Internal; UserId= sa_repository ",
                                  "userid=x; userdirectory=y;"])
def test_lenient_user_forms_are_accepted(qrs, user) -> None:
    assert qrs("GET", "about", headers={"X-Qlik-User": user}).status_code == 200


def test_unknown_endpoint_and_task_by_id(qrs) -> None:
    for path in ("nothing/here", f"task/{A1}"):  # GET task/{id} is not an endpoint (QCW148)
        r = qrs("GET", path)
        assert (r.status_code, r.text) == (404, "No matching endpoint found")


# -- reading tasks ----------------------------------------------------------------------------
def names(r: requests.Response) -> list[str]:
    assert r.status_code == 200, r.text
    return [t["name"] for t in r.json()]


def test_task_full_holds_the_reference_tasks(qrs) -> None:
    r = qrs("GET", "task/full", params={"filter": "tags.name eq 'startTask1'"})
    assert names(r) == ["Reload task of App1", "Reload task of App2", "Reload task of App3"]
    app2 = qrs("GET", f"reloadtask/{A2}").json()
    assert sorted(cp["value"] for cp in app2["customProperties"]) == ["tasks1", "tasks2"]
    assert {cp["definition"]["name"] for cp in app2["customProperties"]} == {"taskGroup"}
    assert names(qrs("GET", "task/full", params={"filter": "tags.name eq 'startTask2'"})) == \
        ["Reload task of App3"]
    assert len(qrs("GET", "task/full").json()) == 8


def test_reload_task_shape_follows_the_api_reference(qrs) -> None:
    task = qrs("GET", f"reloadtask/{A1}").json()
    for key in ("id", "createdDate", "modifiedDate", "modifiedByUserName", "schemaPath",
                "privileges", "customProperties", "name", "taskType", "enabled",
                "taskSessionTimeout", "maxRetries", "tags", "app", "isManuallyTriggered",
                "operational", "isPartialReload"):
        assert key in task, key
    assert task["schemaPath"] == "ReloadTask" and task["taskType"] == 0
    assert task["tags"][0].keys() == {"id", "name", "privileges"}
    cp = task["customProperties"][0]
    assert cp["definition"]["choiceValues"] == ["tasks1", "tasks2"]
    assert {"id", "name", "valueType", "choiceValues", "privileges"} <= cp["definition"].keys()
    assert task["app"]["name"] == "App1" and task["app"]["publishTime"].startswith("1753")
    assert {"id", "lastExecutionResult", "nextExecution", "privileges"} <= task["operational"].keys()


def test_condensed_task_list_is_filtered_on_the_full_entity(qrs) -> None:
    r = qrs("GET", "task", params={"filter": "tags.name eq 'startTask2'"})
    assert r.json() == [{"id": A3, "privileges": None, "name": "Reload task of App3",
                         "taskType": 0, "enabled": True, "taskSessionTimeout": 1440,
                         "maxRetries": 0}]
    assert names(qrs("GET", "reloadtask", params={"filter": f"id eq {A4}"})) == ["Reload task of App4"]


def test_unfiltered_condensed_list_holds_every_task_condensed(qrs) -> None:
    """`GET /qrs/task` with no filter: "the condensed version of all entities" of the type
    (https://help.qlik.com/en-US/sense-developer/November2024/Subsystems/RepositoryServiceAPI/
    Content/Sense_RepositoryServiceAPI/RepositoryServiceAPI-Get-All-As-Condensed.htm): the seed's
    five and the three extra tasks, in seed order, disabled ones too, nothing of the full entity."""
    tasks = qrs("GET", "task").json()
    assert [t["id"] for t in tasks] == [A1, A2, A3, OPS, A4, DISABLED, SLOW, FAILING]
    assert [t["enabled"] for t in tasks] == [True] * 5 + [False, True, True]
    assert all(t.keys() == {"id", "privileges", "name", "taskType", "enabled",
                            "taskSessionTimeout", "maxRetries"} for t in tasks)
    assert tasks[-1]["name"] == "Failing task" and tasks[0]["name"] == "Reload task of App1"


def test_unknown_reload_task_is_404(qrs) -> None:
    r = qrs("GET", f"reloadtask/{uuid.uuid4()}")
    assert r.status_code == 404 and "Cannot find a task" in r.text


@pytest.mark.parametrize("filter_text,expected", [
    (r"tags.name eq 'O\'Brien'", ["Failing task"]),
    ("tags.name eq 'R&D #1'", ["Failing task"]),
    (r"customProperties.value eq 'a\'b'", ["Failing task"]),
    (r"tags.name eq 'x\' or name sw \''", []),
    ("enabled eq false", ["Disabled task"]),
    ("app.name eq 'Operations Monitor'", ["Reload Operations Monitor"]),
])
def test_filters_over_http_encoded(qrs, filter_text, expected) -> None:
    assert names(qrs("GET", "task/full", params={"filter": filter_text})) == expected


def test_bad_filter_is_400_plain_text(qrs) -> None:
    r = qrs("GET", "task/full", params={"filter": "tags.name eq 'O''Brien'"})
    assert (r.status_code, r.text) == (400, "Cannot parse the expression: tags.name eq 'O''Brien'")
    assert qrs("GET", "task/full", params={"filter": "()"}).text == "Invalid expression"


def test_raw_ampersand_cuts_the_query(qrs, sense) -> None:
    """A filter not URL-encoded: `&` splits it and Sense answers 'Missing parameter value(s)'."""
    url = (f"https://127.0.0.1:{sense.port}/qrs/task/full?xrfkey={XRFKEY}"
           "&filter=tags.name%20eq%20'R&D%20%231'")
    r = qrs.session.get(url, headers={"X-Qlik-Xrfkey": XRFKEY, "X-Qlik-User": USER},
                        verify=str(sense.certs.root), timeout=5)
    assert (r.status_code, r.text) == (400, "Missing parameter value(s)")


# -- starting -------------------------------------------------------------------------------
def starts_logged(sense, before: int) -> list[dict]:
    return [e for e in sense.requests()[before:] if e["method"] == "POST"]


def test_start_by_id_is_204_and_runs_once_while_running(qrs, sense) -> None:
    r1 = qrs("POST", f"task/{SLOW}/start")
    r2 = qrs("POST", f"task/{SLOW}/start")
    assert (r1.status_code, r1.text, r2.status_code) == (204, "", 204)
    assert len([run for run in sense.runs() if run["taskId"] == SLOW]) == 1


def test_start_of_unknown_and_malformed_ids(qrs) -> None:
    r = qrs("POST", f"task/{uuid.uuid4()}/start")
    assert r.status_code == 404 and r.text.startswith("Cannot find a task with the following id")
    r = qrs("POST", "task/abc123/start")
    assert (r.status_code, r.text) == (404, "No matching endpoint found")


def test_disabled_task_start_is_accepted_and_nothing_runs(qrs, sense) -> None:
    assert qrs("POST", f"task/{DISABLED}/start").status_code == 204
    r = qrs("POST", f"task/{DISABLED}/start/synchronous")
    assert (r.status_code, r.json()) == (201, {"value": ZERO})
    assert not [run for run in sense.runs() if run["taskId"] == DISABLED]


def test_start_many_starts_each_listed_task(qrs, sense) -> None:
    before = {run["sessionId"] for run in sense.runs()}
    r = qrs("POST", "task/start/many", json=[A1, A2])
    assert (r.status_code, r.text) == (204, "")
    new = [run["taskId"] for run in sense.runs() if run["sessionId"] not in before]
    assert sorted(new) == sorted([A1, A2])


def test_start_many_with_an_unknown_id_starts_nothing(qrs, sense) -> None:
    count = len(sense.runs())
    r = qrs("POST", "task/start/many", json=[A3, str(uuid.uuid4())])
    assert r.status_code == 404
    assert len(sense.runs()) == count


@pytest.mark.parametrize("body", [{"ids": [A1]}, ["abc123"], [1, 2], "x"])
def test_start_many_refuses_a_body_that_is_not_guids(qrs, body) -> None:
    assert qrs("POST", "task/start/many", json=body).status_code == 400


def test_start_by_name(qrs, sense) -> None:
    assert qrs("POST", "task/start", params={"name": "Reload task of App4"}).status_code == 204
    r = qrs("POST", "task/start", params={"name": "No such task"})
    assert (r.status_code, r.text) == (400, "Cannot find a task with the following name: No such task")
    r = qrs("POST", "task/start/synchronous", params={"name": "reload operations MONITOR"})
    assert r.status_code == 201 and r.json()["value"] != ZERO
    assert [run["taskId"] for run in sense.runs() if run["sessionId"] == r.json()["value"]] == [OPS]


def wait_for_404(qrs, path: str, deadline: float = 10.0) -> None:
    end = time.monotonic() + deadline
    while qrs("GET", path).status_code != 404:
        assert time.monotonic() < end, f"{path} still there after {deadline} s"
        time.sleep(0.1)


def wait_for_result(qrs, sid: str, done, deadline: float = 10.0) -> list[dict]:
    """The session's execution results once `done` holds for the last one."""
    end = time.monotonic() + deadline
    while True:
        results = qrs("GET", "executionresult", params={"filter": f"ExecutionId eq {sid}"}).json()
        if results and done(results[-1]):
            return results
        assert time.monotonic() < end, f"results of {sid} after {deadline} s: {results}"
        time.sleep(0.05)


def test_synchronous_start_and_the_run_to_its_seed_status(qrs) -> None:
    """start/synchronous -> session; executionsession while running, 404 after (facts §3);
    executionresult?filter=ExecutionId eq <sid> -> the run, ending in the seed's status."""
    r = qrs("POST", f"task/{FAILING}/start/synchronous")
    sid = r.json()["value"]
    assert r.status_code == 201 and sid != ZERO
    again = qrs("POST", f"task/{FAILING}/start/synchronous")
    assert (again.status_code, again.json()) == (201, {"value": ZERO})  # running: no second run
    s = qrs("GET", f"executionsession/{sid}")
    assert s.status_code == 200 and s.json()["executionResult"]["status"] == 1  # Triggered
    assert s.json()["reloadTask"]["id"] == FAILING and s.json()["schemaPath"] == "ExecutionSession"
    running = wait_for_result(qrs, sid, lambda x: x["status"] not in (1, 3))  # Triggered, Queued
    assert [(x["status"], x["stopTime"][:4]) for x in running] == [(2, "1753")]
    full = qrs("GET", "executionresult/full", params={"filter": f"taskID eq {FAILING} and status eq Started"}).json()
    assert [x["executionID"] for x in full] == [sid]
    wait_for_404(qrs, f"executionsession/{sid}")
    results = qrs("GET", "executionresult", params={"filter": f"ExecutionId eq {sid}"}).json()
    assert len(results) == 1 and results[0]["status"] == 8  # FinishedFail, as seeded
    # Started for the seeded 2 s less the Triggered fifth: duration runs from startTime to stopTime
    assert not results[0]["stopTime"].startswith("1753") and 1550 <= results[0]["duration"] <= 1700
    one = qrs("GET", f"executionresult/{results[0]['id']}").json()
    assert one["executionID"] == sid and one["taskID"] == FAILING and one["status"] == 8
    last = qrs("GET", f"reloadtask/{FAILING}").json()["operational"]["lastExecutionResult"]
    assert last["id"] == results[0]["id"] and last["status"] == 8


# -- the request log ----------------------------------------------------------------------------
def test_every_request_is_logged_with_its_connection(qrs, sense) -> None:
    before = len(sense.requests())
    qrs("GET", "task/full", params={"filter": "tags.name eq 'R&D #1'"})
    qrs("POST", "task/start/many", json=[A4])
    entries = sense.requests()[before:]
    assert [e["method"] for e in entries] == ["GET", "POST"]
    get, post = entries
    assert get["path"] == "/qrs/task/full"
    assert get["query"] == {"xrfkey": XRFKEY, "filter": "tags.name eq 'R&D #1'"}
    assert get["headers"]["X-Qlik-User"] == USER
    assert post["body"] == [A4]  # parsed JSON
    assert get["connection"] == post["connection"]  # keep-alive: one TLS connection
    other = requests.Session()
    other.trust_env = False
    other.cert = qrs.session.cert
    other.get(qrs.base + "about", params={"xrfkey": XRFKEY},
              headers={"X-Qlik-Xrfkey": XRFKEY, "X-Qlik-User": USER}, verify=str(sense.certs.root))
    assert sense.requests()[-1]["connection"] != post["connection"]
    json.dumps(entries)  # plain JSON


def test_a_hundred_concurrent_connections(sense) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def call(_: int) -> int:
        with requests.Session() as s:
            s.trust_env = False
            r = s.get(f"https://127.0.0.1:{sense.port}/qrs/about", params={"xrfkey": XRFKEY},
                      headers={"X-Qlik-Xrfkey": XRFKEY, "X-Qlik-User": USER},
                      cert=(str(sense.certs.client), str(sense.certs.client_key)),
                      verify=str(sense.certs.root), timeout=30)
            return r.status_code

    with ThreadPoolExecutor(100) as pool:
        assert list(pool.map(call, range(100))) == [200] * 100


# -- virtual proxy with header authentication -------------------------------------------------
def proxy_get(sense, path: str, headers: dict) -> requests.Response:
    return requests.get(f"https://127.0.0.1:{sense.proxy_port}{path}", params={"xrfkey": XRFKEY},
                        headers={"X-Qlik-Xrfkey": XRFKEY, **headers},
                        verify=str(sense.certs.root), timeout=5)


def test_virtual_proxy_header_authentication(sense) -> None:
    r = proxy_get(sense, "/hdr/qrs/task/full", {"hdr-usr": "jane"})  # no client cert, no X-Qlik-User
    assert r.status_code == 200 and len(r.json()) == 8
    assert proxy_get(sense, "/hdr/qrs/task/full", {}).status_code == 401
    assert proxy_get(sense, "/other/qrs/task/full", {"hdr-usr": "jane"}).status_code == 404
    assert sense.requests()[-1]["listener"] == "proxy"
