"""The repository client against the simulated repository, a real process over real TLS with
client certificates: xrfkey, certificates, header auth, injection, URL splitting, retries,
timeouts, a repository that is down."""
from __future__ import annotations

import re
import time
import uuid
from dataclasses import replace

import pytest

import server.qrs as qrs_module
from demo.sense.certs import ensure_certs
from demo.sense.process import SenseProcess, free_port
from qrs.qrs_support import USER, no_faults, settings, verified_settings  # noqa: F401
from server.qrs import (MAX_URL_LENGTH, QrsClient, QrsConfigError, QrsConnectionLost,
                        QrsHttpError, QrsSettings, QrsTimeout, QrsTlsError, QrsUnreachable,
                        custom_property_term, has_custom_property, has_tag, id_term, tag_term)

A1 = "e3b27f50-b1c0-4879-88fc-c7cdd9c1cf3e"
A2 = "7552d9fc-d1bb-4975-9a38-18357de531ea"
A3 = "fb0f317d-da91-4b86-aafa-0174ae1e8c8f"
ZERO = "00000000-0000-0000-0000-000000000000"
TRICKY_TAGS = ["O'Brien", "R&D #1", "x' or name sw '", "back\\slash", "100% ?/#=+,"]
TRICKY = [{"id": str(uuid.UUID(int=i + 1)), "name": f"Tricky {i}", "tags": [tag],
           "customProperties": {"owner's": [tag]}, "run": {"seconds": 0.3}}
          for i, tag in enumerate(TRICKY_TAGS)]
QUICK = "0b0b0b0b-0000-4000-8000-000000000001"
EXTRA = TRICKY + [{"id": QUICK, "name": "Quick failing", "run": {"seconds": 1.5, "status": 8}}]


@pytest.fixture(scope="module")
def sense(tmp_path_factory) -> SenseProcess:
    with SenseProcess(tmp_path_factory.mktemp("qrs"), extra_tasks=EXTRA, proxy=True) as s:
        yield s


def new_requests(sense, before: int) -> list[dict]:
    return sense.requests()[before:]


def names(tasks: list[dict]) -> list[str]:
    return [t["name"] for t in tasks]


# -- lookups, xrfkey, one connection ------------------------------------------------------------
def test_find_by_tag_with_xrfkey_on_one_connection(sense, settings) -> None:
    before = len(sense.requests())
    with QrsClient(settings) as client:
        tagged = client.find_tasks([tag_term("startTask1")])
        by_id = client.find_tasks([id_term(A2), id_term(str(uuid.uuid4()))])
        about = client.about()
    assert names(tagged) == ["Reload task of App1", "Reload task of App2", "Reload task of App3"]
    assert names(by_id) == ["Reload task of App2"] and about["schemaPath"] == "About"
    logged = new_requests(sense, before)
    assert len(logged) == 3
    keys = [e["query"]["xrfkey"] for e in logged]
    assert all(re.fullmatch(r"[0-9A-Za-z]{16}", k) for k in keys) and len(set(keys)) == 3
    assert all(e["headers"]["X-Qlik-Xrfkey"] == e["query"]["xrfkey"] for e in logged)
    assert all(e["headers"]["X-Qlik-User"] == USER["X-Qlik-User"] for e in logged)
    assert len({e["connection"] for e in logged}) == 1  # one TLS connection for the whole call


def test_terms_are_ored_in_one_request_and_each_task_listed_once(sense, settings) -> None:
    before = len(sense.requests())
    with QrsClient(settings) as client:
        found = client.find_tasks([tag_term("startTask1"), tag_term("startTask2"), id_term(A3),
                                   custom_property_term("taskGroup", "tasks2")])
    assert sorted(t["id"] for t in found) == sorted([A1, A2, A3])
    assert len(new_requests(sense, before)) == 1


@pytest.mark.parametrize("index,tag", list(enumerate(TRICKY_TAGS)))
def test_tricky_tags_match_literally(sense, settings, index, tag) -> None:
    with QrsClient(settings) as client:
        by_tag = client.find_tasks([tag_term(tag)])
        by_cp = client.find_tasks([custom_property_term("owner's", tag)])
    assert names(by_tag) == [f"Tricky {index}"] and has_tag(by_tag[0], tag)
    assert names(by_cp) == [f"Tricky {index}"] and has_custom_property(by_cp[0], "owner's", tag)


