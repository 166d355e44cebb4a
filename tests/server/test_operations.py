"""Operations as an admin meets them: Butler's production config taken as it is, bind failures,
the start-up report, log level, log files, --version, /health, endpointsenabled, 404s that say
what is wrong, request lines with the client address and the reason of a 4xx."""
from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import yaml

from demo.processes import Valet, free_port, wait_until_ready
from helpers import assert_error, log_once_written

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "tests" / "fixtures" / "butler-production-template.yaml"


def run_server(*args: str, cwd: Path = ROOT, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "server", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=30, env=env or {"PATH": "/usr/bin:/bin"})


def template(**changes: dict) -> dict:
    """Butler's production template, with some sections' keys changed."""
    tree = yaml.safe_load(TEMPLATE.read_text(encoding="utf-8"))
    for section, values in changes.items():
        tree["Butler"][section] = {**tree["Butler"][section], **values}
    return tree


def write(tmp_path: Path, tree: dict, name: str = "production.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(tree, allow_unicode=True), encoding="utf-8")
    return path


def one_clear_line(r: subprocess.CompletedProcess, key: str) -> str:
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr
    errors = [line for line in r.stderr.splitlines() if "configuration error" in line]
    assert len(errors) == 1 and key in errors[0], r.stderr
    return errors[0]


# -- Butler's file as it is ---------------------------------------------------------------------
def test_butlers_template_unchanged_stops_with_one_line_naming_the_key(tmp_path):
    # The template switches the REST server off (restServerConfig.enable: false).
    copy = tmp_path / "production.yaml"
    copy.write_bytes(TEMPLATE.read_bytes())  # unchanged, in a folder of its own (its log folder)
    r = run_server("--config", str(copy), cwd=tmp_path)
    one_clear_line(r, "Butler.restServerConfig.enable")


def test_the_templates_placeholder_host_stops_start_up_naming_serverHost(tmp_path):
    cfg = write(tmp_path, template(restServerConfig={"enable": True}))
    one_clear_line(run_server("--config", str(cfg)), "Butler.restServerConfig.serverHost")


def test_an_address_not_of_this_machine_names_serverHost(tmp_path):
    cfg = write(tmp_path, template(restServerConfig={"enable": True, "serverHost": "10.11.12.13",
                                                     "serverPort": free_port()}))
    line = one_clear_line(run_server("--config", str(cfg)), "Butler.restServerConfig.serverHost")
    assert "10.11.12.13" in line


@pytest.mark.parametrize("workers", ["0", "2"], ids=["waitress", "gunicorn"])
def test_a_port_in_use_names_serverPort(tmp_path, workers):
    with socket.socket() as busy:  # as Butler still running on the port during a migration
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        cfg = write(tmp_path, template(restServerConfig={"enable": True, "serverHost": "127.0.0.1",
                                                         "serverPort": port}))
        r = run_server("--config", str(cfg), "--workers", workers)
    line = one_clear_line(r, "Butler.restServerConfig.serverPort")
    assert "already in use" in line


@pytest.fixture
def served_template(tmp_path):
    port = free_port()
    switched_on = {"heartbeat": {"enable": True}, "scheduler": {"enable": True},
                   "influxDb": {"enable": True},
                   "restServerConfig": {"enable": True, "serverHost": "127.0.0.1", "serverPort": port},
                   "restServerEndpointsEnable": {"keyValueStore": True, "butlerping": True,
                                                 "fileCopy": True, "apiListEnbledEndpoints": True},
                   "keyValueStore": {"enable": True}}
    folder = tmp_path / "butler" / "config"
    folder.mkdir(parents=True)
    cfg = write(folder, template(**switched_on))
    log = tmp_path / "stderr.log"
    # A service's working directory is not the config's folder (C:\Windows\System32).
    work = tmp_path / "elsewhere"
    work.mkdir()
    proc = subprocess.Popen([sys.executable, "-m", "server", "--config", str(cfg)], cwd=work,
                            stdout=log.open("w"), stderr=subprocess.STDOUT,
                            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})
    url = f"http://127.0.0.1:{port}"
    try:
        assert wait_until_ready(url + "/health", proc=proc), log.read_text()
        yield url, folder, log, work
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(15)


def test_each_switched_on_butler_feature_gets_its_own_warning(served_template):
    _url, _folder, log, _work = served_template
    text = log_once_written(log, "config:")
    warnings = [line for line in text.splitlines() if " WARNING " in line]
    for key in ("Butler.heartbeat.enable", "Butler.scheduler.enable", "Butler.influxDb.enable",
                "Butler.restServerEndpointsEnable.fileCopy"):
        assert sum(key in line for line in warnings) == 1, (key, warnings)


def test_ignored_keys_are_reported_once_by_section(served_template):
    _url, _folder, log, _work = served_template
    lines = [line for line in log_once_written(log, "by section").splitlines() if "by section" in line]
    assert len(lines) == 1
    assert "emailNotification (18)" in lines[0] and "influxDb (" in lines[0]
    assert "smtp" not in lines[0]  # sections, not every key


def test_the_start_up_summary_says_what_is_served(served_template):
    _url, _folder, log, _work = served_template
    text = log_once_written(log, "listening on")
    assert "endpoints enabled: apiListEnabledEndpoints, butlerping, keyValueStore" in text
    assert "start filter off" in text and "1000 keys per namespace" in text
    assert re.search(r"listening on http://127\.0\.0\.1:\d+", text)


