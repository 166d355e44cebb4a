"""A repository that is down, slow, failing, or that refuses Valet's certificates or headers:
a clear JSON error (502/503/504) while looking tasks up, `failed` entries when the one
task/start/many fails, key-value items stored all the same, and a server that goes on serving."""
from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import trustme

from demo.processes import Valet
from demo.sense.process import SenseProcess
from helpers import assert_error
from tasks.start_support import (A1, A2, A3, audit_rows, kv, qrs_config, refs, result, start,
                                 tag)

SHORT_TIMEOUT = {"qrs": {"timeoutSeconds": 0.5}}


def kv_value(valet, namespace: str, key: str) -> str | None:
    r = requests.get(f"{valet.url}/v4/keyvalues/{namespace}", params={"key": key}, timeout=5)
    return r.json().get("value") if r.status_code == 200 else None


def still_serving(valet, sense) -> None:
    """After a fault: ping answers and a start goes through again."""
    sense.clear_faults()
    assert requests.get(f"{valet.url}/v4/butlerping", timeout=5).status_code == 200
    assert start(valet, A1[0]).json() == result(started=refs(A1))


@pytest.fixture(scope="module")
def quick_valet(tmp_path_factory, sense) -> Valet:
    """Valet with a 0.5 s repository timeout."""
    root = tmp_path_factory.mktemp("quick")
    server = Valet(root, qrs_config(sense), SHORT_TIMEOUT, log=(root / "valet.log").open("w"))
    yield server.start()
    server.stop()


# -- lookups fail: 502/503/504, KV kept --------------------------------------------------------
def test_repository_down_is_503_and_parameters_are_kept(quick_valet, clean_sense, qlog) -> None:
    clean_sense.set_faults(refuse=True)
    r = start(quick_valet, A1[0], [kv("while-down", "kept", namespace="faults")])
    message = assert_error(r, 503)["message"]
    assert "cannot connect" in message and "no task was started" in message
    assert "1 key-value item(s) were stored" in message
    assert kv_value(quick_valet, "faults", "while-down") == "kept"
    outcome = json.loads(audit_rows(quick_valet)[-1]["outcome"])
    assert outcome["status"] == 503 and "cannot connect" in outcome["error"]
    still_serving(quick_valet, clean_sense)


def test_repository_error_on_lookup_is_502(quick_valet, clean_sense, qlog) -> None:
    clean_sense.set_faults(rules=[{"action": "status", "status": 500, "path": "task/full"}])
    message = assert_error(start(quick_valet, "-", [tag("startTask1")]), 502)["message"]
    assert "500" in message and "Simulated fault" in message
    assert qlog.starts() == {}
    still_serving(quick_valet, clean_sense)


def test_slow_repository_is_504(quick_valet, clean_sense, qlog) -> None:
    clean_sense.set_faults(rules=[{"action": "slow", "ms": 2000, "path": "qrs/task$"}])
    r = start(quick_valet, A1[0], [kv("while-slow", "kept", namespace="faults")])
    assert "0.5 s" in assert_error(r, 504)["message"]
    assert kv_value(quick_valet, "faults", "while-slow") == "kept"
    assert qlog.starts() == {}
    still_serving(quick_valet, clean_sense)


def test_other_requests_are_served_while_a_start_waits(quick_valet, clean_sense, qlog) -> None:
    clean_sense.set_faults(rules=[{"action": "slow", "ms": 2000, "path": "qrs/task$"}])
    with ThreadPoolExecutor(2) as pool:
        waiting = [pool.submit(start, quick_valet, A1[0]) for _ in range(2)]
        time.sleep(0.2)
        t0 = time.perf_counter()
        assert requests.get(f"{quick_valet.url}/v4/butlerping", timeout=5).status_code == 200
        assert time.perf_counter() - t0 < 0.5
        assert [f.result().status_code for f in waiting] == [504, 504]
    still_serving(quick_valet, clean_sense)


# -- the start batch fails: 200 with every task in `failed` ------------------------------------
def test_refused_start_batch_fails_every_task_with_the_reason(quick_valet, clean_sense, qlog) -> None:
    clean_sense.set_faults(rules=[{"action": "status", "status": 500, "path": "start/many"}])
    r = start(quick_valet, A1[0], [tag("startTask2")])
    assert r.status_code == 200
    body = r.json()
    assert body["tasksId"]["started"] == [] and body["tasksTag"] == []
    assert [f["taskId"] for f in body["failed"]] == [A1[0], A3[0]]
    for entry in body["failed"]:
        assert "task/start/many for the batch of 2 task(s) failed" in entry["reason"]
        assert "500" in entry["reason"]
    assert qlog.starts() == {A1[0]: 1, A3[0]: 1}  # asked once, never repeated
    still_serving(quick_valet, clean_sense)


def test_unanswered_start_batch_is_not_repeated(quick_valet, clean_sense, qlog) -> None:
    clean_sense.set_faults(rules=[{"action": "slow", "ms": 1500, "path": "start/many"}])
    r = start(quick_valet, A2[0])
    assert r.status_code == 200
    [entry] = r.json()["failed"]
    assert entry["taskId"] == A2[0] and "may still have started" in entry["reason"]
    assert qlog.starts() == {A2[0]: 1}
    still_serving(quick_valet, clean_sense)


