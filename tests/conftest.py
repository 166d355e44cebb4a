"""Shared fixtures: real Valet processes on free loopback ports."""
from __future__ import annotations

import uuid
from pathlib import Path

import pytest

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
