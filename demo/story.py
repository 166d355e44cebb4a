"""The demo's story, printed as a timeline; each step states what it expects and
whether that held."""
from __future__ import annotations

import time
from typing import Callable

import requests

from demo.processes import Valet


class Timeline:
    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.failures = 0

    def say(self, text: str) -> None:
        print(f"[{time.monotonic() - self.t0:6.2f}s]   {text}", flush=True)

    def check(self, text: str, ok: bool, detail: str = "") -> None:
        mark = "ok  " if ok else "FAIL"
        print(f"[{time.monotonic() - self.t0:6.2f}s] {mark} {text}"
              + (f" ({detail})" if detail and not ok else ""), flush=True)
        self.failures += not ok


def _json(call: Callable[[], requests.Response]) -> tuple[int, object]:
    r = call()
    try:
        return r.status_code, r.json()
    except ValueError:
        return r.status_code, r.text


def key_value_story(t: Timeline, valet: Valet) -> None:
    ns = f"{valet.url}/v4/keyvalues/Demo%20ETL"
    t.say(f"Valet runs at {valet.url}, data in {valet.data_dir}")
    status, body = _json(lambda: requests.post(ns, json={"key": "lastRun", "value": "2026-11-23"}))
    t.check("store lastRun=2026-11-23 without TTL -> 201", status == 201, f"{status} {body}")
    status, body = _json(lambda: requests.post(ns, json={"key": "token", "value": "abc", "ttl": 1500}))
    t.check("store token=abc with a TTL of 1500 ms -> 201, TTL echoed",
            status == 201 and isinstance(body, dict) and body.get("ttl") == 1500, f"{status} {body}")
    status, body = _json(lambda: requests.get(ns, params={"key": "token"}))
    t.check("read token -> abc", status == 200 and isinstance(body, dict) and body.get("value") == "abc",
            f"{status} {body}")
    status, body = _json(lambda: requests.get(f"{valet.url}/v4/keylist/Demo%20ETL"))
    keys = sorted(k["key"] for k in body["keys"]) if status == 200 else body
    t.check("list the namespace -> lastRun, token", keys == ["lastRun", "token"], str(keys))
    t.say("wait 1.6 s for the TTL to pass")
    time.sleep(1.6)
    status, body = _json(lambda: requests.get(f"{ns}/keyexists", params={"key": "token"}))
    t.check("token has expired -> keyExists false", status == 200 and body.get("keyExists") is False,
            f"{status} {body}")
    status, body = _json(lambda: requests.get(ns, params={"key": "token", "default": "none"}))
    t.check("read token with default=none -> none", status == 200 and body.get("value") == "none",
            f"{status} {body}")
    code = valet.stop()
    t.check("stop Valet with SIGTERM -> exits cleanly", code == 0, f"exit code {code}")
    valet.start()
    t.say(f"Valet restarted on the same data directory, at {valet.url}")
    status, body = _json(lambda: requests.get(ns, params={"key": "lastRun"}))
    t.check("after the restart lastRun is still 2026-11-23",
            status == 200 and body.get("value") == "2026-11-23", f"{status} {body}")
    status, body = _json(lambda: requests.get(f"{valet.url}/v4/keylist/Demo%20ETL"))
    t.check("and the expired token is not listed",
            status == 200 and [k["key"] for k in body["keys"]] == ["lastRun"], f"{status} {body}")
