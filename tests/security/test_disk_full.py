"""A full disk, for real: Valet's data directory on a small tmpfs (Linux, as root). /health
reports the disk down (degraded, since reads still work) once little room is left or a write
failed for lack of it, and a write answers 507 saying "disk full", in the JSON error shape,
instead of a generic 500; what was stored before stays readable."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from demo.processes import Valet
from helpers import assert_error

@pytest.fixture
def small_disk(tmp_path):
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        pytest.skip("mounts a tmpfs: Linux, as root")
    mount = tmp_path / "disk"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)]).returncode:
        pytest.skip("cannot mount a tmpfs here")
    yield mount
    subprocess.run(["umount", "-l", str(mount)])


def _disk_check(valet: Valet) -> tuple[int, str, dict]:
    r = requests.get(f"{valet.url}/health", timeout=10)
    body = r.json()
    return r.status_code, body["status"], next(c for c in body["checks"] if c["name"] == "disk")


def test_a_full_disk_is_reported_and_writes_answer_507(small_disk, tmp_path):
    valet = Valet(tmp_path / "valet", valet={"dataDir": str(small_disk)},
                  log=(tmp_path / "valet.log").open("w")).start()
    try:
        code, status, disk = _disk_check(valet)
        assert (code, status, disk["status"], disk["required"]) == (200, "ok", "up", False)
        assert requests.post(f"{valet.url}/v4/keyvalues/ns", json={"key": "kept", "value": "v"},
                             timeout=10).status_code == 201
        # Leave less than the check's 1 MiB of room: the check is down before any write fails.
        free = shutil.disk_usage(small_disk).free
        (small_disk / "filler").write_bytes(b"\0" * (free - 512 * 1024))
        code, status, disk = _disk_check(valet)
        assert (code, status, disk["status"]) == (200, "degraded", "down")
        assert "disk full" in disk["detail"] and "bytes free" in disk["detail"]
        # Fill the rest with keys until the database cannot grow.
        for n in range(2000):
            r = requests.post(f"{valet.url}/v4/keyvalues/ns", json={"key": f"k{n}", "value": "x" * 4000},
                              timeout=10)
            if r.status_code != 201:
                break
        error = assert_error(r, 507)
        assert error["message"].startswith("disk full") and "nothing was stored" in error["message"]
        assert requests.get(f"{valet.url}/v4/keyvalues/ns", params={"key": f"k{n}"},
                            timeout=10).status_code == 400  # the refused write left nothing
        assert requests.get(f"{valet.url}/v4/keyvalues/ns", params={"key": "kept"},
                            timeout=10).json()["value"] == "v"
        code, status, disk = _disk_check(valet)
        assert (code, status) == (200, "degraded") and "a write failed" in disk["detail"]
    finally:
        valet.stop()
    assert "Traceback" not in (tmp_path / "valet.log").read_text()


def test_the_free_space_threshold_is_configurable(tmp_path):
    """`Valet.health.minFreeDiskBytes`: above the free space, the check is down (degraded,
    200, as for a nearly full disk) though writes still work; 0 turns the free-space part off."""
    free = shutil.disk_usage(tmp_path).free
    above = Valet(tmp_path / "above", valet={"health": {"minFreeDiskBytes": free + 2**40}})
    with above:
        code, status, disk = _disk_check(above)
        assert (code, status, disk["status"]) == (200, "degraded", "down")
        assert "Valet.health.minFreeDiskBytes" in disk["detail"] and "bytes free" in disk["detail"]
        assert requests.post(f"{above.url}/v4/keyvalues/ns", json={"key": "k", "value": "v"},
                             timeout=10).status_code == 201
    for minimum in (0, 4096):
        below = Valet(tmp_path / f"below{minimum}", valet={"health": {"minFreeDiskBytes": minimum}})
        with below:
            code, status, disk = _disk_check(below)
            assert (code, status, disk["status"]) == (200, "ok", "up"), disk
            assert "MiB free" in disk["detail"]


def test_a_wrong_threshold_stops_start_up_naming_the_key(tmp_path):
    valet = Valet(tmp_path, valet={"health": {"minFreeDiskBytes": -1}})
    r = subprocess.run([sys.executable, "-m", "server", "--config", str(valet.config_path)],
                       capture_output=True, text=True, timeout=60, cwd=Path(__file__).resolve().parents[2])
    assert r.returncode == 2 and "Valet.health.minFreeDiskBytes" in r.stderr, r.stderr
