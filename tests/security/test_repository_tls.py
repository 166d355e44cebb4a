"""Valet as a client of the Sense repository (issue 12): the repository's certificate is
verified against root.pem unless the admin opts out (with a warning), and an encrypted client
key (the QMC's export "with password") takes its passphrase from the configuration, never from
a terminal prompt. Real TLS with client certificates against the simulated repository."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import requests
import yaml
from cryptography.hazmat.primitives import serialization

from demo.processes import Valet
from demo.sense.certs import ensure_certs
from demo.sense.process import SenseProcess
from tasks.start_support import A1, qrs_config

ROOT = Path(__file__).resolve().parents[2]
PASSPHRASE = "pem-pass-3f9a1c7e"


@pytest.fixture(scope="module")
def sense(tmp_path_factory):
    with SenseProcess(tmp_path_factory.mktemp("sense")) as s:
        yield s


def _encrypted_key(sense: SenseProcess, folder: Path) -> Path:
    key = serialization.load_pem_private_key(sense.certs.client_key.read_bytes(), password=None)
    path = folder / "client_key_encrypted.pem"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.TraditionalOpenSSL,
                                       serialization.BestAvailableEncryption(PASSPHRASE.encode())))
    return path


def _butler(sense: SenseProcess, **cert) -> dict:
    config = qrs_config(sense)
    config["cert"].update(cert)
    return config


def _start_up(tmp_path: Path, butler: dict, valet: dict | None = None) -> subprocess.CompletedProcess:
    """Run `python -m server` to its end (it must exit at once), with no terminal to prompt on."""
    config = {"Butler": butler, "Valet": {"dataDir": str(tmp_path / "data"), **(valet or {})}}
    (tmp_path / "valet.yaml").write_text(yaml.safe_dump(config))
    return subprocess.run([sys.executable, "-m", "server", "--config", str(tmp_path / "valet.yaml")],
                          cwd=ROOT, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=30)


def _start_a1(valet: Valet) -> requests.Response:
    return requests.put(f"{valet.url}/v4/reloadtask/{A1[0]}/start", json=[], timeout=15)


def test_an_encrypted_key_works_with_its_passphrase_from_the_environment(sense, tmp_path, monkeypatch):
    monkeypatch.setenv("VALET_TEST_KEY_PASSPHRASE", PASSPHRASE)
    butler = _butler(sense, clientCertKey=str(_encrypted_key(sense, tmp_path)))
    with Valet(tmp_path / "v", butler, {"qrs": {"clientCertKeyPassphrase": {"env": "VALET_TEST_KEY_PASSPHRASE"}}}) as valet:
        r = _start_a1(valet)
        assert r.status_code == 200 and [t["taskId"] for t in r.json()["tasksId"]["started"]] == [A1[0]]
        assert requests.get(f"{valet.url}/health", timeout=5).status_code == 200


def test_an_encrypted_key_without_its_passphrase_stops_start_up_without_prompting(sense, tmp_path):
    r = _start_up(tmp_path, _butler(sense, clientCertKey=str(_encrypted_key(sense, tmp_path))))
    assert r.returncode == 2, r.stderr[-500:]
    assert "Valet.qrs.clientCertKeyPassphrase" in r.stderr and "pass phrase" not in r.stderr.lower()


def test_a_wrong_passphrase_stops_start_up_and_is_not_shown(sense, tmp_path):
    wrong = "not-the-passphrase-81c2"
    r = _start_up(tmp_path, _butler(sense, clientCertKey=str(_encrypted_key(sense, tmp_path))),
                  {"qrs": {"clientCertKeyPassphrase": wrong}})
    assert r.returncode == 2, r.stderr[-500:]
    assert "configuration error" in r.stderr and wrong not in r.stderr


def test_the_repository_certificate_is_verified_by_default(sense, tmp_path):
    other = ensure_certs(tmp_path / "other-ca")  # root.pem of another CA
    butler = _butler(sense, clientCertCA=str(other.root))
    del butler["configQRS"]["rejectUnauthorized"]  # the default
    before = len(sense.requests())
    with Valet(tmp_path / "v", butler) as valet:
        r = _start_a1(valet)
    assert r.status_code == 502 and "TLS" in r.json()["message"], r.text
    assert len(sense.requests()) == before  # no request (nor X-Qlik-User) reached it


def test_the_opt_out_is_warned_about(sense, tmp_path):
    butler = _butler(sense)
    butler["configQRS"]["rejectUnauthorized"] = False
    log = tmp_path / "valet.log"
    with Valet(tmp_path / "v", butler, log=log.open("w")) as valet:
        assert _start_a1(valet).status_code == 200  # still works, as Butler's sites expect
    assert "rejectUnauthorized is false" in log.read_text()
