"""Shared fixtures: real Valet processes on free loopback ports."""
from __future__ import annotations

import os
import re
import shutil
import tempfile
import uuid
from pathlib import Path

import pytest

import pg
from demo.processes import Valet


@pytest.fixture
def start_valet(tmp_path: Path):
    """Factory: start_valet(butler={...}, valet={...}, workers=0) -> a running Valet."""
    started: list[Valet] = []

    def start(butler: dict | None = None, valet: dict | None = None, workers: int = 0) -> Valet:
        log = (tmp_path / f"valet{len(started)}.log").open("w")
        server = Valet(tmp_path / f"valet{len(started)}", butler, valet, workers, log=log)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="module")
def valet(tmp_path_factory) -> Valet:
    """One Valet with default settings, shared by a test module."""
    server = Valet(tmp_path_factory.mktemp("valet"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def ns() -> str:
    """A namespace of the test's own, so tests sharing a server never meet."""
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def cluster():
    """A throwaway PostgreSQL cluster for the session (tests/pg.py)."""
    bindir = pg.binaries()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries missing: apt-get install -y postgresql")
    root = Path(tempfile.mkdtemp(prefix="valet-pg-"))
    os.chmod(root, 0o755)  # the postgres user reaches its directories inside
    c = pg.Cluster(bindir, root)
    c.create()
    c.start()
    yield c
    c.stop()
    shutil.rmtree(root, ignore_errors=True)


def _database_name(request) -> str:
    return "t_" + re.sub(r"[^a-z0-9]+", "_", request.node.name.lower())[:50]


@pytest.fixture
def pg_url(cluster, request) -> str:
    """A new, empty PostgreSQL database for one test."""
    return cluster.new_database(_database_name(request))


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database_valet(request, tmp_path_factory) -> Valet:
    """One Valet per module on each store: SQLite (the default) and PostgreSQL."""
    valet = {}
    if request.param == "postgresql":
        valet["databaseUrl"] = request.getfixturevalue("cluster").new_database(_database_name(request))
    server = Valet(tmp_path_factory.mktemp("valet"), valet=valet)
    server.start()
    yield server
    server.stop()
