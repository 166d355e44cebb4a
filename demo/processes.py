"""Starting and stopping the project's servers as real processes on free loopback
ports: used by the demo and by the tests."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Sequence

import requests
import yaml


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def terminate(proc: subprocess.Popen | None, timeout: float = 10.0) -> None:
    """SIGTERM, wait up to `timeout`, then kill."""
    if proc is not None and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_until_ready(url: str, timeout: float = 20.0, proc: subprocess.Popen | None = None,
                     verify: str | bool = True) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            requests.get(url, timeout=1, verify=verify)
            return True
        except (requests.ConnectionError, requests.Timeout):  # not up yet, or slow to answer
            time.sleep(0.05)
    return False


class Valet:
    """A Valet server (`python -m server`) on a free port with its own data directory;
    with `ca` (the CA file its HTTPS certificate is checked against), over HTTPS."""

    def __init__(self, data_dir: Path, butler: dict | None = None, valet: dict | None = None,
                 workers: int = 0, log: IO | None = None, env: dict | None = None,
                 args: Sequence[str] = (), ca: str | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.env = env or {}
        self.args = list(args)
        self.port = free_port()
        self.verify: str | bool = ca or True
        self.url = f"{'https' if ca else 'http'}://127.0.0.1:{self.port}"
        self.workers = workers
        self.log = log
        self.config_path = self.data_dir / "valet.yaml"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        butler = dict(butler or {})
        rest = {"serverHost": "127.0.0.1", "serverPort": self.port, **butler.pop("restServerConfig", {})}
        config = {"Butler": {"restServerConfig": rest, **butler},
                  "Valet": {"dataDir": str(self.data_dir / "data"), **(valet or {})}}
        self.config_path.write_text(yaml.safe_dump(config))
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 30.0) -> "Valet":
        args = [sys.executable, "-m", "server", "--config", str(self.config_path), *self.args]
        if self.workers:
            args += ["--workers", str(self.workers)]
        self.proc = subprocess.Popen(args, stdout=self.log or subprocess.DEVNULL,
                                     stderr=subprocess.STDOUT if self.log else subprocess.DEVNULL,
                                     cwd=Path(__file__).resolve().parent.parent,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1", **self.env})
        if not wait_until_ready(f"{self.url}/health", timeout, self.proc, self.verify):
            self.stop(signal.SIGKILL)
            raise RuntimeError(f"Valet did not start on port {self.port}")
        return self

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int | None:
        """Send `sig` and wait; returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        code, self.proc = self.proc.returncode, None
        return code

    def __enter__(self) -> "Valet":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