def test_injection_attempt_matches_nothing_else(sense, settings) -> None:
    """`x' or name sw '` unescaped would read `tags.name eq 'x' or name sw ''` — every task."""
    before = len(sense.requests())
    with QrsClient(settings) as client:
        found = client.find_tasks([tag_term("x' or name sw '")])
    assert names(found) == ["Tricky 2"]
    target = new_requests(sense, before)[0]["target"]
    assert "'" not in target and "&" not in target.split("?", 1)[1].replace("&filter=", "", 1)
    assert "#" not in target and " " not in target


def test_lookups_split_only_where_a_url_would_pass_8_kb(sense, settings) -> None:
    ids = [A1, A2, A3] + [str(uuid.uuid4()) for _ in range(997)]
    before = len(sense.requests())
    with QrsClient(settings) as client:
        found = client.find_tasks([id_term(i) for i in ids])
        sent = client.requests_sent
    assert sorted(t["id"] for t in found) == sorted([A1, A2, A3])
    logged = new_requests(sense, before)
    assert len(logged) == sent
    base = settings.base_url.rstrip("/").removesuffix("/qrs")
    lengths = [len(base + e["target"]) for e in logged]
    assert max(lengths) <= MAX_URL_LENGTH
    # As few requests as possible: every batch but the last had no room for another term (the
    # batches run concurrently, so the log's order is not theirs).
    term = len("%20or%20") + len("id%20eq%20") + 36
    assert all(n + term > MAX_URL_LENGTH for n in sorted(lengths)[1:])
    assert len(logged) == 7  # 1000 IDs of 54 URL characters each in 8 KB URLs
    with QrsClient(settings) as client:
        client.find_tasks([id_term(i) for i in ids[:100]])
        assert client.requests_sent == 1  # 100 IDs fit one URL


def test_a_term_too_long_for_any_url_is_refused(settings) -> None:
    with QrsClient(settings) as client, pytest.raises(ValueError):
        client.find_tasks([tag_term("x" * MAX_URL_LENGTH)])


# -- starts and runs -----------------------------------------------------------------------------
def starts(sense, before: int) -> list[dict]:
    return [e for e in new_requests(sense, before) if e["method"] == "POST"]


def test_start_many_is_one_post_with_the_ids(sense, settings) -> None:
    before = len(sense.requests())
    with QrsClient(settings) as client:
        client.start_many([TRICKY[0]["id"], TRICKY[1]["id"]])
        client.start_many([])  # nothing to start: no request
    posts = starts(sense, before)
    assert [(p["path"], p["body"]) for p in posts] == \
        [("/qrs/task/start/many", [TRICKY[0]["id"], TRICKY[1]["id"]])]


def test_start_of_an_unknown_task_surfaces_senses_answer(settings) -> None:
    with QrsClient(settings) as client, pytest.raises(QrsHttpError) as err:
        client.start(str(uuid.uuid4()))
    assert err.value.status == 404 and "Cannot find a task" in err.value.body
    assert err.value.http_status == 502


def test_synchronous_start_session_and_results(sense, settings) -> None:
    with QrsClient(settings) as client:
        session = client.start_synchronous(QUICK)
        assert session != ZERO
        running = client.execution_session(session)
        assert running["executionResult"]["status"] in (1, 2, 3)  # Triggered, Started, Queued
        assert client.start_synchronous(QUICK) == ZERO  # already running
        end = time.monotonic() + 10
        while client.execution_session(session) is not None:  # ended: Sense answers 404
            assert time.monotonic() < end
            time.sleep(0.1)
        results = client.execution_results(session)
        assert [r["status"] for r in results] == [8]
        assert client.execution_result(results[0]["id"])["executionID"] == session


def test_bare_synchronous_reply_is_accepted_too(tmp_path) -> None:
    with SenseProcess(tmp_path, "--sync-reply", "bare") as bare:
        s = QrsSettings("127.0.0.1", bare.port, headers=USER, client_cert=str(bare.certs.client),
                        client_key=str(bare.certs.client_key))
        with QrsClient(s) as client:
            assert uuid.UUID(client.start_synchronous(A1))
        assert bare.requests()[-1]["path"] == f"/qrs/task/{A1}/start/synchronous"