def test_start_dropped_on_a_kept_connection_is_failed_and_not_sent_again(quick_valet, clean_sense,
                                                                         qlog) -> None:
    assert start(quick_valet, A1[0]).status_code == 200  # Valet's pooled connection is warm
    clean_sense.set_faults(rules=[{"action": "drop", "path": "start/many", "times": 1}])
    r = start(quick_valet, A2[0])
    assert r.status_code == 200
    [entry] = r.json()["failed"]
    assert entry["taskId"] == A2[0] and "connection lost" in entry["reason"]
    assert "may still have started" in entry["reason"]
    assert qlog.starts() == {A1[0]: 1, A2[0]: 1}  # A2 sent once: not again on a new connection
    still_serving(quick_valet, clean_sense)


# -- certificates and headers ------------------------------------------------------------------
def other_ca_files(tmp_path) -> dict[str, str]:
    """root.pem, client.pem, client_key.pem of a CA the repository does not know."""
    ca = trustme.CA(key_type=trustme.KeyType.RSA)
    client = ca.issue_cert("QlikClient", key_type=trustme.KeyType.RSA)
    files = {"root": tmp_path / "other-root.pem", "client": tmp_path / "other-client.pem",
             "key": tmp_path / "other-client_key.pem"}
    ca.cert_pem.write_to_path(str(files["root"]))
    client.cert_chain_pems[0].write_to_path(str(files["client"]))
    client.private_key_pem.write_to_path(str(files["key"]))
    return {k: str(v) for k, v in files.items()}


def test_client_certificate_from_another_ca_is_a_clear_502(start_valet, sense, tmp_path) -> None:
    other = other_ca_files(tmp_path)
    valet = start_valet(butler=qrs_config(sense, cert={"clientCert": other["client"],
                                                       "clientCertKey": other["key"]}))
    message = assert_error(start(valet, A1[0]), 502)["message"]
    assert "TLS handshake" in message and "client certificate" in message


def test_repository_certificate_not_trusted_is_a_clear_502(start_valet, sense, tmp_path) -> None:
    valet = start_valet(butler=qrs_config(sense, cert={"clientCertCA": other_ca_files(tmp_path)["root"]}))
    message = assert_error(start(valet, A1[0]), 502)["message"]
    assert "not trusted" in message and "Butler.cert.clientCertCA" in message


def test_missing_client_certificate_stops_start_up_naming_the_key(tmp_path, sense) -> None:
    butler = qrs_config(sense, cert={"clientCert": str(tmp_path / "nowhere" / "client.pem")})
    log = tmp_path / "valet.log"
    with pytest.raises(RuntimeError):
        Valet(tmp_path / "v", butler, log=log.open("w")).start(timeout=15)
    assert "Butler.cert.clientCert: cannot read" in log.read_text()


def test_missing_user_header_surfaces_senses_answer(start_valet, sense) -> None:
    valet = start_valet(butler=qrs_config(sense, configQRS={"headers": {"static": []}}))
    message = assert_error(start(valet, A1[0]), 502)["message"]
    assert "X-Qlik-User" in message and "403" in message


@pytest.fixture(scope="module")
def proxied_sense(tmp_path_factory) -> SenseProcess:
    """A repository of its own with a virtual proxy (prefix hdr, user header hdr-usr)."""
    with SenseProcess(tmp_path_factory.mktemp("proxied"), proxy=True) as sense:
        yield sense


def header_auth_valet(start_valet, sense: SenseProcess, prefix: str) -> Valet:
    butler = qrs_config(sense, configQRS={"authentication": "header", "port": sense.proxy_port})
    return start_valet(butler=butler, valet={"qrs": {
        "virtualProxyPrefix": prefix, "headerAuthName": "hdr-usr",
        "headerAuthUser": "INTERNAL\\sa_repository"}})


def test_header_authentication_through_a_virtual_proxy(start_valet, proxied_sense) -> None:
    valet = header_auth_valet(start_valet, proxied_sense, "hdr")
    before = len(proxied_sense.requests())
    assert start(valet, A1[0], [tag("startTask2")]).json() == result(started=refs(A1), by_tag=refs(A3))
    log = proxied_sense.requests()[before:]
    assert sorted((r["listener"], r["path"]) for r in log) == [
        ("proxy", "/hdr/qrs/task"), ("proxy", "/hdr/qrs/task/full"), ("proxy", "/hdr/qrs/task/start/many")]
    assert {r["headers"].get("hdr-usr") for r in log} == {"INTERNAL\\sa_repository"}


def test_xrfkey_refusal_surfaces_senses_answer(start_valet, proxied_sense) -> None:
    """A virtual-proxy prefix ending in '#' cuts the query string, xrfkey with it (the failure
    qlik-facts §1 records): the repository's 403 reaches the caller with a hint."""
    valet = header_auth_valet(start_valet, proxied_sense, "hdr/qrs/task/full#")
    before = len(proxied_sense.requests())
    message = assert_error(start(valet, A1[0]), 502)["message"]
    assert "XSRF prevention check failed" in message and "xrfkey" in message
    assert [r["query"] for r in proxied_sense.requests()[before:]] == [{}]
