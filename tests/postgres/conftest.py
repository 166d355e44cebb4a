"""A throwaway PostgreSQL cluster for the session: Debian's server binaries, initdb into a
temporary directory, pg_ctl on a free loopback port. initdb refuses to run as root, so as
root the cluster runs as the `postgres` user (runuser). Skipped where there are no binaries
(.ci/run installs Debian's postgresql)."""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from demo.processes import free_port


class Cluster:
    def __init__(self, bindir: Path, root: Path) -> None:
        self.bindir, self.data, self.sock = bindir, root / "data", root / "sock"
        self.port = free_port()
        self.as_owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def run(self, tool: str, *args: str) -> None:
        subprocess.run(self.as_owner + [str(self.bindir / tool), *args], check=True, capture_output=True)

    def create(self) -> None:
        for d in (self.data, self.sock):
            d.mkdir()
            if self.as_owner:
                shutil.chown(d, "postgres")
        self.run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres")

    def start(self) -> None:
        self.run("pg_ctl", "-D", str(self.data), "-w", "-l", str(self.sock / "pg.log"), "-o",
                 f"-p {self.port} -k {self.sock} -c listen_addresses=127.0.0.1", "start")

    def stop(self) -> None:
        self.run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"


@pytest.fixture(scope="session")
def cluster():
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not bins:
        pytest.skip("PostgreSQL server binaries missing: apt-get install -y postgresql")
    root = Path(tempfile.mkdtemp(prefix="valet-pg-"))
    os.chmod(root, 0o755)
    c = Cluster(Path(bins[-1]).parent, root)
    c.create()
    c.start()
    yield c
    c.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg_url(cluster, request):
    """A new, empty database for one test."""
    import psycopg
    name = "t_" + request.node.name.lower().replace("[", "_").replace("]", "").replace("-", "_")[:50]
    with psycopg.connect(cluster.url("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return cluster.url(name)
