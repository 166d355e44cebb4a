"""A finished run is freed by reference counting alone: no reference cycle holds its Runner,
its data model or its tables, so memory comes back when the Runner goes out of scope even with
the garbage collector off (or before it runs)."""
from __future__ import annotations

import gc
import io
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

from emulator.runner import Runner

SCRIPT = """Set DateFormat = 'YYYY-MM-DD';
T: LOAD RecNo() as n, Date(40000 + RecNo()) as d AutoGenerate 5;
U: LOAD n, n * 2 as m Resident T Where Exists(n) and RowNo() < 4;
G: LOAD Sum(n) as total, Concat(n, ',') as all Resident T;
Sub Count(name)
  Let rows = NoOfRows(name) + Peek('n', 0, 'T');
End Sub
For Each t in 'T', 'U'
  Call Count(t);
Next t
"""


@contextmanager
def collector_off() -> Iterator[None]:
    was = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def cycles_left() -> set[str]:
    """The emulator types the garbage collector would have to free (objects in cycles)."""
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
        return {type(o).__qualname__ for o in gc.garbage if type(o).__module__.startswith("emulator")}
    finally:
        gc.set_debug(0)
        gc.garbage.clear()


def test_a_finished_runs_tables_are_freed_when_the_runner_goes() -> None:
    with collector_off():
        runner = Runner(out=io.StringIO())
        runner.run_text(SCRIPT)
        assert runner.variable_text("rows") == "4"
        table, model = weakref.ref(runner.model.tables["T"]), weakref.ref(runner.model)
        del runner
        assert table() is None and model() is None


def test_no_case_script_leaves_a_cycle(tmp_path: Path) -> None:
    """Every script of the case tables (cases/*.yaml), failing ones included."""
    with collector_off():
        for path in sorted((Path(__file__).parent / "cases").glob("*.yaml")):
            for i, case in enumerate(yaml.safe_load(path.read_text(encoding="utf-8"))):
                folder = tmp_path / f"{path.stem}-{i}"
                for name, content in {**case.get("files", {}), "main.qvs": case["script"]}.items():
                    (folder / name).parent.mkdir(parents=True, exist_ok=True)
                    (folder / name).write_text(content, encoding="utf-8")
                try:
                    Runner(out=io.StringIO(), sleep=lambda s: None,
                           system=case.get("system")).run_file(folder / "main.qvs")
                except Exception:  # the failing cases: the error must not keep the run alive
                    pass
                assert not cycles_left(), f"{path.name}[{i}]"
