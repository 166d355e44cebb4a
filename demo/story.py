"""The demo's story, printed as a timeline; each step states what it expects and
whether that held."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import requests

from demo.processes import Valet

FINISHED_SUCCESS = 7  # Qlik's TaskExecutionStatus (reference/qlik-facts.md §5)


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


def task_start_story(t: Timeline, valet: Valet, sense) -> None:
    t.say(f"simulated Sense repository at https://127.0.0.1:{sense.port} "
          f"(client certificates in {sense.certs.root.parent})")
    body = [{"type": "starttasktag", "payload": {"tag": "startTask1"}},
            {"type": "keyvaluestore", "payload": {"namespace": "Demo params", "key": "region",
                                                  "value": "EMEA", "ttl": 60000}}]
    before = len(sense.requests())
    status, result = _json(lambda: requests.put(f"{valet.url}/v4/reloadtask/-/start", json=body,
                                                timeout=30))
    names = sorted(task["taskName"] for task in result.get("tasksTag", [])) if status == 200 else result
    t.check("start the tasks tagged startTask1, passing region=EMEA -> App1, App2, App3 started",
            names == ["Reload task of App1", "Reload task of App2", "Reload task of App3"], str(names))
    calls = [f"{r['method']} {r['path']}" for r in sense.requests()[before:]]
    t.check("the repository got one lookup and one start/many for the three tasks",
            calls == ["GET /qrs/task/full", "POST /qrs/task/start/many"], str(calls))
    status, stored = _json(lambda: requests.get(f"{valet.url}/v4/keyvalues/Demo%20params",
                                                params={"key": "region"}))
    t.check("the parameter is in the key-value store for the reloading apps to read",
            status == 200 and stored.get("value") == "EMEA", f"{status} {stored}")
    status, result = _json(lambda: requests.put(
        f"{valet.url}/v4/reloadtask/abc123/start", json=[], timeout=30))
    t.check("start an ID that is not a GUID -> listed as invalid, nothing started",
            status == 200 and result["tasksId"]["invalid"] == [{"taskId": "abc123"}]
            and result["tasksId"]["started"] == [], f"{status} {result}")
    t.say("wait 1.5 s for the runs (1 s each in the seed) to end")
    time.sleep(1.5)
    statuses = sorted({run["status"] for run in sense.runs()})
    t.check("the repository reports every run ended with status 7 (FinishedSuccess)",
            statuses == [FINISHED_SUCCESS], str(statuses))


APPS = Path(__file__).resolve().parent / "apps"


def reload_app_story(t: Timeline, valet: Valet, workdir: Path) -> None:
    """A reloading app (run offline in the emulator) reads the parameter the task start
    stored, reports a result back and deletes the parameter: real requests to Valet."""
    dump = workdir / "read_parameter.json"
    run = subprocess.run([sys.executable, "-m", "emulator", str(APPS / "read_parameter.qvs"),
                          "--connections", str(APPS / "connections.yaml"),
                          "--var", f"vValet={valet.url}", "--dump", str(dump)],
                         capture_output=True, text=True, timeout=60)
    for line in run.stdout.splitlines():
        t.say(f"  script: {line}")
    result = json.loads(dump.read_text()) if dump.exists() else {}
    variables = result.get("variables", {})
    t.check("the emulator ran demo/apps/read_parameter.qvs -> region EMEA, total 350",
            run.returncode == 0 and variables.get("vRegion") == "EMEA" and variables.get("vTotal") == "350",
            (run.stderr.strip() or str(variables))[-300:])
    sent = [(r["method"], r["url"].split("/v4/", 1)[-1]) for r in result.get("requests", [])]
    t.check("it sent GET keyvalues, POST keyvalues and POST with method override DELETE",
            [m for m, _ in sent] == ["GET", "POST", "POST"], str(sent))
    status, body = _json(lambda: requests.get(f"{valet.url}/v4/keyvalues/Demo%20results",
                                              params={"key": "total EMEA"}))
    t.check("Valet holds the result the script posted (total EMEA = 350)",
            status == 200 and body.get("value") == "350", f"{status} {body}")
    status, body = _json(lambda: requests.get(f"{valet.url}/v4/keyvalues/Demo%20params/keyexists",
                                              params={"key": "region"}))
    t.check("and the parameter the script deleted is gone",
            status == 200 and body.get("keyExists") is False, f"{status} {body}")
