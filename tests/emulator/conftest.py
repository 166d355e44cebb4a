"""Fixtures for the emulator's language tests: run a script text, get the Runner back."""
from __future__ import annotations

import io
from pathlib import Path

import pytest

from emulator.runner import Runner


@pytest.fixture
def run(tmp_path: Path):
    """run(script, variables=None, files=None, connections=None) -> Runner.

    The script is written to tmp_path/main.qvs (so includes resolve against tmp_path); files
    maps extra file names to their text. Trace output is collected, Sleep does not sleep."""
    def run_script(script: str, variables: dict | None = None, files: dict | None = None,
                   connections: dict | None = None) -> Runner:
        for name, content in (files or {}).items():
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / name).write_text(content, encoding="utf-8")
        main = tmp_path / "main.qvs"
        main.write_text(script, encoding="utf-8")
        runner = Runner(connections, variables, out=io.StringIO(), sleep=lambda s: None)
        runner.run_file(main)
        return runner
    return run_script

