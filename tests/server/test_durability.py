"""Acknowledged writes survive kill -9; concurrent writers never overshoot the limit.
Real Valet processes, real SQLite files."""
from __future__ import annotations

import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests


def _writer(url: str, prefix: str, acked: list[str], stop: threading.Event) -> None:
    session = requests.Session()
    i = 0
    while not stop.is_set():
        key = f"{prefix}-{i}"
        try:
            r = session.post(url, json={"key": key, "value": key}, timeout=5)
        except requests.RequestException:
            return  # the server died under us: this write was not acknowledged
        if r.status_code == 201:
            acked.append(key)
        i += 1


@pytest.mark.parametrize("fsync", [False, True], ids=["default", "fsync-each-commit"])
def test_acknowledged_writes_survive_kill_9(start_valet, fsync):
    valet = start_valet(valet={"fsyncEachCommit": fsync},
                        butler={"keyValueStore": {"maxKeysPerNamespace": 1_000_000}})
    url = valet.url + "/v4/keyvalues/durable"
    acked: list[str] = []
    stop = threading.Event()
    writers = [threading.Thread(target=_writer, args=(url, f"w{n}", acked, stop)) for n in range(4)]
    for w in writers:
        w.start()
    time.sleep(1.5)
    valet.stop(signal.SIGKILL)  # mid-write: the writers are still sending
    stop.set()
    for w in writers:
        w.join()
    assert len(acked) > 50, "too few writes to mean anything"
    valet.start()
    with requests.Session() as s:
        lost = [k for k in acked if s.get(url, params={"key": k}).status_code != 200]
    assert lost == [], f"{len(lost)} of {len(acked)} acknowledged writes lost"


@pytest.mark.parametrize("workers", [0, 2], ids=["waitress", "gunicorn-2-workers"])
def test_concurrent_inserts_never_overshoot_the_limit(start_valet, workers):
    limit = 40
    valet = start_valet(butler={"keyValueStore": {"maxKeysPerNamespace": limit}}, workers=workers)
    url = valet.url + "/v4/keyvalues/crowded"

    def insert(thread: int) -> list[int]:
        with requests.Session() as s:
            return [s.post(url, json={"key": f"t{thread}-k{i}", "value": "v"}).status_code
                    for i in range(10)]

    with ThreadPoolExecutor(16) as pool:
        statuses = [code for codes in pool.map(insert, range(16)) for code in codes]
    assert statuses.count(201) == limit
    assert statuses.count(409) == 16 * 10 - limit
    listed = requests.get(valet.url + "/v4/keylist/crowded").json()["keys"]
    assert len(listed) == limit
