"""The simulated repository as a real process (`python -m demo.sense`) on free loopback ports,
for tests, benchmarks and the demo: start, stop, read its request log, switch its faults."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests
import yaml

from demo.processes import free_port, terminate
from demo.sense.certs import CertPaths, ensure_certs
from demo.sense.seed import DEFAULT_SEED, SAFE_DUMPER, SAFE_LOADER

ADMIN_TIMEOUT = 5


class SenseProcess:
    def __init__(self, workdir: Path, *args: str, seed: Path | None = None,
                 extra_tasks: list[dict] | None = None, latency_ms: int = 0,
                 proxy: bool = False, start_timeout: float = 20.0) -> None:
        """`extra_tasks`: seed entries (SPEC §4 format) added to `seed` (default: the
        reference document's tasks); `start_timeout`: of `with` (a big seed takes a while)."""
        self.start_timeout = start_timeout
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        if extra_tasks:
            seed = self._merged_seed(seed or DEFAULT_SEED, extra_tasks)
        self.port, self.admin_port = free_port(), free_port()
        self.proxy_port = free_port() if proxy else None
        self.certs: CertPaths = ensure_certs(self.workdir / "certs")
        self.log_path = self.workdir / f"qrs-{self.port}.jsonl"
        self.args = ["--port", str(self.port), "--certs", str(self.workdir / "certs"),
                     "--log", str(self.log_path), "--latency-ms", str(latency_ms),
                     "--admin-port", str(self.admin_port), *args]
        if seed:
            self.args += ["--seed", str(seed)]
        if proxy:
            self.args += ["--proxy-port", str(self.proxy_port)]
        self.proc: subprocess.Popen | None = None

    def _merged_seed(self, base: Path, extra_tasks: list[dict]) -> Path:
        data = yaml.load(Path(base).read_text(encoding="utf-8"), Loader=SAFE_LOADER)
        data["tasks"] = data["tasks"] + extra_tasks
        path = self.workdir / "seed.yaml"
        path.write_text(yaml.dump(data, Dumper=SAFE_DUMPER, allow_unicode=True), encoding="utf-8")
        return path

    def run_scripts(self, valet_url: str, connections: Path | None = None,
                    variables: dict[str, str] | None = None) -> None:
        """Run the seed's `script:` files in the emulator against Valet at `valet_url`, with
        these REST connections and preset variables (call before `start`)."""
        self.args += ["--valet", valet_url]
        if connections is not None:
            self.args += ["--connections", str(connections)]
        for name, value in (variables or {}).items():
            self.args += ["--script-var", f"{name}={value}"]

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.admin_port}"

    def start(self, timeout: float = 20.0) -> "SenseProcess":
        out = (self.workdir / f"sense-{self.port}.out").open("ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "demo.sense", *self.args],
                                     stdout=out, stderr=subprocess.STDOUT,
                                     cwd=Path(__file__).resolve().parents[2],
                                     env={**os.environ, "PYTHONUNBUFFERED": "1"})
        end = time.monotonic() + timeout
        while time.monotonic() < end and self.proc.poll() is None:
            try:
                requests.get(f"{self.admin_url}/faults", timeout=1)
                return self
            except requests.ConnectionError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"simulated repository did not start on port {self.port}")

    def stop(self) -> None:
        terminate(self.proc)
        self.proc = None

    def __enter__(self) -> "SenseProcess":
        return self.start(self.start_timeout)

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def requests(self) -> list[dict]:
        """Every request logged so far (JSON lines)."""
        if not self.log_path.exists():
            return []
        return [json.loads(line) for line in self.log_path.read_text(encoding="utf-8").splitlines()
                if line.strip()]

    def set_faults(self, refuse: bool = False, rules: list[dict] | None = None) -> None:
        r = requests.put(f"{self.admin_url}/faults", json={"refuse": refuse, "rules": rules or []},
                         timeout=ADMIN_TIMEOUT)
        r.raise_for_status()

    def clear_faults(self) -> None:
        requests.delete(f"{self.admin_url}/faults", timeout=ADMIN_TIMEOUT).raise_for_status()

    def runs(self) -> list[dict]:
        return requests.get(f"{self.admin_url}/runs", timeout=ADMIN_TIMEOUT).json()
