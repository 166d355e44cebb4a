"""QLib (https://github.com/mvsenin/QLib, no licence file: not redistributable) included file by
file from a folder connection, as its QLib.qvs does (``$(Must_Include=$(QLibBasePath)/...)``).
Set VALET_QLIB_SRC to QLib's src folder to run these tests; see README.md in this folder."""
from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from emulator.runner import Runner

SRC = os.environ.get("VALET_QLIB_SRC")
pytestmark = pytest.mark.skipif(not SRC or not (Path(SRC) / "DropTable.qvs").is_file(),
                                reason="set VALET_QLIB_SRC to QLib's src folder")


def run(script: str) -> Runner:
    runner = Runner(out=io.StringIO(), libs={"QLib": SRC})
    runner.run_text("$(Must_Include=lib://QLib/DropTable.qvs);\n"
                    "$(Must_Include=lib://QLib/MonthDiff.qvs);\n" + script)
    return runner


def test_drop_table_drops_the_tables_that_exist() -> None:
    """README: "DropTable(pDropTable_TableNames) ... Drops tables, if they exist", names
    "delimited with comma"."""
    runner = run("A: LOAD 1 as a AutoGenerate 1;\nB: LOAD 2 as b AutoGenerate 1;\n"
                 "C: LOAD 3 as c AutoGenerate 1;\nCall DropTable('A, C, Missing');\n")
    assert list(runner.model.tables) == ["B"]


def test_month_diff() -> None:
    """MonthDiff.qvs: "Calculates diff in months between two months formatted as YYYYMM
    numbers", usage ``$(MonthDiff(202301, 202201))``."""
    runner = run("Let a = $(MonthDiff(202301, 202201));\nLet b = $(MonthDiff(202303, 202211));\n")
    assert (runner.variable_text("a"), runner.variable_text("b")) == ("12", "4")
