"""One log line per request: method, path, status, milliseconds (never a body or header)."""
from __future__ import annotations

import logging
import time

log = logging.getLogger("valet.requests")


def log_request(method: str, path: str, status: int, started: float) -> None:
    """Log a finished request; `started` is its time.perf_counter() at arrival."""
    log.info("%s %s %d %.1fms", method, path, status, (time.perf_counter() - started) * 1000)
