"""Emulator benchmark: `python tests/benchmarks/bench_emulator.py` prints a table.

1. StartTask-style loop: a 10,000-row inline table of task IDs (qualified), then
   `For Each v in FieldValueList('T.TaskId')` with `Let vBody = vBody & '...' & v & '...';`.
   Target: under 1 s.
2. The same loop written Butler's way, `Let vBody = '$(vBody)...$(v)...';`, which expands the
   growing body into the statement text each time (reported, no target).
3. A 100,000-row AutoGenerate table loaded Resident with a Where clause. Target: under 2 s.
4. A 10-year master calendar (3,653 days, a dozen date fields, preceding load over
   AutoGenerate ... While IterNo()). Target: under 0.5 s.
5. Group By over 1,000,000 rows into 1,000 groups (Sum, Count, Max). The 1,000,000-row table is
   made by AutoGenerate before the clock starts. Target: under 5 s.
6. QVD round trip of 1,000,000 rows (three fields): Store ... (qvd), then LOAD ... FROM (qvd).
   The table is made before the clock starts. Target: under 5 s.
Each case runs in a child process, three times (a full garbage collection before each, untimed);
its peak resident memory (interpreter included) is reported.
Target: under 200 MB (cases 1-4), 500 MB (cases 5-6).
"""
from __future__ import annotations

import gc
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
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


def master_calendar() -> str:
    return ("Let vStart = Num(MakeDate(2015, 1, 1));\nLet vEnd = Num(MakeDate(2024, 12, 31));\n"
            "Calendar:\nLOAD Date(d) as Date, Year(d) as Year, Month(d) as Month, Day(d) as Day,\n"
            "  WeekDay(d) as WeekDay, Week(d) as Week, WeekYear(d) as WeekYear,\n"
            "  'Q' & Ceil(Month(d) / 3) as Quarter, MonthName(d) as MonthYear,\n"
            "  WeekStart(d) as WeekStart, MonthStart(d) as MonthStart, MonthEnd(d) as MonthEnd,\n"
            "  QuarterStart(d) as QuarterStart, YearStart(d) as YearStart;\n"
            "LOAD $(vStart) + IterNo() - 1 as d AutoGenerate 1 While $(vStart) + IterNo() - 1 <= $(vEnd);\n")


GROUP_ROWS, GROUPS = 1_000_000, 1_000


def group_by() -> tuple[str, str]:
    """(untimed setup, timed script)."""
    return (f"T:\nLOAD Mod(RecNo(), {GROUPS}) as K, RecNo() as V AutoGenerate {GROUP_ROWS};\n",
            "G:\nLOAD K, Sum(V) as S, Count(V) as C, Max(V) as M Resident T Group By K;\n")


def group_by_check(runner: Runner) -> bool:
    rows = runner.model.tables["G"].texts()
    by_key = {int(k): (s, c) for k, s, c, _ in rows}
    expected_sum_of_0 = sum(range(GROUPS, GROUP_ROWS + 1, GROUPS))
    return len(rows) == GROUPS and by_key[0] == (str(expected_sum_of_0), str(GROUP_ROWS // GROUPS))


QVD_FILE = Path(tempfile.gettempdir()) / f"bench-emulator-{os.getpid()}.qvd"


def qvd_round_trip() -> tuple[str, str]:
    return (f"T:\nLOAD RecNo() as Id, Mod(RecNo(), 1000) as K, Dual('r' & Mod(RecNo(), 50), Mod(RecNo(), 50)) as D\n"
            f"AutoGenerate {GROUP_ROWS};\n",
            f"Store T into [{QVD_FILE}] (qvd);\nR: NoConcatenate LOAD * FROM [{QVD_FILE}] (qvd);\n")


def qvd_check(runner: Runner) -> bool:
    QVD_FILE.unlink(missing_ok=True)
    rows = runner.model.tables["R"].rows
    return len(rows) == GROUP_ROWS and rows[-1][0].num == GROUP_ROWS and rows[7][2].text == "r8"


def run_case(index: int) -> None:
    """Child process: run one case three times, print best seconds, peak RSS and the check."""
    name, script, target, _, check = CASES[index]
    best, best_cpu, runner = float("inf"), float("inf"), None
    scripts = script()
    setup, timed = scripts if isinstance(scripts, tuple) else ("", scripts)
    for _ in range(3):
        runner = None
        gc.collect()  # the last run's Runner (its tables) is not this run's memory
        runner = Runner(out=io.StringIO())
        runner.run_text(setup, "setup.qvs")
        start, start_cpu = time.perf_counter(), time.process_time()
        runner.run_text(timed, "bench.qvs")
        best = min(best, time.perf_counter() - start)
        best_cpu = min(best_cpu, time.process_time() - start_cpu)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": best, "cpu": best_cpu, "rss_mb": rss_mb, "ok": check(runner)}))


CASES = [  # (name, script, seconds target, MB target, check)
    ("StartTask loop, Let vBody = vBody & ... (10,000 rows)", concat_loop, 1.0, 200,
     lambda r: r.variable_text("vBody").count("starttaskid") == ROWS),
    ("Same loop Butler's way, '$(vBody)...' (10,000 rows)", butler_loop, None, 200,
     lambda r: r.variable_text("vBody").count("starttaskid") == ROWS),
    ("AutoGenerate 100,000 + Resident ... Where", resident_where, 2.0, 200,
     lambda r: len(r.model.tables["Filtered"].rows) == sum(1 for i in range(1, 100_001)
                                                            if i % 7 == 3 and i > 10)),
    ("Master calendar, 10 years (3,653 rows, 14 fields)", master_calendar, 0.5, 200,
     lambda r: r.model.tables["Calendar"].texts()[-1][:3] == ["2024-12-31", "2024", "Dec"]
     and len(r.model.tables["Calendar"].rows) == 3653),
    ("Group By, 1,000,000 rows into 1,000 groups", group_by, 5.0, 500, group_by_check),
    ("QVD round trip, 1,000,000 rows (Store, then LOAD FROM)", qvd_round_trip, 5.0, 500, qvd_check),
]


def main() -> int:
    print(f"{'case':<58} {'time s':>8} {'cpu s':>7} {'target':>8} {'RSS MB':>8}  ok")
    failed = False
    for index, (name, _, target, memory, _) in enumerate(CASES):
        child = subprocess.run([sys.executable, __file__, "--case", str(index)], capture_output=True,
                               text=True, check=True)
        result = json.loads(child.stdout)
        good = result["ok"] and (target is None or result["seconds"] < target) and result["rss_mb"] < memory
        failed |= not good
        print(f"{name:<58} {result['seconds']:>8.3f} {result['cpu']:>7.3f} "
              f"{('< %g' % target) if target else 'report':>8} "
              f"{result['rss_mb']:>8.1f}  {'yes' if good else 'NO'}")
    print("time: best wall-clock time of 3 runs in one process (cpu: best CPU time, steadier on "
          "a busy machine); RSS: that process's peak resident memory, interpreter included")
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--case":
        run_case(int(sys.argv[2]))
        sys.exit(0)
    sys.exit(main())
