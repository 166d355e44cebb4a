"""Bad input as an attacker or a careless client sends it (issue 12's measured defects): each
answered with a clear JSON error, and nothing stored changes. Against real Valet processes,
waitress and gunicorn."""
from __future__ import annotations

import http.client
import json
import socket

import pytest
import requests

from helpers import assert_error

MODES = {"waitress": 0, "gunicorn": 2}


@pytest.fixture(scope="module", params=list(MODES))
def server(request, tmp_path_factory):
    from demo.processes import Valet

    root = tmp_path_factory.mktemp(request.param)
    valet = Valet(root, workers=MODES[request.param], log=(root / "valet.log").open("w"))
    yield valet.start()
    valet.stop()


def _stored(server, ns: str, key: str) -> requests.Response:
    return requests.get(f"{server.url}/v4/keyvalues/{ns}", params={"key": key}, timeout=5)


def test_a_body_nested_1000_deep_is_a_400_not_a_500(server):
    body = "[" * 1000 + "]" * 1000  # 2 KB
    r = requests.post(f"{server.url}/v4/keyvalues/deep", data=body,
                      headers={"Content-Type": "application/json"}, timeout=5)
    assert "nested" in assert_error(r, 400)["message"]
    r = requests.post(f"{server.url}/v4/keyvalues/deep", timeout=5,
                      data='{"key": "k", "value": ' + body + "}",
                      headers={"Content-Type": "application/json"})
    assert_error(r, 400)
    assert_error(_stored(server, "deep", "k"), 400)  # nothing stored


def test_an_over_limit_chunked_body_is_refused_not_cut_short(server):
    # 3 MiB, over the default 2 MiB requestBodyBytes, sent chunked (no Content-Length).
    head = b'{"key": "chunked", "value": "'

    def chunks():
        yield head
        for _ in range(3 * 1024):
            yield b"x" * 1024
        yield b'"}'

    r = requests.post(f"{server.url}/v4/keyvalues/big", data=chunks(), timeout=30,
                      headers={"Content-Type": "application/json"})
    assert "limit" in assert_error(r, 413)["message"]
    assert_error(_stored(server, "big", "chunked"), 400)


def test_a_chunked_body_within_the_limit_is_stored(server):
    def chunks():
        yield b'{"key": "small", '
        yield b'"value": "v"}'

    r = requests.post(f"{server.url}/v4/keyvalues/chunked", data=chunks(), timeout=5,
                      headers={"Content-Type": "application/json"})
    assert r.status_code == 201, r.text
    assert _stored(server, "chunked", "small").json()["value"] == "v"


@pytest.mark.parametrize("method, headers", [("PATCH", {}), ("POST", {"X-HTTP-Method-Override": "PATCH"})])
def test_405_says_which_methods_are_allowed(server, method, headers):
    r = requests.request(method, f"{server.url}/v4/keyvalues/ns", headers=headers, timeout=5)
    assert_error(r, 405)
    # RFC 9110 §15.5.6: a 405 MUST carry Allow with the target's methods.
    assert {"GET", "POST", "DELETE"} <= {m.strip() for m in r.headers["Allow"].split(",")}


@pytest.mark.parametrize("path", ["//v4/keyvalues/ns?key=k", "/v4//keyvalues/ns?key=k",
                                  "/v4/keyvalues//ns?key=k"])
def test_a_double_slash_is_never_a_redirect_to_the_host_header(server, path):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request("GET", path, headers={"Host": "localhost"})  # allowed: not refused before routing
    r = conn.getresponse()
    body = r.read()
    conn.close()
    assert r.status in (400, 404) and r.getheader("Location") is None
    assert r.getheader("Content-Type").startswith("application/json")
    assert json.loads(body)["statusCode"] == r.status


def test_a_key_at_the_documented_limits_can_be_stored_and_read(server):
    # 1,024 four-byte characters: a 12 KB percent-encoded query, over gunicorn's default 8 KB line.
    key = "😀" * 1024
    r = requests.post(f"{server.url}/v4/keyvalues/long", json={"key": key, "value": "v"}, timeout=5)
    assert r.status_code == 201, r.text
    r = _stored(server, "long", key)
    assert r.status_code == 200 and r.json()["value"] == "v", r.text[:200]
    r = requests.delete(f"{server.url}/v4/keyvalues/long/{requests.utils.quote(key, safe='')}", timeout=5)
    assert r.status_code == 204, r.text[:200]


def _raw_answer(server, request: bytes) -> tuple[int, bytes, dict]:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(request)
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), head.lower(), json.loads(body)


@pytest.mark.parametrize("size", [9_000, 263_000])
def test_headers_over_the_server_s_cap_are_answered_in_json(server, size):
    """Gunicorn refuses a header line over 8 KB (431), waitress a header block over 256 KB,
    each before Valet sees the request: both answer in the JSON shape."""
    status, head, body = _raw_answer(server, b"GET /v4/keyvaluesnamespaces HTTP/1.1\r\nHost: localhost\r\n"
                                     b"X-Big: " + b"a" * size + b"\r\nConnection: close\r\n\r\n")
    if size < 100_000 and not server.workers:
        assert status == 200  # within waitress's cap
        return
    assert status == 431 and b"application/json" in head
    assert body["statusCode"] == 431 and "header" in body["message"].lower()


def test_a_malformed_request_line_is_answered_in_json(server):
    status, head, body = _raw_answer(server, b"GET /v4/butlerping HTTP/9\r\nHost: localhost\r\n\r\n")
    assert 400 <= status < 600 and b"application/json" in head
    assert body["statusCode"] == status and body["message"]