def test_log_and_data_folders_resolve_against_the_config_files_folder(served_template):
    url, folder, _log, work = served_template
    requests.post(f"{url}/v4/keyvalues/ops", json={"key": "k", "value": "v"}, timeout=5)
    assert log_once_written(folder / "log" / "valet.log", "POST /v4/keyvalues/ops 201")
    assert (folder / "data" / "valet.sqlite3").exists()
    assert not (work / "data").exists() and not (work / "log").exists()


def test_endpointsenabled_lists_the_enabled_endpoints_as_butler_names_them(served_template):
    url = served_template[0]
    r = requests.get(f"{url}/v4/configfile/endpointsenabled", timeout=5)
    assert r.status_code == 200
    # Butler lists the names of the true flags of restServerEndpointsEnable; Valet the ones it
    # serves (fileCopy is on in the file but not implemented).
    assert r.json() == ["apiListEnabledEndpoints", "butlerping", "keyValueStore"]


def test_a_butler_endpoint_valet_lacks_answers_404_saying_so(served_template):
    url = served_template[0]
    for method, path in (("PUT", "/v4/mqttpublishmessage"), ("PUT", "/v4/filecopy"),
                         ("GET", "/v4/schedules")):
        message = assert_error(requests.request(method, url + path, json={}, timeout=5), 404)["message"]
        assert "does not implement" in message and "configuration" not in message


# -- settings switched off -----------------------------------------------------------------------
def test_a_disabled_endpoint_answers_404_naming_the_key(start_valet):
    valet = start_valet(butler={"restServerEndpointsEnable": {"keyValueStore": False}})
    message = assert_error(requests.get(f"{valet.url}/v4/keylist/ns", timeout=5), 404)["message"]
    assert "Butler.restServerEndpointsEnable.keyValueStore" in message


def test_unknown_paths_point_at_the_api_document(valet):
    message = assert_error(requests.get(f"{valet.url}/v4/nothing-here", timeout=5), 404)["message"]
    assert "/openapi.json" in message and "disabled" not in message


# -- logs -----------------------------------------------------------------------------------------
def _log_of(tmp_path: Path, index: int = 0) -> Path:
    return tmp_path / f"valet{index}.log"


def test_request_lines_carry_the_client_and_a_4xx_reason_without_values(start_valet, tmp_path):
    valet = start_valet()
    requests.get(f"{valet.url}/v4/keyvalues/ns", params={"key": "secret-key-name"}, timeout=5)
    requests.post(f"{valet.url}/v4/keyvalues/ns", json={"key": "k", "value": "secret-value",
                                                      "ttl": "soon"}, timeout=5)
    text = log_once_written(_log_of(tmp_path), "POST /v4/keyvalues/ns 400")
    line = next(x for x in text.splitlines() if "GET /v4/keyvalues/ns 400" in x)
    assert "127.0.0.1 GET /v4/keyvalues/ns 400" in line and "does not exist" in line
    post = next(x for x in text.splitlines() if "POST /v4/keyvalues/ns 400" in x)
    assert "ttl" in post
    assert "secret-key-name" not in text and "secret-value" not in text and "soon" not in text
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ", line)


def test_behind_a_trusted_proxy_the_forwarded_client_is_logged(start_valet, tmp_path):
    valet = start_valet(valet={"trustedProxies": 1})
    requests.get(f"{valet.url}/v4/butlerping", headers={"X-Forwarded-For": "10.1.2.3"}, timeout=5)
    assert "10.1.2.3 GET /v4/butlerping 200" in log_once_written(_log_of(tmp_path), "10.1.2.3")


def test_without_proxyfix_a_forwarded_header_is_not_believed(start_valet, tmp_path):
    valet = start_valet()
    requests.get(f"{valet.url}/v4/butlerping", headers={"X-Forwarded-For": "10.1.2.3"}, timeout=5)
    text = log_once_written(_log_of(tmp_path), "/v4/butlerping 200")
    assert "127.0.0.1 GET /v4/butlerping 200" in text and "10.1.2.3" not in text


@pytest.mark.parametrize("how", ["file", "env", "cli"])
def test_the_log_level_is_honoured(tmp_path, how):
    server = Valet(tmp_path, butler={"logLevel": "warn"} if how == "file" else None,
                   log=(tmp_path / "out.log").open("w"),
                   env={"VALET_LOG_LEVEL": "warn"} if how == "env" else None,
                   args=["--log-level", "warn"] if how == "cli" else ())
    server.start()
    requests.get(server.url + "/v4/butlerping", timeout=5)
    assert server.stop() == 0
    text = (tmp_path / "out.log").read_text()
    assert "GET /v4/butlerping" not in text and " INFO " not in text


def test_a_wrong_log_level_names_the_key(tmp_path):
    cfg = write(tmp_path, {"Butler": {"logLevel": "loud"}})
    one_clear_line(run_server("--config", str(cfg)), "Butler.logLevel")


def test_version():
    r = run_server("--version")
    assert r.returncode == 0 and re.fullmatch(r"Valet \d+\.\d+\.\d+\n", r.stdout)
