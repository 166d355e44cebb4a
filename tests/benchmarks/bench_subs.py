"""Benchmark of the generated butler_subs.qvs in the emulator against a live Valet and the
simulated repository: StartTask over a 10,000-row task table (target: under 1 s including its
single request, issue 9) and 1,000 AddKeyValue calls.

For each case: wall time of the whole script run, the number of requests it sent, the time per
call, and for StartTask the time of the same request sent directly (so the script's own share
shows). The 10,000 rows cycle over the five tasks of the default seed, as a table built from
an app's data would repeat IDs; a second case uses 10,000 distinct IDs Sense does not know.

    python tests/benchmarks/bench_subs.py [--repeat 3]
"""
from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench_start import butler_config  # noqa: E402  (this folder is on the path when run)
from demo.processes import Valet  # noqa: E402
from demo.sense.process import SenseProcess  # noqa: E402
from emulator.rest_connector import Connection  # noqa: E402
from emulator.runner import Runner  # noqa: E402
from generator.render import COMMITTED_FILE  # noqa: E402

SEED_TASKS = ["e3b27f50-b1c0-4879-88fc-c7cdd9c1cf3e", "7552d9fc-d1bb-4975-9a38-18357de531ea",
              "fb0f317d-da91-4b86-aafa-0174ae1e8c8f", "fbf645f0-0c92-40a4-af9a-6e3eb1d3c35c",
              "8b4fe424-d90c-493f-a61d-0ce91cd485c9"]
REPEATED_IDS = ("Qualify *;\nT:\nLoad Pick(Mod(RecNo() - 1, 5) + 1, "
                + ", ".join(f"'{t}'" for t in SEED_TASKS)
                + ") as TaskId AutoGenerate 10000;\nUnqualify *;\n")
DISTINCT_IDS = ("Qualify *;\nT:\nLoad '00000000-0000-4000-8000-' & Num(RecNo(), '000000000000') "
                "as TaskId AutoGenerate 10000;\nUnqualify *;\n")
CASES = [("StartTask, 10,000 rows (5 tasks repeated)", REPEATED_IDS, "Call StartTask(Null(), 'T')\n", 1, 1000),
         ("StartTask, 10,000 distinct unknown IDs", DISTINCT_IDS, "Call StartTask(Null(), 'T')\n", 1, None),
         ("1,000 AddKeyValue calls", "",
          "For i = 1 to 1000\n    Call AddKeyValue('bench', 'key ' & i, 'value ' & i, 0)\nNext i\n", 1000, None)]


def run_case(valet: Valet, setup: str, calls: str) -> tuple[float, float, Runner]:
    """(seconds of the setup alone, seconds of setup + calls, the runner of the full run)."""
    host, port = valet.url.rsplit(":", 1)
    connections = {name: Connection(name, valet.url + "/v4/butlerping", method)
                   for name, method in (("Butler_GET", "GET"), ("Butler_POST", "POST"))}
    header = f"Let vButlerHost = '{host}';\nLet vButlerPort = '{port}';\n$(Must_Include={COMMITTED_FILE});\n"
    times = []
    for body in (setup, setup + calls):
        runner = Runner(connections, out=io.StringIO())
        t0 = time.perf_counter()
        runner.run_text(header + body, str(COMMITTED_FILE.parent / "bench.qvs"))
        times.append(time.perf_counter() - t0)
    return times[0], times[1], runner


def direct_request_seconds(request) -> float:
    t0 = time.perf_counter()
    r = requests.post(request.url, data=request.body.encode("utf-8"), headers=request.headers, timeout=120)
    r.raise_for_status()
    return time.perf_counter() - t0


def main() -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--repeat", type=int, default=3)
    repeat = args.parse_args().repeat
    with tempfile.TemporaryDirectory() as tmp, SenseProcess(Path(tmp) / "sense") as sense, \
            Valet(Path(tmp) / "valet", butler_config(sense)) as valet:
        print(f"{'case':44} {'script s':>9} {'calls s':>8} {'requests':>8} {'ms/call':>8} {'direct request s':>17} target")
        worst = 0
        for name, setup, calls, n_calls, target_ms in CASES:
            runs = [run_case(valet, setup, calls) for _ in range(repeat)]
            setup_s, total_s, runner = min(runs, key=lambda r: r[1])
            calls_s = total_s - setup_s
            direct = (f"{statistics.median(direct_request_seconds(runner.requests[0]) for _ in range(repeat)):.3f}"
                      if n_calls == 1 else "")
            verdict = "" if target_ms is None else (
                f"< {target_ms / 1000:g} s: {'met' if calls_s * 1000 < target_ms else 'NOT met'}")
            worst |= target_ms is not None and calls_s * 1000 >= target_ms
            print(f"{name:44} {total_s:9.3f} {calls_s:8.3f} {len(runner.requests):8} "
                  f"{calls_s * 1000 / n_calls:8.2f} {direct:>17} {verdict}")
        print("script s: the whole run (table loads included); calls s: the run minus the same "
              "script without the calls (best of --repeat); direct request: the StartTask "
              "request alone, sent with requests (median).")
        return 1 if worst else 0


if __name__ == "__main__":
    sys.exit(main())
