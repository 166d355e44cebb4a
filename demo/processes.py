"""Starting and stopping the project's servers as real processes on free loopback
ports: Valet and Mosquitto (the simulated repository: demo/sense/process.py); used by the demo,
the tests and the benchmarks."""
from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Sequence

import requests
import yaml

from demo.sense.certs import CertPaths, ensure_certs

START_TOPIC = "qliksense/start_task"
MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"  # sbin is not on every PATH


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


class Mosquitto:
    """`mosquitto -c FILE` on 127.0.0.1; optional users (a password file) and TLS with
    client certificates (CA and certificates made with trustme)."""

    def __init__(self, workdir: Path, users: dict[str, str] | None = None, tls: bool = False,
                 port: int | None = None) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.users = users
        self.certs: CertPaths | None = ensure_certs(self.workdir / "certs") if tls else None
        self.log_path = self.workdir / "mosquitto.log"
        self.proc: subprocess.Popen | None = None

    def _config(self) -> str:
        # Started as root, mosquitto switches to its own user, who cannot read the test's
        # files; stay the current user (the option has no effect for anyone else).
        lines = [f"user {getpass.getuser()}", f"listener {self.port} 127.0.0.1", "persistence false",
                 f"log_dest file {self.log_path}", "log_type all",
                 f"allow_anonymous {'false' if self.users else 'true'}"]
        if self.users:
            password_file = self.workdir / "passwords"
            password_file.write_text("")
            for user, password in self.users.items():
                subprocess.run(["mosquitto_passwd", "-b", str(password_file), user, password],
                               check=True, capture_output=True)
            lines.append(f"password_file {password_file}")
        if self.certs:
            lines += [f"cafile {self.certs.root}", f"certfile {self.certs.server}",
                      f"keyfile {self.certs.server_key}", "require_certificate true"]
        return "\n".join(lines) + "\n"

    def start(self, timeout: float = 10.0) -> "Mosquitto":
        if self.proc is not None and self.proc.poll() is None:
            return self  # already running (`with broker.start():` must not start a second one)
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(self._config())
        out = (self.workdir / "mosquitto.out").open("ab")
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=out,
                                     stderr=subprocess.STDOUT)
        end = time.monotonic() + timeout
        while time.monotonic() < end and self.proc.poll() is None:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"mosquitto did not start on port {self.port}: "
                           f"{(self.workdir / 'mosquitto.out').read_text()[-500:]}")

    def stop(self) -> None:
        terminate(self.proc)
        self.proc = None

    def wait_for_subscriptions(self, topic: str, count: int, timeout: float = 20.0) -> int:
        """How many QoS 1 subscriptions to `topic` the broker has logged, once `count` (or at the
        timeout); mosquitto logs each as "CLIENT 1 TOPIC"."""
        end = time.monotonic() + timeout
        while True:
            lines = self.log_path.read_text().splitlines() if self.log_path.exists() else []
            found = sum(line.endswith(f" 1 {topic}") for line in lines)
            if found >= count or time.monotonic() > end:
                return found
            time.sleep(0.1)

    def __enter__(self) -> "Mosquitto":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def butler_config(self, **overrides) -> dict:
        """Butler's mqttConfig section for this broker."""
        return {"mqttConfig": {"enable": True, "brokerHost": "127.0.0.1", "brokerPort": self.port,
                               "subscriptionRootTopic": "qliksense/#",
                               "taskStartTopic": START_TOPIC, **overrides}}

    def tls_config(self) -> dict:
        """Valet.mqtt.tls for this broker's certificates (the client certificate included)."""
        return {"enable": True, "caFile": str(self.certs.root), "certFile": str(self.certs.client),
                "keyFile": str(self.certs.client_key)}