# -- what goes wrong, and how it surfaces ---------------------------------------------------------
def test_xrfkey_refusal_surfaces_with_senses_text(settings, monkeypatch) -> None:
    monkeypatch.setattr(qrs_module, "_XRFKEY_CHARS", "-")  # not a valid xrfkey character
    with QrsClient(settings) as client, pytest.raises(QrsHttpError) as err:
        client.about()
    assert err.value.status == 403
    assert err.value.body == "XSRF prevention check failed. Possible XSRF discovered."


def test_missing_user_header_surfaces(settings) -> None:
    with QrsClient(replace(settings, headers={})) as client, pytest.raises(QrsHttpError) as err:
        client.about()
    assert err.value.status == 403 and "X-Qlik-User" in err.value.body


def test_server_certificate_from_another_ca_is_a_tls_error(settings, tmp_path) -> None:
    other = ensure_certs(tmp_path / "other")
    with QrsClient(replace(settings, ca_cert=str(other.root))) as client:
        with pytest.raises(QrsTlsError) as err:
            client.about()
    assert "clientCertCA" in err.value.message and not err.value.request_sent


def test_self_signed_server_accepted_when_not_rejecting_unauthorized(settings, tmp_path) -> None:
    other = ensure_certs(tmp_path / "other")
    lax = replace(settings, ca_cert=str(other.root), reject_unauthorized=False)
    with QrsClient(lax) as client:
        assert client.about()["schemaPath"] == "About"
    with QrsClient(replace(settings, host="localhost")) as client:  # name checked when rejecting
        assert client.about()["schemaPath"] == "About"


def test_client_certificate_from_another_ca_is_a_tls_error(sense, settings, tmp_path) -> None:
    other = ensure_certs(tmp_path / "other")
    wrong = replace(settings, client_cert=str(other.client), client_key=str(other.client_key))
    before = len(sense.requests())
    with QrsClient(wrong) as client, pytest.raises(QrsTlsError) as err:
        client.start_many([A1])
    assert "client certificate" in err.value.message
    assert new_requests(sense, before) == []  # the repository never saw the start


def test_certificate_settings_that_cannot_work(settings, tmp_path) -> None:
    with pytest.raises(QrsConfigError):
        QrsClient(replace(settings, client_cert=None))
    with pytest.raises(QrsConfigError):
        QrsClient(replace(settings, authentication="kerberos"))
    with pytest.raises(QrsConfigError):
        QrsClient(replace(settings, authentication="header"))  # no header name/user
    with pytest.raises(QrsConfigError) as err:
        QrsClient(replace(settings, client_cert=str(tmp_path / "missing.pem")))
    assert "missing.pem" in err.value.message


def test_header_authentication_through_the_virtual_proxy(sense) -> None:
    s = QrsSettings("127.0.0.1", sense.proxy_port, authentication="header",
                    virtual_proxy_prefix="hdr", header_auth_name="hdr-usr",
                    header_auth_user="svc-valet", timeout=5)
    before = len(sense.requests())
    with QrsClient(s) as client:
        assert names(client.find_tasks([tag_term("startTask2")])) == ["Reload task of App3"]
        client.start_many([A3])
    logged = new_requests(sense, before)
    assert [e["listener"] for e in logged] == ["proxy", "proxy"]
    assert logged[0]["path"] == "/hdr/qrs/task/full" and logged[0]["headers"]["hdr-usr"] == "svc-valet"
    assert logged[0]["headers"]["X-Qlik-Xrfkey"] == logged[0]["query"]["xrfkey"]


def test_gets_are_retried_on_a_dropped_connection(sense, settings) -> None:
    sense.set_faults(rules=[{"action": "drop", "path": "task/full", "times": 1}])
    before = len(sense.requests())
    with QrsClient(settings) as client:
        assert names(client.find_tasks([tag_term("startTask2")])) == ["Reload task of App3"]
    assert [e["path"] for e in new_requests(sense, before)] == ["/qrs/task/full"] * 2
    sense.set_faults(rules=[{"action": "drop", "path": "task/full", "times": 1}])
    with QrsClient(replace(settings, get_retries=0)) as client, pytest.raises(QrsConnectionLost):
        client.find_tasks([tag_term("startTask2")])


