"""The demo's story, printed as a timeline (elapsed time, result, who, what): each step says
what it expects and whether that held; the summary counts the checks per step."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

import paho.mqtt.client as paho
import requests

from demo.processes import START_TOPIC, terminate
from demo.sense.seed import STATUSES
from demo.stage import RESULT_TOPIC, Stage, task_id

WAIT_SECONDS = 30  # the longest a step waits for a run to end
MQTT_CONNECT_SECONDS = 20  # for Valet to subscribe after its restart (slow on a busy machine)
FINISHED = {"FinishedSuccess", "FinishedFail", "Aborted", "Error", "Skipped", "Reset"}


class StepFailed(Exception):
    """A check failed that the rest of the step depends on."""


@dataclass
class Step:
    number: int
    summary: str
    checks: int = 0
    held: int = 0
    note: str = ""  # why it did not run

    @property
    def result(self) -> str:
        if self.note:
            return "not run"
        return "held" if self.checks and self.held == self.checks else "FAILED"


@dataclass
class Timeline:
    verbose: bool = False
    t0: float = field(default_factory=time.monotonic)
    wall0: float = field(default_factory=time.time)
    steps: list[Step] = field(default_factory=list)

    def line(self, who: str, text: str, mark: str = "", at: float | None = None) -> None:
        elapsed = (at - self.wall0) if at is not None else time.monotonic() - self.t0
        print(f"{elapsed:6.1f}s {mark:<4} {who:<10} {text}", flush=True)

    def detail(self, text: str) -> None:
        """--verbose only: an HTTP exchange or a log line, indented under the timeline."""
        if self.verbose:
            print(f"{'':18}{text}", flush=True)

    def check(self, who: str, text: str, ok: bool, why: str = "") -> bool:
        step = self.steps[-1]
        step.checks += 1
        step.held += ok
        self.line(who, text + ("" if ok else f"  <- expected {why}" if why else ""),
                  "ok" if ok else "FAIL")
        return ok

    def require(self, who: str, text: str, ok: bool, why: str = "") -> None:
        if not self.check(who, text, ok, why):
            raise StepFailed(text)

    @property
    def failed(self) -> list[Step]:
        return [s for s in self.steps if s.result == "FAILED"]


class Http:
    """The demo's own HTTP calls (as curl would send them), shown with --verbose."""

    def __init__(self, t: Timeline, stage: Stage) -> None:
        self.t, self.stage = t, stage
        self.session = requests.Session()
        self.session.trust_env = False  # loopback only, never through a proxy

    def __call__(self, method: str, path: str, key: str | None = None,
                 **kwargs: Any) -> tuple[int, Any]:
        headers = {"X-API-Key": self.stage.keys[key]} if key else {}
        url = f"{self.stage.valet.url}{path}"
        body = kwargs.get("json")
        self.t.detail(f"> {method} {url}" + (f"  X-API-Key: <{key} key>" if key else "")
                      + (f"  {json.dumps(body)}" if body is not None else ""))
        r = self.session.request(method, url, headers=headers, timeout=WAIT_SECONDS, **kwargs)
        self.t.detail(f"< {r.status_code} {_short(r.text, 300)}")
        try:
            return r.status_code, r.json()
        except ValueError:
            return r.status_code, r.text


