"""Benchmark: the repository client against the simulated repository with 20 ms latency.

One "start call" as Valet's start endpoint makes it: look the tasks up (IDs on the condensed
tasks, a tag on task/full; ORed, split at 8 KB URLs), then one task/start/many. Printed per N: wall time, repository round
trips and TLS connections (from the simulator's request log).

Run: python tests/benchmarks/bench_qrs_client.py [--latency-ms 20] [--repeat 3]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from demo.sense.process import SenseProcess  # noqa: E402
from server.qrs import CONDENSED, FULL, QrsClient, QrsSettings, id_term, tag_term  # noqa: E402

TASKS = [{"id": str(uuid.UUID(int=i + 1)), "name": f"Bench task {i}",
          "tags": ["bench100"] if i < 100 else [], "run": {"seconds": 0.1}} for i in range(1000)]


def start_call(settings: QrsSettings, endpoint: str, terms: list[str]) -> int:
    with QrsClient(settings) as client:
        found = client.find_tasks(terms, endpoint)
        client.start_many([t["id"] for t in found if t["enabled"]])
    return len(found)


def measure(sense: SenseProcess, settings: QrsSettings, endpoint: str, terms: list[str],
            repeat: int) -> tuple:
    times, trips, conns, found = [], 0, 0, 0
    for _ in range(repeat):
        before = len(sense.requests())
        t0 = time.perf_counter()
        found = start_call(settings, endpoint, terms)
        times.append(time.perf_counter() - t0)
        logged = sense.requests()[before:]
        trips, conns = len(logged), len({e["connection"] for e in logged})
        time.sleep(0.15)  # let the runs end, so every start is a real one
    return statistics.median(times), trips, conns, found


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--latency-ms", type=int, default=20)
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp, \
            SenseProcess(Path(tmp), extra_tasks=TASKS, latency_ms=args.latency_ms) as sense:
        settings = QrsSettings("127.0.0.1", sense.port,
                               headers={"X-Qlik-User": "UserDirectory=Internal;UserId=sa_repository"},
                               client_cert=str(sense.certs.client),
                               client_key=str(sense.certs.client_key), timeout=30)
        cases = [(f"{n} IDs", CONDENSED, [id_term(t["id"]) for t in TASKS[:n]])
                 for n in (1, 10, 100, 1000)]
        cases.append(("tag matching 100 tasks", FULL, [tag_term("bench100")]))
        print(f"repository latency {args.latency_ms} ms, median of {args.repeat}")
        print(f"{'call':<24}{'wall ms':>9}{'round trips':>13}{'TLS conns':>11}{'tasks':>7}")
        for name, endpoint, terms in cases:
            wall, trips, conns, found = measure(sense, settings, endpoint, terms, args.repeat)
            print(f"{name:<24}{wall * 1000:>9.0f}{trips:>13}{conns:>11}{found:>7}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