def test_a_start_is_never_repeated_once_sent(sense, settings) -> None:
    sense.set_faults(rules=[{"action": "drop", "path": "start", "times": 1}])
    runs_before, before = len(sense.runs()), len(sense.requests())
    with QrsClient(settings) as client, pytest.raises(QrsConnectionLost) as err:
        client.start_many([TRICKY[3]["id"]])
    assert err.value.request_sent and err.value.http_status == 502
    assert len(starts(sense, before)) == 1 and len(sense.runs()) == runs_before
    sense.set_faults(rules=[{"action": "status", "status": 500, "path": "start", "times": 1}])
    before = len(sense.requests())
    with QrsClient(settings) as client, pytest.raises(QrsHttpError) as err:
        client.start(TRICKY[3]["id"])
    assert err.value.status == 500 and len(starts(sense, before)) == 1


def test_a_slow_repository_times_out_without_retrying(sense, settings) -> None:
    sense.set_faults(rules=[{"action": "slow", "ms": 3000}])
    before = len(sense.requests())
    t0 = time.perf_counter()
    with QrsClient(replace(settings, timeout=0.4)) as client, pytest.raises(QrsTimeout) as err:
        client.find_tasks([tag_term("startTask1")])
    assert time.perf_counter() - t0 < 2.5  # not waiting for the slow answer, nor retrying
    assert err.value.http_status == 504 and len(new_requests(sense, before)) == 1


def test_a_repository_that_is_down(sense, settings) -> None:
    sense.set_faults(refuse=True)
    t0 = time.perf_counter()
    with QrsClient(settings) as client:
        with pytest.raises(QrsUnreachable) as err:
            client.find_tasks([tag_term("startTask1")])
        with pytest.raises(QrsUnreachable) as start_err:
            client.start_many([A1])
    assert time.perf_counter() - t0 < 3
    assert err.value.http_status == 503 and not start_err.value.request_sent
    sense.clear_faults()
    with QrsClient(settings) as client:
        assert client.about()["schemaPath"] == "About"


def test_nothing_listening_at_all(settings) -> None:
    with QrsClient(replace(settings, port=free_port())) as client:
        with pytest.raises(QrsUnreachable) as err:
            client.about()
    assert "127.0.0.1" in err.value.message


def test_server_name_is_checked_when_rejecting_unauthorized(tmp_path) -> None:
    """A server certificate from the trusted CA but for another host name is refused."""
    import trustme

    certs = tmp_path / "certs"
    certs.mkdir()
    ca = trustme.CA()
    client, server = ca.issue_cert("client"), ca.issue_cert("other.example")
    ca.cert_pem.write_to_path(str(certs / "root.pem"))
    client.cert_chain_pems[0].write_to_path(str(certs / "client.pem"))
    client.private_key_pem.write_to_path(str(certs / "client_key.pem"))
    server.cert_chain_pems[0].write_to_path(str(certs / "server.pem"))
    server.private_key_pem.write_to_path(str(certs / "server_key.pem"))
    with SenseProcess(tmp_path) as other:
        s = QrsSettings("127.0.0.1", other.port, headers=USER, client_cert=str(certs / "client.pem"),
                        client_key=str(certs / "client_key.pem"), ca_cert=str(certs / "root.pem"),
                        reject_unauthorized=True)
        with QrsClient(s) as client, pytest.raises(QrsTlsError) as err:
            client.about()
        assert "name does not match" in err.value.message
        with QrsClient(replace(s, reject_unauthorized=False)) as client:
            assert client.about()["schemaPath"] == "About"


def test_latency_is_paid_once_per_request_on_one_connection(tmp_path) -> None:
    with SenseProcess(tmp_path, latency_ms=200) as slow:
        s = QrsSettings("127.0.0.1", slow.port, headers=USER, client_cert=str(slow.certs.client),
                        client_key=str(slow.certs.client_key), timeout=2)
        t0 = time.perf_counter()
        with QrsClient(s) as client:
            client.find_tasks([tag_term("startTask1")])
            client.start_many([A1, A2, A3])
        assert 0.4 <= time.perf_counter() - t0 < 3
        assert len({e["connection"] for e in slow.requests()}) == 1
        with QrsClient(replace(s, timeout=0.1)) as client, pytest.raises(QrsTimeout):
            client.about()
