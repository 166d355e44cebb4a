"""Emulator benchmark: `python tests/benchmarks/bench_emulator.py` prints a table.

1. StartTask-style loop: a 10,000-row inline table of task IDs (qualified), then
   `For Each v in FieldValueList('T.TaskId')` with `Let vBody = vBody & '...' & v & '...';`.
   Target: under 1 s.
2. The same loop written Butler's way, `Let vBody = '$(vBody)...$(v)...';`, which expands the
   growing body into the statement text each time (reported, no target).
3. A 100,000-row AutoGenerate table loaded Resident with a Where clause. Target: under 2 s.
Peak memory (tracemalloc, Python allocations) of every case: target under 200 MB.
"""
from __future__ import annotations

import io
import sys
import time
import tracemalloc
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from emulator.runner import Runner  # noqa: E402

ROWS = 10_000


def task_table() -> str:
    ids = "\n".join(str(uuid.UUID(int=i)) for i in range(1, ROWS + 1))
    return f"Qualify *;\nT:\nLoad * Inline [\nTaskId\n{ids}\n];\nUnqualify *;\n"


def concat_loop() -> str:
    return task_table() + (
        "Let vBody = '';\n"
        "For Each v in FieldValueList('T.TaskId')\n"
        "    Let vBody = vBody & '{\"type\":\"starttaskid\",\"payload\":{\"taskId\":\"' & v & '\"}},';\n"
        "Next v\n")


def butler_loop() -> str:
    return task_table() + (
        "Let vBody = '';\n"
        "For Each v in FieldValueList('T.TaskId')\n"
        "    Let vBody = '$(vBody){\"type\":\"starttaskid\",\"payload\":{\"taskId\":\"$(v)\"}},';\n"
        "Next v\n")


def resident_where() -> str:
    return ("Big:\nLoad RecNo() as Id, Mod(RecNo(), 7) as Bucket, 'row ' & RecNo() as Label\n"
            "AutoGenerate 100000;\n"
            "Filtered:\nNoConcatenate Load Id, Label Resident Big Where Bucket = 3 and Id > 10;\n")


def measure(script: str) -> tuple[float, float, Runner]:
    runner = Runner(out=io.StringIO())
    tracemalloc.start()
    start = time.perf_counter()
    runner.run_text(script, "bench.qvs")
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    return seconds, peak, runner


def timed(script: str) -> float:
    """Wall time without tracemalloc's overhead."""
    runner = Runner(out=io.StringIO())
    start = time.perf_counter()
    runner.run_text(script, "bench.qvs")
    return time.perf_counter() - start


def main() -> int:
    cases = [
        ("StartTask loop, Let vBody = vBody & ... (10,000 rows)", concat_loop(), 1.0,
         lambda r: r.variable_text("vBody").count("starttaskid") == ROWS),
        ("Same loop Butler's way, '$(vBody)...' (10,000 rows)", butler_loop(), None,
         lambda r: r.variable_text("vBody").count("starttaskid") == ROWS),
        ("AutoGenerate 100,000 + Resident ... Where", resident_where(), 2.0,
         lambda r: len(r.model.tables["Filtered"].rows) == sum(1 for i in range(1, 100_001)
                                                                if i % 7 == 3 and i > 10)),
    ]
    print(f"{'case':<58} {'time s':>8} {'target':>8} {'peak MB':>8}  ok")
    failed = False
    for name, script, target, check in cases:
        _, peak, runner = measure(script)
        seconds = min(timed(script) for _ in range(3))
        good = check(runner) and (target is None or seconds < target) and peak < 200
        failed |= not good
        print(f"{name:<58} {seconds:>8.3f} {('< %.0f' % target) if target else 'report':>8} "
              f"{peak:>8.1f}  {'yes' if good else 'NO'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