def _short(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _message(body: Any) -> str:
    """An error answer's message (Valet's JSON error shape), short."""
    return _short(body.get("message", body) if isinstance(body, dict) else body, 60)


def _names(items: Any) -> list[str]:
    return sorted(i.get("taskName", "?") for i in items) if isinstance(items, list) else []


# -- runs, as the repository reports them ----------------------------------------------------
def _runs_of(stage: Stage, name: str) -> list[dict]:
    return [r for r in stage.sense.runs() if r["taskId"] == task_id(name)]


def _ended_run(stage: Stage, name: str) -> dict | None:
    """The task's first run once it has ended, waiting for it."""
    end = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < end:
        runs = _runs_of(stage, name)
        if runs and STATUSES[runs[0]["status"]] in FINISHED:
            return runs[0]
        time.sleep(0.1)
    return None


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def _show_script_log(t: Timeline, who: str, run: dict) -> list[str]:
    lines = [entry["line"] for entry in run["scriptLog"]]
    for entry in run["scriptLog"]:
        t.line(who, f"trace: {_short(entry['line'], 90)}", at=_epoch(entry["time"]))
    return lines


# -- the steps --------------------------------------------------------------------------------
def step_upstream_start(t: Timeline, stage: Stage, http: Http) -> None:
    body = [{"type": "keyvaluestore", "payload": {"namespace": "Sales ETL", "key": "region",
                                                  "value": "EMEA", "ttl": 600000}},
            {"type": "keyvaluestore", "payload": {"namespace": "Sales ETL", "key": "fromMonth",
                                                  "value": "202611", "ttl": 600000}},
            {"type": "starttasktag", "payload": {"tag": "salesEtl"}}]
    t.detail(f"curl -X PUT -H 'X-API-Key: …' -H 'Content-Type: application/json' -d "
             f"'{json.dumps(body)}' {stage.valet.url}/v4/reloadtask/-/start")
    status, result = http("PUT", "/v4/reloadtask/-/start", "upstream", json=body)
    started = _names(result.get("tasksTag")) if isinstance(result, dict) else []
    t.require("upstream", f"PUT /v4/reloadtask/-/start, tag salesEtl, Sales ETL: region=EMEA, "
              f"fromMonth=202611 -> {status} {', '.join(started) or _message(result)}",
              status == 200 and started == ["Sales ETL step 1"], "200, Sales ETL step 1 started")
    runs = _runs_of(stage, "Sales ETL step 1")
    t.check("Sense", "the repository runs Sales ETL step 1: its app's script sales_step1.qvs",
            len(runs) == 1, "one run")


def _app_run(t: Timeline, stage: Stage, name: str, who: str) -> list[str]:
    """Wait for the task's run to end, show its script's trace, check it succeeded; its trace."""
    run = _ended_run(stage, name)
    if run is None:
        t.require("Sense", f"{name} ended", False, f"within {WAIT_SECONDS} s")
    log = _show_script_log(t, who, run)
    status = STATUSES[run["status"]]
    t.require("Sense", f"{name}: {status}" + (f": {_short(run['message'], 70)}" if run["message"] else ""),
              status == "FinishedSuccess", "FinishedSuccess")
    return log


def step_first_app(t: Timeline, stage: Stage, http: Http) -> None:
    log = _app_run(t, stage, "Sales ETL step 1", "step 1 app")
    # The orders of EMEA from 202611 in the script's inline table: Gadgets 80 + 150, Widgets 120.
    t.check("step 1 app", "read region and fromMonth; Group By: Gadgets 2 order(s) 230, "
            "Widgets 1 order(s) 120; total 350",
            log[:4] == ["parameters: region EMEA, from month 202611", "Gadgets: 2 order(s), 230",
                        "Widgets: 1 order(s), 120", "starting Sales ETL step 2 with total=350"],
            "those trace lines")
    t.check("Valet", "StartTask_KeyValue: Valet stored total=350 and started Sales ETL step 2",
            bool(_runs_of(stage, "Sales ETL step 2")), "a run of Sales ETL step 2")


def step_second_app(t: Timeline, stage: Stage, http: Http) -> None:
    log = _app_run(t, stage, "Sales ETL step 2", "step 2 app")
    t.check("step 2 app", "read total=350 and the optional currency (not set: its default EUR)",
            log[:1] == ["total 350 for EMEA, currency EUR"], "that trace line")
    status, body = http("GET", "/v4/keyvalues/Sales%20results?key=EMEA", "dashboards")
    value = body.get("value") if isinstance(body, dict) else body
    t.check("dashboards", f"GET /v4/keyvalues/Sales results?key=EMEA -> {status} {value}",
            status == 200 and value == "350 EUR", "200 350 EUR")
    status, body = http("GET", "/v4/keyvaluesnamespaces", "dashboards")
    t.check("dashboards", "the namespace Sales ETL, deleted by step 2, is gone",
            status == 200 and "Sales ETL" not in body and "Sales results" in body,
            f"not in {body}")
    code = stage.valet.stop()
    stage.valet.start()
    status, body = http("GET", "/v4/keyvalues/Sales%20results?key=EMEA", "dashboards")
    t.check("Valet", f"stopped (exit {code}) and started again: the result is still there",
            code == 0 and status == 200 and body.get("value") == "350 EUR", "exit 0, 350 EUR")


def step_other_starts(t: Timeline, stage: Stage, http: Http) -> None:
    cp = [{"type": "starttaskcustomproperty",
           "payload": {"customPropertyName": "taskGroup", "customPropertyValue": "nightly"}}]
    status, body = http("PUT", "/v4/reloadtask/-/start", "upstream", json=cp)
    names = _names(body.get("tasksCP")) if isinstance(body, dict) else []
    t.check("upstream", f"start by custom property taskGroup=nightly -> {status} tasksCP: "
            f"{', '.join(names)}",
            status == 200 and names == ["Finance dashboard reload", "HR dashboard reload"],
            "Finance and HR dashboard reloads")
    tag = [{"type": "starttasktag", "payload": {"tag": "adhoc"}}]
    status, body = http("PUT", "/v4/reloadtask/-/start", "upstream", json=tag)
    denied = body.get("tasksTagDenied") if isinstance(body, dict) else body
    t.check("upstream", f"start by tag adhoc, not allowed by the start filter -> {status} "
            f"tasksTagDenied: {json.dumps(denied)}",
            status == 200 and denied == [{"tag": "adhoc"}] and not body.get("tasksTag"),
            "denied, nothing started")
    status, body = http("PUT", "/v4/reloadtask/abc123/start", "upstream", json=[])
    invalid = body.get("tasksId", {}).get("invalid") if isinstance(body, dict) else body
    t.check("upstream", f"start task ID abc123 -> {status} tasksId.invalid: {json.dumps(invalid)}",
            status == 200 and invalid == [{"taskId": "abc123"}], "listed as invalid")


_STATUS_LINE = re.compile(r"^\S+ task '.*?' \([0-9a-f-]+\): (.*)$")


def _start_and_wait(stage: Stage, name: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "server", "start-task", "--name", name, "--wait",
               "--interval", "0.2", "--config", str(stage.valet.config_path)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _status_lines(t: Timeline, output: str) -> list[str]:
    lines = []
    for raw in output.splitlines():
        t.detail(raw)
        m = _STATUS_LINE.match(raw)
        lines.append(m.group(1) if m else raw)
    return [line for line in lines if " (status " in line]


def _reason(line: str) -> str:
    """A failed end's reason, short: the library's "<sub> failed" and Valet's message."""
    m = re.search(r"(\w+ failed): .*?\"message\":\"(.*?)\"", line)
    return f"{m.group(1)}: {m.group(2)}" if m else line.split(": ", 1)[-1]


def step_start_and_wait(t: Timeline, stage: Stage, http: Http) -> None:
    cases = (("Sales ETL check", "FinishedFail", 108), ("Inventory reload", "FinishedSuccess", 0))
    for name, _want, _code in cases:  # both at once: a command's start-up takes a while
        t.line("scheduler", f'python -m server start-task --name "{name}" --wait --interval 0.2')
    procs = [_start_and_wait(stage, name) for name, _want, _code in cases]
    try:
        for (name, want, code_wanted), proc in zip(cases, procs):
            output, _ = proc.communicate(timeout=WAIT_SECONDS + 30)
            lines = _status_lines(t, output)
            seen = [line.split(" (status")[0] for line in lines]
            reason = _reason(lines[-1]) if want == "FinishedFail" and lines else ""
            t.check("scheduler", f"{name}: {' -> '.join(seen) or 'no status'}"
                    + (f": {_short(reason, 60)}" if reason else "") + f"; exit code {proc.returncode}",
                    proc.returncode == code_wanted and seen[-1:] == [want],
                    f"{want}, exit code {code_wanted}")
    finally:  # interrupted or timed out: leave no command running
        for proc in procs:
            terminate(proc)


def step_mqtt(t: Timeline, stage: Stage, http: Http) -> None:
    if stage.broker is None:
        t.steps[-1].note = stage.no_mqtt
        t.line("demo", f"not run: {stage.no_mqtt}")
        return
    _wait_for_mqtt(t, stage)
    got = threading.Event()
    results: list[dict] = []
    client = paho.Client(paho.CallbackAPIVersion.VERSION2)
    client.on_subscribe = lambda *_a: got.set()
    client.on_message = lambda _c, _u, msg: (results.append(json.loads(msg.payload)), got.set())
    client.connect("127.0.0.1", stage.broker.port)
    client.loop_start()
    try:
        client.subscribe(RESULT_TOPIC, qos=1)
        got.wait(10)
        got.clear()
        finance = task_id("Finance dashboard reload")
        t.line("IoT source", f"publish {START_TOPIC}: {finance} (Finance dashboard reload)")
        client.publish(START_TOPIC, finance, qos=1).wait_for_publish(10)
        got.wait(WAIT_SECONDS)
    finally:
        client.disconnect()
        client.loop_stop()
    started = _names(results[0].get("tasksId", {}).get("started")) if results else []
    t.check("Valet", f"result on {RESULT_TOPIC}: started {', '.join(started) or 'nothing'}",
            started == ["Finance dashboard reload"], "Finance dashboard reload started")


def _wait_for_mqtt(t: Timeline, stage: Stage) -> None:
    """Until Valet's /health says it is subscribed (it connects in the background)."""
    end = time.monotonic() + MQTT_CONNECT_SECONDS
    while time.monotonic() < end:
        checks = requests.get(f"{stage.valet.url}/health", timeout=5).json().get("checks", [])
        if any(c["name"] == "mqtt" and c["status"] == "up" for c in checks):
            return
        time.sleep(0.1)
    t.require("Valet", "connected to Mosquitto", False, f"within {MQTT_CONNECT_SECONDS} s")


def step_api_keys(t: Timeline, stage: Stage, http: Http) -> None:
    status, body = http("GET", "/v4/keyvalues/Sales%20results?key=EMEA")
    t.check("anyone", f"GET /v4/keyvalues/Sales results?key=EMEA without a key -> {status} "
            f"{_message(body)}",
            status == 401, "401")
    status, body = http("PUT", "/v4/reloadtask/-/start", "dashboards",
                        json=[{"type": "starttasktag", "payload": {"tag": "salesEtl"}}])
    t.check("dashboards", f"start a task with the kv:read key -> {status} "
            f"{_message(body)}",
            status == 403, "403")


@dataclass(frozen=True)
class StepSpec:
    title: str
    summary: str  # for the summary table
    run: Callable[[Timeline, Stage, Http], None]
    needs: int | None = None  # the step whose outcome this one reads


STEPS = [
    StepSpec('An upstream system stores parameters and starts "Sales ETL step 1" by tag',
             "upstream system: parameters, start by tag", step_upstream_start),
    StepSpec("Step 1's script reads them, loads with Group By, starts step 2 with StartTask_KeyValue",
             "step 1 app: GetKeyValue, Group By, StartTask_KeyValue", step_first_app, 1),
    StepSpec("Step 2 reads the total and an optional parameter, stores its result, deletes its "
             "namespace", "step 2 app: read, default, store, delete; restart", step_second_app, 2),
    StepSpec("Starts by custom property, one the start filter denies, an invalid task ID",
             "custom property, start filter, invalid ID", step_other_starts),
    StepSpec("A scheduler's start-and-wait: a task that fails, then one that succeeds",
             "start-task --wait: exit codes 108 and 0", step_start_and_wait),
    StepSpec("MQTT: a start published by an IoT source, its result on the result topic",
             "MQTT start and result", step_mqtt),
    StepSpec("API keys: calls refused without a key, and without the scope",
             "API keys: 401 without, 403 without the scope", step_api_keys),
]
