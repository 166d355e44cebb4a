"""A throwaway PostgreSQL cluster for the session: Debian's server binaries, initdb into a
temporary directory, pg_ctl on a free loopback port. initdb refuses to run as root, so as
root the cluster runs as the `postgres` user (runuser). Skipped where there are no binaries
(.ci/run installs Debian's postgresql)."""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
from pathlib import Path

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

    def new_database(self, name: str) -> str:
        """The URL of a new, empty database `name` (dropped first if it exists)."""
        import psycopg
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def binaries() -> Path | None:
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(bins[-1]).parent if bins else None
