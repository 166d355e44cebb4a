"""What the repository client's tests share: the user header, settings for a repository, and the
fixtures built on a module's `sense` (the simulated repository it starts)."""
from __future__ import annotations

import pytest

from demo.sense.process import SenseProcess
from server.qrs import QrsSettings

USER = {"X-Qlik-User": "UserDirectory=Internal;UserId=sa_repository"}


def verified_settings(sense: SenseProcess) -> QrsSettings:
    """Certificate authentication, the server checked against the repository's root.pem."""
    return QrsSettings(host="127.0.0.1", port=sense.port, headers=USER,
                       client_cert=str(sense.certs.client), client_key=str(sense.certs.client_key),
                       ca_cert=str(sense.certs.root), reject_unauthorized=True, timeout=5)


@pytest.fixture
def settings(sense: SenseProcess) -> QrsSettings:
    return verified_settings(sense)


@pytest.fixture(autouse=True)
def no_faults(sense: SenseProcess):
    """Each test starts with the repository's faults cleared by the one before."""
    yield
    sense.clear_faults()
