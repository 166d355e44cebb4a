"""Latency, injected faults (options and the admin endpoint), and the command-line switches."""
from __future__ import annotations

import time

import pytest
import requests

from demo.sense.process import SenseProcess
from sense.sense_support import XRFKEY, Qrs

A1 = "e3b27f50-b1c0-4879-88fc-c7cdd9c1cf3e"


@pytest.fixture
def start_sense(tmp_path):
    started: list[SenseProcess] = []

    def start(*args: str, **kwargs) -> tuple[SenseProcess, Qrs]:
        s = SenseProcess(tmp_path / f"s{len(started)}", *args, **kwargs).start()
        started.append(s)
        return s, Qrs(s)

    yield start
    for s in started:
        s.stop()


def timed(call) -> tuple[float, requests.Response]:
    t0 = time.perf_counter()
    r = call()
    return time.perf_counter() - t0, r


def test_latency_delays_every_answer(start_sense) -> None:
    sense, qrs = start_sense(latency_ms=150)
    qrs("GET", "about")  # connection set up
    took, r = timed(lambda: qrs("GET", "about"))
    assert r.status_code == 200 and 0.15 <= took < 2.0


def test_refuse_closes_the_port_and_reopens_it(start_sense) -> None:
    sense, qrs = start_sense()
    assert qrs("GET", "about").status_code == 200
    sense.set_faults(refuse=True)
    with pytest.raises(requests.exceptions.ConnectionError):
        qrs("GET", "about")  # the open keep-alive connection was closed too
    with pytest.raises(requests.exceptions.ConnectionError) as err:
        Qrs(sense)("GET", "about")
    assert "refused" in str(err.value).lower()
    sense.clear_faults()
    assert Qrs(sense)("GET", "about").status_code == 200


def test_status_rule_with_path_method_and_times(start_sense) -> None:
    sense, qrs = start_sense()
    sense.set_faults(rules=[{"action": "status", "status": 500, "path": "start/many",
                             "method": "POST", "times": 1}])
    assert qrs("GET", "about").status_code == 200
    r = qrs("POST", "task/start/many", json=[A1])
    assert r.status_code == 500 and r.headers["Content-Type"].startswith("text/plain")
    assert sense.runs() == []  # the failed batch started nothing
    assert qrs("POST", "task/start/many", json=[A1]).status_code == 204
    assert len(sense.runs()) == 1
    assert sense.requests()[-2]["path"] == "/qrs/task/start/many"  # logged before answering


def test_drop_closes_without_an_answer_after_logging(start_sense) -> None:
    sense, qrs = start_sense()
    sense.set_faults(rules=[{"action": "drop", "times": 1}])
    with pytest.raises(requests.exceptions.ConnectionError):
        qrs("POST", f"task/{A1}/start")
    assert sense.requests()[-1]["path"] == f"/qrs/task/{A1}/start"
    assert qrs("GET", "about").status_code == 200


def test_slow_rule_and_bad_rules(start_sense) -> None:
    sense, qrs = start_sense()
    sense.set_faults(rules=[{"action": "slow", "ms": 300, "path": "about"}])
    took, r = timed(lambda: qrs("GET", "about"))
    assert r.status_code == 200 and took >= 0.3
    bad = requests.put(f"{sense.admin_url}/faults", json={"rules": [{"action": "explode"}]}, timeout=5)
    assert bad.status_code == 400


def test_command_line_faults(start_sense) -> None:
    sense, qrs = start_sense("--fail-status", "503")
    assert qrs("GET", "about").status_code == 503
    refusing, _ = start_sense("--refuse")
    with pytest.raises(requests.exceptions.ConnectionError):
        Qrs(refusing)("GET", "about")


def test_switches_user_sync_reply_and_plain_proxy(start_sense) -> None:
    sense, qrs = start_sense("--allow-missing-user", "--sync-reply", "bare", "--proxy-plain",
                             "--proxy-prefix", "api/vp", "--proxy-header", "X-Who", proxy=True)
    assert qrs("GET", "about", headers={"X-Qlik-User": None}).status_code == 200
    r = qrs("POST", f"task/{A1}/start/synchronous")
    assert r.status_code == 201 and isinstance(r.json(), str)
    plain = requests.get(f"http://127.0.0.1:{sense.proxy_port}/api/vp/qrs/about",
                         params={"xrfkey": XRFKEY}, headers={"X-Qlik-Xrfkey": XRFKEY, "X-Who": "jo"},
                         timeout=5)
    assert plain.status_code == 200 and plain.json()["schemaPath"] == "About"


def test_bad_seed_stops_start_up_with_a_message(tmp_path) -> None:
    seed = tmp_path / "bad.yaml"
    seed.write_text("tasks:\n  - id: not-a-guid\n    name: x\n")
    with pytest.raises(RuntimeError):
        SenseProcess(tmp_path / "w", seed=seed).start(timeout=10)
    out = next((tmp_path / "w").glob("sense-*.out")).read_text()
    assert "tasks[0]: id: expected a GUID, got 'not-a-guid'" in out
