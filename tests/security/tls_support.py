"""Shared by tests/security (imported as `security.tls_support`; tests/ is on pythonpath):
certificates made by trustme for Valet's HTTPS listener, and its config section."""
from __future__ import annotations

from pathlib import Path

import trustme
from cryptography.hazmat.primitives import serialization


class Certs:
    """A CA, an intermediate CA and a server certificate for 127.0.0.1 issued by the latter."""

    def __init__(self, folder: Path) -> None:
        self.root = trustme.CA()
        intermediate = self.root.create_child_ca()
        leaf = intermediate.issue_cert("127.0.0.1", "localhost")
        self.ca = folder / "root.pem"
        self.intermediate = folder / "intermediate.pem"
        self.cert = folder / "cert.pem"  # the server's certificate alone
        self.chain = folder / "chain.pem"  # the server's certificate and the intermediate
        self.key = folder / "key.pem"
        self.root.cert_pem.write_to_path(str(self.ca))
        intermediate.cert_pem.write_to_path(str(self.intermediate))
        leaf.cert_chain_pems[0].write_to_path(str(self.cert))
        self.chain.write_bytes(b"".join(p.bytes() for p in leaf.cert_chain_pems[:2]))
        leaf.private_key_pem.write_to_path(str(self.key))
        self.leaf = leaf

    def encrypted_key(self, folder: Path, passphrase: bytes) -> Path:
        key = serialization.load_pem_private_key(self.leaf.private_key_pem.bytes(), None)
        path = folder / "encrypted_key.pem"
        path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.BestAvailableEncryption(passphrase)))
        return path


def tls_config(certs: Certs, cert: Path | None = None, **extra) -> dict:
    return {"restServerConfig": {"tls": {"enable": True, "cert": str(cert or certs.chain),
                                         "key": str(certs.key), **extra}}}
