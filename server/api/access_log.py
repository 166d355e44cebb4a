"""One log line per request: method, path, status, milliseconds (never a body or header)."""
from __future__ import annotations

import logging
import time

log = logging.getLogger("valet.requests")


def log_request(method: str, path: str, status: int, started: float,
                key_name: str | None = None) -> None:
    """Log a finished request; `started` is its time.perf_counter() at arrival; `key_name`
    names the API key it came with (never the key)."""
    ms = (time.perf_counter() - started) * 1000
    if key_name is None:
        log.info("%s %s %d %.1fms", method, path, status, ms)
    else:
        log.info("%s %s %d %.1fms key=%s", method, path, status, ms, key_name)
