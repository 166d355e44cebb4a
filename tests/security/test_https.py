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
import threading
from pathlib import Path

import pytest
import requests
import trustme
import yaml

from demo.processes import Valet, free_port
from security.tls_support import Certs, tls_config

MODES = {"waitress": 0, "gunicorn": 2}
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> Certs:
    return Certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module", params=list(MODES))
def server(request, certs, tmp_path_factory):
    root = tmp_path_factory.mktemp(request.param)
    valet = Valet(root, butler=tls_config(certs), workers=MODES[request.param], ca=str(certs.ca),
                  log=(root / "valet.log").open("w"))
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


def test_plain_http_on_the_https_port_is_not_served(server):
    with pytest.raises(requests.ConnectionError):
        requests.get(server.url.replace("https", "http") + "/v4/butlerping", timeout=10)


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


def test_https_starts_on_the_windows_like_path(certs, tmp_path):
    """tests/test_windows.py's simulation (POSIX-only APIs removed) with TLS on."""
    from test_windows import WINDOWS_LIKE

    (tmp_path / "sitecustomize.py").write_text(WINDOWS_LIKE)
    valet = Valet(tmp_path / "v", butler=tls_config(certs), ca=str(certs.ca),
                  env={"PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}"},
                  log=(tmp_path / "out.log").open("w"))
    valet.start()
    try:
        r = requests.post(f"{valet.url}/v4/keyvalues/win", json={"key": "k", "value": "v"},
                          verify=str(certs.ca), timeout=10)
        assert r.status_code == 201, r.text
    finally:
        assert valet.stop(signal.SIGINT) == 0
    text = (tmp_path / "out.log").read_text()
    assert "Valet listening on https://" in text and "Traceback" not in text
