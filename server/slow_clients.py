"""Slow or idle connections must not exhaust the listener (slowloris): a client may hold at
most `Valet.limits.connectionsPerClient` connections at once, and a connection must deliver a
complete request head (request line and headers) within `Valet.limits.headerTimeoutSeconds`
of being opened or of its previous answer, else it is closed. What was closed or refused is
logged at most once per interval, with counts, never once per connection.

Waitress reads requests in its event loop, so slow clients cost no thread there, only a
connection slot (`Valet.limits.connections`); the limits above keep one client from taking
them all. The gunicorn worker (server/gunicorn_worker.py) applies the same limits.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass

from server.config import Config

log = logging.getLogger("valet.connections")
LOG_INTERVAL = 60.0
HEAD_END = b"\r\n\r\n"
MAX_HEAD = 64 * 1024  # read no further: gunicorn refuses a longer head (431)


def head_complete(head: bytes) -> bool:
    """Whether what a connection sent holds its whole request head (or more than any allowed)."""
    return HEAD_END in head or len(head) > MAX_HEAD


@dataclass(frozen=True)
class ConnectionLimits:
    connections: int
    per_client: int  # 0: no per-client cap
    header_timeout: float

    @classmethod
    def from_config(cls, config: Config) -> "ConnectionLimits":
        return cls(config["Valet.limits.connections"], config["Valet.limits.connectionsPerClient"],
                   config["Valet.limits.headerTimeoutSeconds"])

    def over_cap(self, open_from_client: int) -> bool:
        """Whether a new connection from a client already holding this many is refused."""
        return bool(self.per_client) and open_from_client >= self.per_client


class ThrottledReport:
    """Counts closed and refused connections; logs one WARNING per interval at most."""

    def __init__(self, limits: ConnectionLimits, interval: float = LOG_INTERVAL) -> None:
        self.limits = limits
        self.interval = interval
        self.lock = threading.Lock()
        self.refused: Counter[str] = Counter()
        self.timed_out: Counter[str] = Counter()
        self.last = float("-inf")

    def refused_one(self, client: str) -> None:
        self._note(self.refused, client)

    def timed_out_one(self, client: str) -> None:
        self._note(self.timed_out, client)

    def _note(self, counter: Counter[str], client: str) -> None:
        with self.lock:
            counter[client] += 1
            now = time.monotonic()
            if now - self.last < self.interval:
                return
            self.last = now
            refused, timed_out = self.refused, self.timed_out
            self.refused, self.timed_out = Counter(), Counter()
        log.warning("slow-client protection: %s", self._describe(refused, timed_out))

    def _describe(self, refused: Counter[str], timed_out: Counter[str]) -> str:
        parts = []
        if timed_out:
            parts.append(f"closed {sum(timed_out.values())} connection(s) that sent no complete "
                         f"request head within {self.limits.header_timeout:g} s "
                         f"(Valet.limits.headerTimeoutSeconds), from {_top(timed_out)}")
        if refused:
            parts.append(f"refused {sum(refused.values())} connection(s) from clients already "
                         f"holding {self.limits.per_client} (Valet.limits.connectionsPerClient), "
                         f"from {_top(refused)}")
        return "; ".join(parts) + f" (reported at most once per {self.interval:g} s)"


def _top(counter: Counter[str]) -> str:
    return ", ".join(f"{client} ({n})" for client, n in counter.most_common(5))


class HeadDeadline:
    """When the connection started waiting for a request head; `expired` once it waited
    longer than the limit. `waiting(False)` while a request is read past its head or served."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.since: float | None = time.monotonic()

    def waiting(self, is_waiting: bool) -> None:
        if not is_waiting:
            self.since = None
        elif self.since is None:
            self.since = time.monotonic()

    def expired(self) -> bool:
        return self.since is not None and time.monotonic() - self.since > self.timeout
