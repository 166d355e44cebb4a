"""The server as an admin runs it: start-up, configuration errors, request log, shutdown."""
from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import requests
import yaml

ROOT = Path(__file__).resolve().parents[2]


def run_server(*args: str, env: dict | None = None, timeout: float = 20) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "server", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, env=env)


def test_sigterm_stops_cleanly_and_requests_are_logged(start_valet, tmp_path):
    valet = start_valet()
    requests.get(valet.url + "/v4/butlerping")
    requests.get(valet.url + "/v4/keyvalues/ns", params={"key": "secret-key-name"})
    assert valet.stop(signal.SIGTERM) == 0
    log = (tmp_path / "valet0.log").read_text()
    assert "GET /v4/butlerping 200" in log
    assert "GET /v4/keyvalues/ns 400" in log
    assert "secret-key-name" not in log  # query strings (which may carry values) are not logged
    assert "Valet stopped" in log


def test_sigint_stops_cleanly(start_valet):
    valet = start_valet()
    assert valet.stop(signal.SIGINT) == 0


def test_wrong_config_value_stops_startup_naming_the_key(tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(yaml.safe_dump({"Butler": {"keyValueStore": {"maxKeysPerNamespace": "many"}}}))
    r = run_server("--config", str(cfg))
    assert r.returncode == 2
    assert "Butler.keyValueStore.maxKeysPerNamespace" in r.stderr and "'many'" in r.stderr


def test_wrong_environment_value_names_the_variable(tmp_path):
    r = run_server(env={"PATH": "/usr/bin:/bin", "VALET_PORT": "eighty", "VALET_DATA_DIR": str(tmp_path)})
    assert r.returncode == 2 and "VALET_PORT" in r.stderr


def test_missing_config_file_is_a_clear_error(tmp_path):
    r = run_server("--config", str(tmp_path / "nope.yaml"))
    assert r.returncode == 2 and "nope.yaml" in r.stderr


def test_command_line_port_wins_over_file(start_valet):
    valet = start_valet()
    # The fixture writes the port into the file; --port on the command line must win.
    from demo.processes import free_port, wait_until_ready
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "server", "--config", str(valet.config_path),
                             "--port", str(port)], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        assert wait_until_ready(f"http://127.0.0.1:{port}/health", proc=proc)
    finally:
        proc.terminate()
        proc.wait(10)


def test_unusable_start_task_settings_stop_startup_without_a_traceback(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"Butler": {
        "restServerEndpointsEnable": {"senseStartTask": True},
        "configQRS": {"host": "127.0.0.1"},
        "cert": {"clientCert": str(tmp_path / "missing.pem")}},
        "Valet": {"dataDir": str(tmp_path / "data")}}))
    r = run_server("--config", str(cfg))
    assert r.returncode == 2
    assert "configuration error" in r.stderr and "Traceback" not in r.stderr


def test_gunicorn_workers_log_cleanly(start_valet, tmp_path):
    valet = start_valet(workers=2)
    requests.get(valet.url + "/v4/butlerping")
    assert valet.stop(signal.SIGTERM) == 0
    log = (tmp_path / "valet0.log").read_text()
    assert log.count("Booting worker") == 2  # gunicorn's own lines, with their process id
    assert "GET /v4/butlerping 200" in log
    assert "Logging error" not in log and "Traceback" not in log
