"""Reload Stats (Ometis Ltd, https://github.com/ometisltd/code-snippets, folder `Reload Stats`;
no licence file: not redistributable) included from a folder connection as its README says
(``$(Must_Include=lib://PATH_TO_YOUR_PROJECT\\subReloadStats.qvs);``). Set
VALET_RELOADSTATS_SRC to the folder holding subReloadStats.qvs; see README.md in this folder.
Expectations come from its README: the fields it lists and their example values (Start
25/06/2018 15:39:43, End 15:39:58, Duration 00:00:15), the Trace of each duration, the QVD
named after the app and the time of SetupLog."""
from __future__ import annotations

import datetime as dt
import io
import os
from pathlib import Path

import pytest

from emulator.runner import Runner

SRC = os.environ.get("VALET_RELOADSTATS_SRC")
pytestmark = pytest.mark.skipif(not SRC or not (Path(SRC) / "subReloadStats.qvs").is_file(),
                                reason="set VALET_RELOADSTATS_SRC to the Reload Stats folder")

# The README's own steps; its samples leave out the `)` closing each Call, added here.
STAGE = "CALL {}('$(vStage1)','$(vStage2)','$(vStage3)','$(vStage4)');\n"
SCRIPT = ("SET TimeFormat='hh:mm:ss';\nSET DateFormat='DD/MM/YYYY';\n"
          "SET TimestampFormat='DD/MM/YYYY hh:mm:ss';\n"
          "$(Must_Include=lib://ReloadStats\\subReloadStats.qvs);\n"
          "CALL SetupLog('lib://Logs', 'Sales');\n"
          "let vStage1='Load';\nlet vStage2='Raw Data';\nlet vStage3='SQL Database';\n"
          "let vStage4='Company 1';\n" + STAGE.format("StartLog") +
          "Sleep 15000;\n" + STAGE.format("StopLog") +
          "let vStage4='Company 2';\n" + STAGE.format("StartLog") +
          "Data: LOAD RecNo() as x AutoGenerate 3;\nSleep 2000;\n" + STAGE.format("StopLog") +
          "CALL CleanupLog;\n")


class Clock:
    """Now() as the README's example starts; Sleep moves it on."""

    def __init__(self) -> None:
        self.time = dt.datetime(2018, 6, 25, 15, 39, 43)

    def now(self) -> dt.datetime:
        return self.time

    def sleep(self, seconds: float) -> None:
        self.time += dt.timedelta(seconds=seconds)


@pytest.fixture
def run(tmp_path: Path):
    def run_script(script: str) -> Runner:
        clock = Clock()
        runner = Runner(out=io.StringIO(), libs={"ReloadStats": SRC, "Logs": str(tmp_path)},
                        now=clock.now, sleep=clock.sleep)
        runner.run_text(script)
        return runner
    return run_script


def by_field(runner: Runner, table: str) -> list[dict]:
    t = runner.model.tables[table]
    return [dict(zip(t.fields, row)) for row in t.texts()]


def test_each_stage_gets_its_start_end_and_duration(run) -> None:
    runner = run(SCRIPT)
    first, second = by_field(runner, "ReloadStats")
    assert first == {"%ReloadStats.Stage1": "Load", "%ReloadStats.Stage2": "Raw Data",
                     "%ReloadStats.Stage3": "SQL Database", "%ReloadStats.Stage4": "Company 1",
                     "%ReloadStats.StageNo": "1", "%ReloadStats.Start": "25/06/2018 15:39:43",
                     "%ReloadStats.End": "25/06/2018 15:39:58",
                     "%ReloadStats.Duration": "00:00:15", "%ReloadStats.InProgress": "0"}
    assert (second["%ReloadStats.Stage4"], second["%ReloadStats.StageNo"],
            second["%ReloadStats.Duration"]) == ("Company 2", "2", "00:00:02")
    assert runner.out.getvalue().splitlines()[-2:] == [
        "[Load]-[Raw Data]-[SQL Database]-[Company 1] took 00:00:15",
        "[Load]-[Raw Data]-[SQL Database]-[Company 2] took 00:00:02"]
    assert runner.variable_text("vReloadStatsDuration") is None  # CleanupLog resets it


def test_the_log_is_stored_as_a_qvd_named_after_the_app(run, tmp_path: Path) -> None:
    """README: "If a path is specified it will store a QVD with the App Name and timestamp"."""
    run(SCRIPT)
    stored = tmp_path / "20180625-153943 Sales.qvd"
    assert [p.name for p in tmp_path.iterdir()] == [stored.name]
    runner = run(f"Log: LOAD * FROM [{stored}] (qvd);\n")
    assert [row["%ReloadStats.InProgress"] for row in by_field(runner, "Log")] == ["0", "0"]


def test_a_stage_in_progress_is_marked(run) -> None:
    """README: InProgress, "Binary", 1 while the stage runs (StartLog stores it so)."""
    runner = run(SCRIPT.split("Sleep 15000;")[0])
    assert [row["%ReloadStats.InProgress"] for row in by_field(runner, "ReloadStats")] == ["1"]
