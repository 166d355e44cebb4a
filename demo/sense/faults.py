"""Injected faults: set by command-line options at start and switchable at run time through the
admin endpoint (`PUT /faults`), so a test can take the repository down and bring it back.

- `refuse`: the repository port stops listening (connections are refused) and open connections
  are closed; clearing it listens again on the same port.
- rules, tried in order; the first whose `path` (a regex searched in the request path) and
  `method` match applies, `times` times (or always when absent):
  `{"action": "status", "status": 500}` answer with that status and a plain-text body;
  `{"action": "slow", "ms": 3000}` wait, then answer normally;
  `{"action": "drop"}` read the request, log it, and close the connection without an answer.
"""
from __future__ import annotations

import re
import threading
from dataclasses import asdict, dataclass
from typing import Any

ACTIONS = ("status", "slow", "drop")


@dataclass
class Rule:
    action: str
    status: int = 500
    ms: int = 0
    path: str | None = None
    method: str | None = None
    times: int | None = None

    def applies(self, method: str, path: str) -> bool:
        return ((self.method is None or self.method.upper() == method)
                and (self.path is None or re.search(self.path, path) is not None))


def rule_from(data: Any) -> Rule:
    if not isinstance(data, dict) or data.get("action") not in ACTIONS:
        raise ValueError(f"a rule is an object with action one of {ACTIONS}: {data!r}")
    unknown = set(data) - set(Rule.__dataclass_fields__)
    if unknown:
        raise ValueError(f"unknown rule keys: {sorted(unknown)}")
    rule = Rule(**data)
    if rule.path is not None:
        re.compile(rule.path)
    return rule


class Faults:
    def __init__(self, refuse: bool = False, rules: list[Rule] | None = None) -> None:
        self._lock = threading.Lock()
        self.refuse = refuse
        self._rules = list(rules or [])

    def replace(self, data: dict) -> None:
        rules = [rule_from(r) for r in data.get("rules", [])]
        with self._lock:
            self.refuse = bool(data.get("refuse", False))
            self._rules = rules

    def pick(self, method: str, path: str) -> Rule | None:
        """The rule for this request, counting one use of it."""
        with self._lock:
            for rule in self._rules:
                if rule.applies(method, path):
                    if rule.times is not None:
                        rule.times -= 1
                        if rule.times <= 0:
                            self._rules.remove(rule)
                    return rule
        return None

    def describe(self) -> dict:
        with self._lock:
            return {"refuse": self.refuse, "rules": [asdict(r) for r in self._rules]}
