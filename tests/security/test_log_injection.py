"""What a client sends never forges or corrupts a log line (issue 12): control characters in
logged values are escaped. Real Valet against the simulated repository; its real log file."""
from __future__ import annotations

import logging
import socket

import pytest
import requests

from demo.processes import Valet
from demo.sense.process import SenseProcess
from helpers import log_once_written
from server import log_safety
from tasks.start_support import qrs_config

FORGED = "2026-12-01 12:00:00 WARNING valet.tasks forged: every key deleted"


@pytest.fixture(scope="module")
def valet(tmp_path_factory):
    root = tmp_path_factory.mktemp("logs")
    with SenseProcess(root / "sense") as sense:
        server = Valet(root / "valet", qrs_config(sense), log=(root / "valet.log").open("w"))
        server.log_path = root / "valet.log"
        with server:
            yield server


def test_a_newline_in_a_start_body_cannot_forge_a_log_line(valet):
    body = [{"type": "keyvaluestore",
             "payload": {"namespace": f"ns\n{FORGED}\r", "key": "k\x1b[31m", "value": "v"}}]
    r = requests.put(f"{valet.url}/v4/reloadtask/-/start", json=body, timeout=10)
    assert r.status_code == 200, r.text
    log = log_once_written(valet.log_path, "forged: every key deleted")
    assert "forged: every key deleted" in log  # logged, but inside its own line
    assert not any(line.startswith(FORGED) for line in log.splitlines())
    assert "\x1b" not in log and "\r" not in log
    assert "ns\\n2026-12-01" in log


def test_raw_control_bytes_in_a_request_path_are_escaped_in_the_access_log(valet):
    with socket.create_connection(("127.0.0.1", valet.port), timeout=5) as s:
        s.sendall(b"GET /v4/keyvalues/bell\x07\x08?key=k HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        s.recv(65536)
    log = log_once_written(valet.log_path, "/v4/keyvalues/bell")
    assert "\x07" not in log and "\x08" not in log
    assert "/v4/keyvalues/bell\\x07\\x08" in log


@pytest.mark.parametrize("text, logged", [
    ("a\nb", "a\\nb"), ("tab\there", "tab\\there"), ("nul\x00", "nul\\x00"),
    ("del\x7f", "del\\x7f"), ("c1\x85", "c1\\x85"), ("ls\u2028", "ls\\u2028"),
    ("plain é 😀", "plain é 😀"),
])
def test_escaping_keeps_printable_text(text, logged, caplog):
    log_safety.install()
    logging.getLogger("valet.test").warning("value %s", text)
    assert caplog.records[-1].getMessage() == f"value {logged}"
