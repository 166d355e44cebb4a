"""Table-driven emulator cases kept as data: every ``cases/*.yaml`` file is a list of cases.

Each case has:
- ``page``: the help.qlik.com page the expectation comes from;
- ``basis``: ``example`` (the page's own example and result), ``rule`` (follows from a rule the
  page states) or ``choice`` (our documented choice where the page is silent, listed in
  emulator/README.md);
- ``script``: the script text; ``files`` (optional): other files next to it, name -> text;
  ``now`` (optional): the time the run starts, ``YYYY-MM-DD hh:mm:ss``; ``system`` (optional):
  values of system functions, as ``--system NAME=VALUE`` sets them;
- ``expect``: any of ``vars`` {name: text or null}, ``absent`` [names], ``tables`` {name:
  {fields: [...], rows: [[...]]}}, ``trace`` [lines], ``error`` (a text the failure message
  contains; ``error_line`` the line it is reported on).
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from emulator.errors import ScriptError

CASES_DIR = Path(__file__).parent / "cases"
BASES = {"example", "rule", "choice"}


def _cases() -> list:
    params = []
    for path in sorted(CASES_DIR.glob("*.yaml")):
        for i, case in enumerate(yaml.safe_load(path.read_text(encoding="utf-8"))):
            label = case.get("name") or case["script"].splitlines()[0][:50]
            params.append(pytest.param(case, id=f"{path.stem}[{i}] {label}"))
    return params


def _options(case: dict) -> dict:
    options = {"system": case.get("system")}
    if "now" in case:
        moment = dt.datetime.fromisoformat(str(case["now"]))
        options["now"] = lambda: moment
    return options


@pytest.mark.parametrize("case", _cases())
def test_case(run, case: dict) -> None:
    assert case["basis"] in BASES, "basis must be example, rule or choice"
    assert case["page"].startswith("https://help.qlik.com/"), "cite the help page"
    expect = case["expect"]
    if "error" in expect:
        with pytest.raises(ScriptError) as caught:
            run(case["script"], files=case.get("files"), **_options(case))
        assert expect["error"] in caught.value.message
        if "error_line" in expect:
            assert caught.value.line == expect["error_line"]
        return
    runner = run(case["script"], files=case.get("files"), **_options(case))
    for name, value in expect.get("vars", {}).items():
        assert name in runner.variables, f"variable {name} is not set"
        assert runner.variable_text(name) == (None if value is None else str(value)), name
    for name in expect.get("absent", []):
        assert name not in runner.variables, name
    for name, table in expect.get("tables", {}).items():
        assert name in runner.model.tables, f"table {name} missing: {list(runner.model.tables)}"
        got = runner.model.tables[name]
        assert got.fields == table["fields"], name
        want = [[None if v is None else str(v) for v in row] for row in table["rows"]]
        assert got.texts() == want, name
    if "trace" in expect:
        assert runner.trace == [str(t) for t in expect["trace"]]
