"""Shared by tests/sense: a simulated repository process per module, a raw QRS caller.
Imported as `sense.sense_support` (tests/ is on pythonpath)."""
from __future__ import annotations

from typing import Any

import pytest
import requests

from demo.sense.process import SenseProcess

DISABLED = "0a0d1b1e-0000-4000-8000-000000000001"
SLOW = "0a0d1b1e-0000-4000-8000-000000000002"
FAILING = "0a0d1b1e-0000-4000-8000-000000000003"
EXTRA_TASKS = [
    {"id": DISABLED, "name": "Disabled task", "enabled": False, "tags": ["off"]},
    {"id": SLOW, "name": "Slow task", "tags": ["slow"], "run": {"seconds": 60}},
    {"id": FAILING, "name": "Failing task", "tags": ["O'Brien", "R&D #1"],
     "customProperties": {"owner": ["a'b"]}, "run": {"seconds": 2, "status": "FinishedFail"}},
]
XRFKEY = "abcdefghijklmnop"
USER = "UserDirectory=Internal; UserId=sa_repository"


class Qrs:
    """Raw calls to the simulator's repository port with the client certificate."""

    def __init__(self, sense: SenseProcess) -> None:
        self.sense = sense
        self.base = f"https://127.0.0.1:{sense.port}/qrs/"
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.cert = (str(sense.certs.client), str(sense.certs.client_key))

    def __call__(self, method: str, path: str, params: dict | None = None,
                 headers: dict | None = None, xrfkey: str | None = XRFKEY, **kwargs: Any
                 ) -> requests.Response:
        query = {"xrfkey": xrfkey} if xrfkey else {}
        hdrs = {"X-Qlik-Xrfkey": xrfkey, "X-Qlik-User": USER} if xrfkey else {"X-Qlik-User": USER}
        hdrs.update(headers or {})
        return self.session.request(method, self.base + path, params={**query, **(params or {})},
                                    headers={k: v for k, v in hdrs.items() if v is not None},
                                    verify=str(self.sense.certs.root), timeout=10, **kwargs)


@pytest.fixture(scope="module")
def sense(tmp_path_factory) -> SenseProcess:
    with SenseProcess(tmp_path_factory.mktemp("sense"), extra_tasks=EXTRA_TASKS, proxy=True) as s:
        yield s


@pytest.fixture
def qrs(sense: SenseProcess) -> Qrs:
    q = Qrs(sense)
    yield q
    q.session.close()
