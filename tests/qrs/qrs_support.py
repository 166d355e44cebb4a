"""What the repository client's tests share: the user header and settings for a repository."""
from __future__ import annotations

from demo.sense.process import SenseProcess
from server.qrs import QrsSettings

USER = {"X-Qlik-User": "UserDirectory=Internal;UserId=sa_repository"}


def verified_settings(sense: SenseProcess) -> QrsSettings:
    """Certificate authentication, the server checked against the repository's root.pem."""
    return QrsSettings(host="127.0.0.1", port=sense.port, headers=USER,
                       client_cert=str(sense.certs.client), client_key=str(sense.certs.client_key),
                       ca_cert=str(sense.certs.root), reject_unauthorized=True, timeout=5)
