"""The repository client's connections, against the simulated repository (a real process, real
TLS with client certificates), whose request log names the TLS connection of every request:
the pool is kept across calls and threads, replaced when the repository closes a connection
or restarts, split lookups run concurrently, and a start that may have been received is never
sent again."""
from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from demo.sense.process import SenseProcess
from qrs.qrs_support import no_faults, settings  # noqa: F401
from server.qrs import POOL_SIZE, QrsClient, QrsConnectionLost, QrsSettings, id_term, tag_term

IDLE_SECONDS = 1.0
LATENCY_MS = 250
TASKS = [{"id": str(uuid.UUID(int=0xC0 << 112 | n)), "name": f"Pool task {n}", "run": {"seconds": 0.1}}
         for n in range(1000)]


@pytest.fixture(scope="module")
def sense(tmp_path_factory) -> SenseProcess:
    """Closes connections idle for IDLE_SECONDS, answers after LATENCY_MS."""
    with SenseProcess(tmp_path_factory.mktemp("pool"), "--idle-timeout", str(IDLE_SECONDS),
                      extra_tasks=TASKS, latency_ms=LATENCY_MS) as s:
        yield s


def connections(sense, before: int) -> list[int]:
    return [e["connection"] for e in sense.requests()[before:]]


def one_call(settings: QrsSettings, task_id: str) -> None:
    with QrsClient(settings) as client:
        client.find_tasks([id_term(task_id)])
        client.start_many([task_id])


def test_calls_reuse_one_connection(sense, settings) -> None:
    before = len(sense.requests())
    for task in TASKS[:3]:
        one_call(settings, task["id"])
    assert len(set(connections(sense, before))) == 1
    assert len(connections(sense, before)) == 6


def test_threads_share_the_pool(sense, settings) -> None:
    before = len(sense.requests())
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda t: one_call(settings, t["id"]), TASKS[10:14]))
    opened = set(connections(sense, before))
    assert 1 <= len(opened) <= 4
    before = len(sense.requests())
    with ThreadPoolExecutor(4) as pool:  # the pool is warm: no new connection
        list(pool.map(lambda t: one_call(settings, t["id"]), TASKS[20:24]))
    assert set(connections(sense, before)) <= opened


def test_split_lookups_run_concurrently(sense, settings) -> None:
    terms = [id_term(t["id"]) for t in TASKS]
    with QrsClient(settings) as client:
        client.find_tasks(terms)  # opens the connections
    before = len(sense.requests())
    t0 = time.perf_counter()
    with QrsClient(settings) as client:
        found = client.find_tasks(terms)
        sent = client.requests_sent
    seconds = time.perf_counter() - t0
    assert sorted(t["id"] for t in found) == sorted(t["id"] for t in TASKS)
    assert sent == 7 <= POOL_SIZE  # 1000 IDs need 7 URLs of 8 KB
    assert seconds < 4 * LATENCY_MS / 1000, "seven lookups one after the other take 7 latencies"
    assert 1 < len(set(connections(sense, before))) <= 7


def test_a_connection_the_repository_closed_while_idle_is_replaced(sense, settings) -> None:
    before = len(sense.requests())
    one_call(settings, TASKS[30]["id"])
    time.sleep(IDLE_SECONDS + 0.5)  # the repository closes the idle connection
    one_call(settings, TASKS[31]["id"])  # a start too: nothing had been sent on the old one
    first, *_, last = connections(sense, before)
    assert first != last
    assert [e["body"] for e in sense.requests()[before:] if e["method"] == "POST"] == [
        [TASKS[30]["id"]], [TASKS[31]["id"]]]


def test_a_repository_restart_between_two_calls(sense, settings) -> None:
    one_call(settings, TASKS[40]["id"])
    sense.stop()
    sense.start()
    before = len(sense.requests())
    one_call(settings, TASKS[41]["id"])
    logged = sense.requests()[before:]
    assert [e["method"] for e in logged] == ["GET", "POST"]
    assert logged[1]["body"] == [TASKS[41]["id"]]


def test_a_start_dropped_after_it_was_sent_is_not_sent_again(sense, settings) -> None:
    one_call(settings, TASKS[50]["id"])  # the connection is warm
    sense.set_faults(rules=[{"action": "drop", "path": "start/many", "times": 1}])
    before = len(sense.requests())
    with QrsClient(settings) as client, pytest.raises(QrsConnectionLost) as err:
        client.start_many([TASKS[51]["id"]])
    assert err.value.request_sent
    assert [e["path"] for e in sense.requests()[before:]] == ["/qrs/task/start/many"]
    with QrsClient(settings) as client:  # the next call gets a connection that works
        assert client.find_tasks([tag_term("none such")]) == []
