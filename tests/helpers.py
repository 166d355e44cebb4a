"""Assertions shared by the server tests."""
from __future__ import annotations

import time
from pathlib import Path

import requests


def assert_error(r: requests.Response, status: int) -> dict:
    """The one JSON error shape: statusCode, error, and a message that says something."""
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["Content-Type"].startswith("application/json"), r.headers["Content-Type"]
    body = r.json()
    assert body["statusCode"] == status
    assert isinstance(body["error"], str) and body["error"]
    assert isinstance(body["message"], str) and len(body["message"]) > 10
    assert "Traceback" not in r.text and "<html" not in r.text.lower()
    return body


def log_once_written(path: Path, text: str, times: int = 1, timeout: float = 3.0) -> str:
    """The server log once it holds `text` `times` times (INFO lines are written in
    batches)."""
    end = time.monotonic() + timeout
    while True:
        log = path.read_text()
        if log.count(text) >= times or time.monotonic() > end:
            return log
        time.sleep(0.05)
