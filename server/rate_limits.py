"""Per-client and per-key rate limits (Butler's `--api-rate-limit` counterpart), off by default.

Counted with the `limits` library (the one behind Flask-Limiter, used directly so that the gate
covers the fast path too) in a moving window held in memory: each process counts its own
requests, so with gunicorn's N workers a client may get up to N times the limit.
"""
from __future__ import annotations

import math
import time
from typing import Any

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter


def parse_rate(v: Any) -> RateLimitItem | None:
    """A rate as `N` (per minute) or the `limits` notation (`10/second`, `500 per hour`)."""
    if v is None or v == "" or v == 0:
        return None
    if isinstance(v, bool):
        raise ValueError(f"expected a rate such as 100 (per minute) or 10/second, got {v!r}")
    text = f"{v}/minute" if isinstance(v, int) or str(v).strip().isdigit() else str(v)
    try:
        return parse(text)
    except ValueError:
        raise ValueError(f"expected a rate such as 100 (per minute) or 10/second, got {v!r}") from None


class RateLimits:
    def __init__(self, per_client: RateLimitItem | None, per_key: RateLimitItem | None) -> None:
        self.rates = {"client": per_client, "key": per_key}
        self.limiter = MovingWindowRateLimiter(MemoryStorage())

    def retry_after(self, kind: str, who: str) -> int | None:
        """Count one request of `who` (a client address or key name); seconds to wait when it
        is over the limit, else None."""
        rate = self.rates[kind]
        if rate is None or self.limiter.hit(rate, kind, who):
            return None
        reset_at = self.limiter.get_window_stats(rate, kind, who).reset_time
        return max(1, math.ceil(reset_at - time.time()))

    def message(self, kind: str, who: str, wait: int) -> str:
        whose = f"client {who}" if kind == "client" else f"API key {who!r}"
        setting = "perClient" if kind == "client" else "perKey"
        return (f"too many requests from {whose}: the limit is {self.rates[kind]} "
                f"(Valet.rateLimit.{setting}); retry in {wait} s")
