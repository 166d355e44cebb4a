"""Certificates for the simulated repository, under the file names of Qlik's QMC export.

The QMC's certificate export writes `root.pem` (the CA), `client.pem` and `client_key.pem`;
Valet is configured with exactly those (Butler's `cert.clientCert`, `clientCertKey`,
`clientCertCA`). The simulator adds its own `server.pem`/`server_key.pem`, issued by the same
CA for localhost, 127.0.0.1 and ::1. Keys are RSA, as Qlik's export uses.
"""
from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import trustme

NAMES = ("root.pem", "client.pem", "client_key.pem", "server.pem", "server_key.pem")


@dataclass(frozen=True)
class CertPaths:
    root: Path
    client: Path
    client_key: Path
    server: Path
    server_key: Path


def ensure_certs(directory: Path) -> CertPaths:
    """Create a CA, a client and a server certificate in `directory` unless all five files exist."""
    directory = Path(directory)
    paths = CertPaths(*(directory / name for name in NAMES))
    if all(p.exists() for p in vars(paths).values()):
        return paths
    directory.mkdir(parents=True, exist_ok=True)
    rsa = trustme.KeyType.RSA
    ca = trustme.CA(organization_name="Valet simulated Qlik Sense", key_type=rsa)
    client = ca.issue_cert("QlikClient", common_name="QlikClient", key_type=rsa)
    server = ca.issue_cert("localhost", "127.0.0.1", "::1", common_name="localhost", key_type=rsa)
    ca.cert_pem.write_to_path(str(paths.root))
    client.cert_chain_pems[0].write_to_path(str(paths.client))
    client.private_key_pem.write_to_path(str(paths.client_key))
    with paths.server.open("wb") as f:
        for pem in server.cert_chain_pems:
            f.write(pem.bytes())
    server.private_key_pem.write_to_path(str(paths.server_key))
    return paths


def server_context(paths: CertPaths, require_client_cert: bool) -> ssl.SSLContext:
    """TLS for a listener; with `require_client_cert`, the handshake fails without a client
    certificate issued by root.pem (as the repository's port 4242 does)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(paths.server), str(paths.server_key))
    if require_client_cert:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(str(paths.root))
    return ctx
