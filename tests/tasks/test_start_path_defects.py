"""Three start-path defects, each with a test that fails without its fix: key-value items of a
start request are stored all or none (and a refused request is audited); header authentication
without its header name and user stops start-up; repository connection errors are classified by
exception type, whatever the operating system's wording."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import requests
import urllib3
import yaml
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError

from helpers import assert_error, log_once_written
from server import qrs
from tasks.start_support import A1, DISABLED, audit_rows, kv, qrs_config, start, tid

ROOT = Path(__file__).resolve().parents[2]


def test_a_too_large_second_item_stores_nothing_and_is_audited(open_valet, qlog) -> None:
    before = len(audit_rows(open_valet))
    body = [kv("first", "small", namespace="all-or-none"),
            kv("second", "x" * (1024 * 1024 + 1), namespace="all-or-none")]
    message = assert_error(start(open_valet, A1[0], body), 400)["message"]
    assert "larger than the limit" in message
    assert requests.get(f"{open_valet.url}/v4/keylist/all-or-none", timeout=5).json()["keys"] == []
    assert qlog.new() == []  # nothing asked of the repository
    rows = audit_rows(open_valet)
    assert len(rows) == before + 1
    assert "larger than the limit" in json.loads(rows[-1]["outcome"])["refused"]


def test_a_full_namespace_on_a_later_item_rolls_back_the_earlier_ones(start_valet, sense) -> None:
    valet = start_valet(butler={**qrs_config(sense), "keyValueStore": {"maxKeysPerNamespace": 2}})
    requests.post(f"{valet.url}/v4/keyvalues/full", json={"key": "old", "value": "1"}, timeout=5)
    body = [kv("fits", "a", namespace="full"), kv("over", "b", namespace="full")]
    assert_error(start(valet, A1[0], body), 409)
    keys = requests.get(f"{valet.url}/v4/keylist/full", timeout=5).json()["keys"]
    assert keys == [{"key": "old"}]
    assert "refused" in json.loads(audit_rows(valet)[-1]["outcome"])


def test_a_malformed_request_is_audited(open_valet, qlog) -> None:
    before = len(audit_rows(open_valet))
    assert_error(start(open_valet, "-", [{"type": "starttasktag", "payload": {}}]), 400)
    rows = audit_rows(open_valet)
    assert len(rows) == before + 1 and "payload.tag" in json.loads(rows[-1]["outcome"])["refused"]


def test_denied_and_failed_starts_are_logged_as_warnings(filtered_valet, qlog) -> None:
    start(filtered_valet, "-", [tid("8b4fe424-d90c-493f-a61d-0ce91cd485c9"), tid(DISABLED[0])])
    text = log_once_written(Path(filtered_valet.data_dir) / "valet.log", "8b4fe424")
    line = [ln for ln in text.splitlines() if "start-task from" in ln and "8b4fe424" in ln][-1]
    assert " WARNING valet.tasks: " in line


def test_header_authentication_without_its_header_stops_start_up(tmp_path, sense) -> None:
    config = qrs_config(sense, configQRS={"authentication": "header"})
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"Butler": config, "Valet": {"dataDir": str(tmp_path / "d")}}))
    r = subprocess.run([sys.executable, "-m", "server", "--config", str(cfg)], cwd=ROOT,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "Valet.qrs.headerAuthName" in r.stderr and "Valet.qrs.headerAuthUser" in r.stderr


# -- classifying connection errors ----------------------------------------------------------------
# Windows' wording cannot be produced on Linux, so these build the exceptions urllib3 raises
# around it (the one place this suite builds a fault instead of causing it).
SETTINGS = qrs.QrsSettings(host="sense.example")
WHERE = {"method": "GET", "path": "task/full"}


def _retries_exhausted(reason: Exception) -> MaxRetryError:
    return MaxRetryError(None, "/qrs/task/full", reason)


def test_a_refusal_worded_the_windows_way_is_unreachable() -> None:
    conn = urllib3.connection.HTTPSConnection("sense.example", 4242)
    refused = NewConnectionError(conn, "Failed to establish a new connection: [WinError 10061] No "
                                       "connection could be made because the target machine "
                                       "actively refused it")
    error = qrs._connection_error(_retries_exhausted(refused), SETTINGS, WHERE)
    assert isinstance(error, qrs.QrsUnreachable) and error.http_status == 503
    assert error.request_sent is False


def test_a_reset_worded_the_windows_way_is_a_lost_connection() -> None:
    reset = ProtocolError("Connection aborted.", ConnectionResetError(
        10054, "An existing connection was forcibly closed by the remote host"))
    error = qrs._connection_error(reset, SETTINGS, WHERE)
    assert isinstance(error, qrs.QrsConnectionLost) and error.request_sent is True


def test_text_that_merely_mentions_refused_is_not_taken_for_a_refusal() -> None:
    lost = ProtocolError("Connection aborted.", ConnectionResetError(104, "request refused by peer"))
    error = qrs._connection_error(lost, SETTINGS, WHERE)
    assert isinstance(error, qrs.QrsConnectionLost)
