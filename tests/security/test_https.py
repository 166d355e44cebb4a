"""HTTPS on Valet's own listener from Butler's keys (`Butler.restServerConfig.tls.enable /
cert / key / ca`, Butler 16's docs/to-doc-site/rest-api-https-support.md), against real Valet
processes in both server modes, with certificates made by trustme."""
from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
import requests
import trustme
import yaml

from demo.processes import Valet, free_port
from helpers import assert_error
from security.tls_support import Certs, tls_config

MODES = {"waitress": 0, "gunicorn": 2}
HEADER_TIMEOUT = 3.0
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> Certs:
    return Certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module", params=list(MODES))
def server(request, certs, tmp_path_factory):
    root = tmp_path_factory.mktemp(request.param)
    valet = Valet(root, butler=tls_config(certs), workers=MODES[request.param], ca=str(certs.ca),
                  log=(root / "valet.log").open("w"),
                  valet={"limits": {"headerTimeoutSeconds": HEADER_TIMEOUT}})
    yield valet.start()
    valet.stop()


def test_a_client_that_verifies_the_certificate_reads_and_writes(server, certs):
    r = requests.post(f"{server.url}/v4/keyvalues/tls", json={"key": "k", "value": "v"},
                      verify=str(certs.ca), timeout=10)
    assert r.status_code == 201, r.text
    r = requests.get(f"{server.url}/v4/keyvalues/tls", params={"key": "k"}, verify=str(certs.ca),
                     timeout=10)
    assert r.json()["value"] == "v"
    with requests.Session() as session:  # kept-alive connections over TLS
        for _ in range(5):
            assert session.get(f"{server.url}/v4/butlerping", verify=str(certs.ca),
                               timeout=10).status_code == 200


def test_a_page_of_valet_s_own_https_origin_is_not_refused_as_cross_site(server, certs):
    # The gate compares Origin with scheme://Host: the scheme must be https here.
    r = requests.post(f"{server.url}/v4/keyvalues/tls", json={"key": "o", "value": "v"},
                      headers={"Origin": server.url}, verify=str(certs.ca), timeout=10)
    assert r.status_code == 201, r.text


def test_a_client_that_does_not_trust_the_certificate_fails(server):
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{server.url}/v4/butlerping", timeout=10)  # the system's CAs only


PLAIN_HTTP = "plain HTTP request sent to Valet's HTTPS port"


