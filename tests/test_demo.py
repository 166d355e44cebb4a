"""The README's main job: `python -m demo` runs its whole story and exits 0."""
import subprocess
import sys
from pathlib import Path


def test_demo_runs_end_to_end():
    root = Path(__file__).resolve().parents[1]
    r = subprocess.run([sys.executable, "-m", "demo"], cwd=root, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert "FAIL" not in r.stdout and "all steps held" in r.stdout


def test_help_prints_help_instead_of_running_the_demo():
    r = subprocess.run([sys.executable, "-m", "demo", "--help"], capture_output=True, text=True,
                       timeout=20, cwd=Path(__file__).resolve().parents[1])
    assert r.returncode == 0 and r.stdout.startswith("usage: python -m demo")
    assert "demo:" not in r.stdout  # the timeline's summary line: nothing ran


def test_version():
    r = subprocess.run([sys.executable, "-m", "demo", "--version"], capture_output=True, text=True,
                       timeout=20, cwd=Path(__file__).resolve().parents[1])
    assert r.returncode == 0 and r.stdout.startswith("Valet demo ")
