"""One log line per request: client address, method, path, status, milliseconds, and for a
4xx answer its reason with every quoted name or value left out (never a body, a query
string or a header, which may carry values)."""
from __future__ import annotations

import logging
import re
import time

log = logging.getLogger("valet.requests")
_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")


def reason_for_log(message: str) -> str:
    """An error message without the names and values it quotes (`key 'x' …` -> `key … …`)."""
    return _QUOTED.sub("…", message)[:200]


def log_request(method: str, path: str, status: int, started: float, client: str | None = None,
                error: str | None = None, key_name: str | None = None) -> None:
    """Log a finished request; `started` is its time.perf_counter() at arrival, `error` the
    message of its 4xx/5xx answer, `key_name` the name of its API key (never the key)."""
    ms = (time.perf_counter() - started) * 1000
    key = f" key={key_name}" if key_name else ""
    if error is not None and 400 <= status < 500:
        log.info("%s %s %s %d %.1fms%s: %s", client or "-", method, path, status, ms, key,
                 reason_for_log(error))
    else:
        log.log(logging.WARNING if status >= 500 else logging.INFO, "%s %s %s %d %.1fms%s",
                client or "-", method, path, status, ms, key)
