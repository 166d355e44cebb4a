"""Benchmark: the repository client alone against the simulated repository (20 ms latency by
default), and the crossover of the two ways to look up IDs that need more than one URL.

One "start call" as Valet's start endpoint makes it: look the tasks up (`find_tasks_in`: IDs on
the condensed tasks, a tag on task/full), then one task/start/many. Per repository size
(`--repository-tasks`: the 1,000 bench tasks and fillers up to that many) and per case, the
median wall time, this process's CPU time per call, repository round trips and TLS connections
(from the simulator's request log). The 1,000-ID case runs both ways: `unfiltered` (one
`GET /qrs/task`, the IDs picked locally) and `split` (seven 8 KB filtered lookups at once),
forced through `server.qrs.UNFILTERED_LOOKUP_MAX_TASKS`.

Run: python tests/benchmarks/bench_qrs_client.py [--latency-ms 20] [--repeat 3]
         [--repository-tasks 1000 10000 50000]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import server.qrs as qrs  # noqa: E402
from demo.sense.process import SenseProcess  # noqa: E402
from server.qrs import QrsClient, QrsSettings, TaskQuery, tag_term  # noqa: E402

BENCH = 1000
TASKS = [{"id": str(uuid.UUID(int=i + 1)), "name": f"Bench task {i}",
          "tags": ["bench100"] if i < 100 else [], "run": {"seconds": 0.1}} for i in range(BENCH)]
MODES = {"unfiltered": sys.maxsize, "split": -1}  # UNFILTERED_LOOKUP_MAX_TASKS forcing each way


def fillers(total: int) -> list[dict]:
    return [{"id": str(uuid.UUID(int=0xF1 << 112 | n)), "name": f"Filler {n}"}
            for n in range(max(0, total - BENCH))]


def start_call(settings: QrsSettings, query: TaskQuery) -> int:
    with QrsClient(settings) as client:
        found = client.find_tasks_in(query)
        client.start_many([t["id"] for t in found if t["enabled"]])
    return len(found)


def measure(sense: SenseProcess, settings: QrsSettings, query: TaskQuery, repeat: int) -> tuple:
    start_call(settings, query)  # warm-up: connections, and the repository's size learned
    times, cpu, trips, conns, found = [], [], 0, 0, 0
    for _ in range(repeat):
        time.sleep(0.15)  # let the runs end, so every start is a real one
        before = len(sense.requests())
        t0, c0 = time.perf_counter(), time.process_time()
        found = start_call(settings, query)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        logged = sense.requests()[before:]
        trips, conns = len(logged), len({e["connection"] for e in logged})
    return statistics.median(times), statistics.median(cpu), trips, conns, found


def run(total: int, latency_ms: int, repeat: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        with SenseProcess(Path(tmp), extra_tasks=TASKS + fillers(total), latency_ms=latency_ms,
                          start_timeout=300) as sense:
            settings = QrsSettings("127.0.0.1", sense.port,
                                   headers={"X-Qlik-User": "UserDirectory=Internal;UserId=sa_repository"},
                                   client_cert=str(sense.certs.client),
                                   client_key=str(sense.certs.client_key), timeout=60)
            cases = [(f"{n} IDs", mode, TaskQuery(ids=tuple(t["id"] for t in TASKS[:n])))
                     for n in (1, 10, 100, 1000) for mode in (MODES if n == 1000 else ["unfiltered"])]
            cases.append(("tag matching 100 tasks", "unfiltered", TaskQuery(full_terms=(tag_term("bench100"),))))
            print(f"repository of {total + 5:,} tasks, latency {latency_ms} ms, median of {repeat}; "
                  f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
            print(f"{'call':<24}{'mode':>11}{'wall ms':>9}{'CPU ms':>8}{'round trips':>13}"
                  f"{'TLS conns':>11}{'tasks':>7}")
            for name, mode, query in cases:
                qrs.UNFILTERED_LOOKUP_MAX_TASKS = MODES[mode]
                wall, cpu, trips, conns, found = measure(sense, settings, query, repeat)
                print(f"{name:<24}{mode:>11}{wall * 1000:>9.0f}{cpu * 1000:>8.0f}{trips:>13}"
                      f"{conns:>11}{found:>7}")
    print()


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--latency-ms", type=int, default=20)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--repository-tasks", type=int, nargs="+", default=[BENCH],
                   help="tasks in the simulated repository besides its 5 seed tasks (>= 1000)")
    args = p.parse_args()
    for total in args.repository_tasks:
        run(total, args.latency_ms, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