def test_plain_http_on_the_https_port_gets_a_json_400_saying_use_https(server, certs):
    # As nginx answers it (400 "The plain HTTP request was sent to HTTPS port"), in Valet's
    # error shape; the connection is closed after the answer.
    http_url = server.url.replace("https://", "http://")
    r = requests.get(http_url + "/v4/butlerping", timeout=10)
    assert assert_error(r, 400)["message"].startswith(PLAIN_HTTP)
    assert "use https://" in r.json()["message"] and r.headers["Connection"] == "close"
    r = requests.post(http_url + "/v4/keyvalues/plain", json={"key": "k", "value": "v"}, timeout=10)
    assert assert_error(r, 400)["message"].startswith(PLAIN_HTTP)
    namespaces = requests.get(f"{server.url}/v4/keyvaluesnamespaces", verify=str(certs.ca), timeout=10)
    assert "plain" not in namespaces.json()  # nothing was stored
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(b"GET /v4/butlerping HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        seconds, answer = _closed_after(s)
    assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n") and seconds < 2, (seconds, answer)


def _closed_after(s: socket.socket, drip: bytes = b"") -> tuple[float, bytes]:
    """Seconds until Valet closes `s`, and what it sent; meanwhile `drip` is sent a byte
    every half second."""
    started = time.monotonic()
    answer = b""
    s.settimeout(0.5)
    for i in range(int((HEADER_TIMEOUT + 5) / 0.5)):
        try:
            if i < len(drip):
                s.send(drip[i:i + 1])
            chunk = s.recv(4096)
        except socket.timeout:
            continue
        except ConnectionError:
            chunk = b""
        if not chunk:
            return time.monotonic() - started, answer
        answer += chunk
    pytest.fail(f"still open {HEADER_TIMEOUT + 5} s after connecting; got {answer!r}")


def test_a_client_that_sends_nothing_is_closed_at_the_header_timeout(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        seconds, answer = _closed_after(s)
    assert answer == b"" and HEADER_TIMEOUT - 0.5 < seconds < HEADER_TIMEOUT + 2, (seconds, answer)


def test_a_slow_plain_http_head_is_closed_at_the_header_timeout(server):
    head = b"GET /v4/butlerping HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 100
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        seconds, answer = _closed_after(s, drip=head)
    assert answer == b"" and HEADER_TIMEOUT - 0.5 < seconds < HEADER_TIMEOUT + 2, (seconds, answer)


def _old_protocol_client(certs: Certs) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(str(certs.ca))
    context.set_ciphers("DEFAULT:@SECLEVEL=0")  # let this OpenSSL offer TLS 1.0 and 1.1 at all
    context.minimum_version = ssl.TLSVersion.TLSv1
    context.maximum_version = ssl.TLSVersion.TLSv1_1
    return context


def _handshake(context: ssl.SSLContext, port: int) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname="127.0.0.1") as s:
            return s.version()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_a_client_offering_only_tls_1_0_or_1_1_is_refused(server, certs):
    # The same client completes a TLS 1.1 handshake with a server that allows it, so the
    # refusal below is Valet's, not this client's.
    permissive = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    permissive.set_ciphers("DEFAULT:@SECLEVEL=0")
    permissive.minimum_version = ssl.TLSVersion.TLSv1
    permissive.load_cert_chain(str(certs.chain), str(certs.key))
    with socket.create_server(("127.0.0.1", 0)) as listener:
        def accept_one():
            conn, _ = listener.accept()
            with permissive.wrap_socket(conn, server_side=True):
                pass

        thread = threading.Thread(target=accept_one)
        thread.start()
        assert _handshake(_old_protocol_client(certs), listener.getsockname()[1]) == "TLSv1.1"
        thread.join(5)
    with pytest.raises(ssl.SSLError):  # an alert, or (asyncio's TLS) the connection closed
        _handshake(_old_protocol_client(certs), server.port)


def test_tls_1_2_is_accepted(server, certs):
    context = ssl.create_default_context(cafile=str(certs.ca))
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    assert _handshake(context, server.port) == "TLSv1.2"


@pytest.mark.parametrize("mode", list(MODES))
def test_ca_completes_the_chain_sent_to_clients(mode, certs, tmp_path):
    """Butler's `tls.ca`: a CA / intermediate bundle. A certificate file without its
    intermediate is not trusted by clients that know only the root, unless `ca` supplies it."""
    valet = Valet(tmp_path, butler=tls_config(certs, cert=certs.cert, ca=str(certs.intermediate)),
                  workers=MODES[mode], ca=str(certs.ca))
    with valet:
        assert requests.get(f"{valet.url}/v4/butlerping", verify=str(certs.ca),
                            timeout=10).status_code == 200
    alone = Valet(tmp_path / "alone", butler=tls_config(certs, cert=certs.cert), workers=MODES[mode],
                  ca=str(certs.ca))
    alone.verify = False  # its chain is incomplete: wait for it without checking
    with alone:
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(f"{alone.url}/v4/butlerping", verify=str(certs.ca), timeout=10)


def _run(tmp_path: Path, tls: dict, workers: int = 0, valet: dict | None = None) -> tuple[int, str]:
    cfg = tmp_path / "valet.yaml"
    cfg.write_text(yaml.safe_dump({"Butler": {"restServerConfig": {
        "serverHost": "127.0.0.1", "serverPort": free_port(), "tls": tls}},
        "Valet": {"dataDir": str(tmp_path / "data"), **(valet or {})}}))
    args = [sys.executable, "-m", "server", "--config", str(cfg)]
    if workers:
        args += ["--workers", str(workers)]
    r = subprocess.run(args, capture_output=True, text=True, timeout=60, cwd=ROOT)
    return r.returncode, r.stderr


def _refused(tmp_path: Path, tls: dict, key: str, workers: int = 0, valet: dict | None = None) -> str:
    code, err = _run(tmp_path, tls, workers, valet)
    line = err.strip().splitlines()[-1]
    assert code == 2 and "Traceback" not in err, err
    assert line.startswith("valet: configuration error: ") and key in line, line
    return line


T = "Butler.restServerConfig.tls."


def test_missing_or_wrong_files_stop_start_up_naming_the_key(certs, tmp_path):
    _refused(tmp_path, {"enable": True, "key": str(certs.key)}, T + "cert is not set")
    _refused(tmp_path, {"enable": True, "cert": str(tmp_path / "none.pem"), "key": str(certs.key)},
             T + "cert: cannot read")
    _refused(tmp_path, {"enable": True, "cert": str(certs.cert), "key": str(tmp_path / "none.pem")},
             T + "key: cannot read")
    other = trustme.CA().issue_cert("127.0.0.1")
    other.private_key_pem.write_to_path(str(tmp_path / "other_key.pem"))
    _refused(tmp_path, {"enable": True, "cert": str(certs.cert), "key": str(tmp_path / "other_key.pem")},
             T + "key")
    (tmp_path / "not.pem").write_text("not a certificate")
    _refused(tmp_path, {"enable": True, "cert": str(certs.cert), "key": str(certs.key),
                        "ca": str(tmp_path / "not.pem")}, T + "ca")


def test_gunicorn_mode_checks_the_files_before_forking(tmp_path, certs):
    _refused(tmp_path, {"enable": True, "cert": str(tmp_path / "none.pem"), "key": str(certs.key)},
             T + "cert: cannot read", workers=2)


def test_an_encrypted_key_needs_its_passphrase_and_is_never_prompted_for(certs, tmp_path):
    key = certs.encrypted_key(tmp_path, b"s3cret-pass")
    tls = {"enable": True, "cert": str(certs.chain), "key": str(key)}
    line = _refused(tmp_path, tls, "Valet.tls.keyPassphrase")  # stdin is not a terminal: no prompt
    assert "encrypted" in line
    line = _refused(tmp_path, tls, "Valet.tls.keyPassphrase", valet={"tls": {"keyPassphrase": "wrong"}})
    assert "wrong" not in line  # the passphrase is never echoed
    (tmp_path / "pass.txt").write_text("s3cret-pass\n")
    valet = Valet(tmp_path / "ok", butler={"restServerConfig": {"tls": tls}}, ca=str(certs.ca),
                  valet={"tls": {"keyPassphrase": {"file": str(tmp_path / "pass.txt")}}},
                  log=(tmp_path / "ok.log").open("w"))
    with valet:
        assert requests.get(f"{valet.url}/v4/butlerping", verify=str(certs.ca), timeout=10).ok
    assert "s3cret-pass" not in (tmp_path / "ok.log").read_text()


# Windows' default asyncio loop is the proactor, which has no add_reader/add_writer (and its
# selector loop uses select()): the TLS relay is run on such a loop, made here from the
# selector loop since Linux has no proactor.
PROACTOR_LIKE = textwrap.dedent("""
    import asyncio, selectors, sys

    class ProactorLikeLoop(asyncio.SelectorEventLoop):
        def __init__(self):
            super().__init__(selectors.SelectSelector())
            print("proactor-like loop made", file=sys.stderr, flush=True)

        def add_reader(self, *args):
            raise NotImplementedError("not on the proactor loop")

        add_writer = remove_reader = remove_writer = add_reader

    class Policy(asyncio.DefaultEventLoopPolicy):
        def new_event_loop(self):
            return ProactorLikeLoop()

    asyncio.set_event_loop_policy(Policy())
""")


def test_https_starts_on_the_windows_like_path(certs, tmp_path):
    """tests/test_windows.py's simulation (POSIX-only APIs removed) with TLS on, the relay
    on a loop that has what the proactor loop has."""
    from test_windows import WINDOWS_LIKE

    (tmp_path / "sitecustomize.py").write_text(WINDOWS_LIKE + PROACTOR_LIKE)
    valet = Valet(tmp_path / "v", butler=tls_config(certs), ca=str(certs.ca),
                  env={"PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}"},
                  log=(tmp_path / "out.log").open("w"))
    valet.start()
    try:
        with requests.Session() as session:  # kept alive over the relay
            for n in range(3):
                r = session.post(f"{valet.url}/v4/keyvalues/win", json={"key": f"k{n}", "value": "v" * 100_000},
                                 verify=str(certs.ca), timeout=10)
                assert r.status_code == 201, r.text
            r = session.get(f"{valet.url}/v4/keyvalues/win", params={"key": "k2"}, verify=str(certs.ca), timeout=10)
            assert r.json()["value"] == "v" * 100_000
        r = requests.get(valet.url.replace("https://", "http://") + "/v4/butlerping", timeout=10)
        assert assert_error(r, 400)["message"].startswith(PLAIN_HTTP)
    finally:
        assert valet.stop(signal.SIGINT) == 0
    text = (tmp_path / "out.log").read_text()
    assert "Valet listening on https://" in text and "Traceback" not in text
    assert "proactor-like loop made" in text
