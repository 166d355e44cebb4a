"""Secrets in the configuration, and the API keys built from them.

A secret is given as text, or as `{file: PATH}` (the file's content, surrounding whitespace
removed) or `{env: NAME}` (an environment variable), so that the config file need not hold it.
API keys (`Valet.apiKeys`, `VALET_API_KEYS`) are a list of `{name, key, scopes}`; the name,
never the key, is what logs and the audit show.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

SCOPES = ("kv:read", "kv:write", "task:start", "admin")


def resolve_secret(value: Any) -> str:
    """The text of a secret given as text, {file: PATH} or {env: NAME}; ValueError if unusable."""
    if isinstance(value, str) and value:
        return value
    if isinstance(value, dict) and len(value) == 1:
        (kind, where), = value.items()
        if kind == "file" and isinstance(where, str):
            try:
                text = Path(where).read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError) as e:
                raise ValueError(f"cannot read the secret file {where}: {e}") from None
            if not text:
                raise ValueError(f"the secret file {where} is empty")
            return text
        if kind == "env" and isinstance(where, str):
            text = os.environ.get(where, "")
            if not text:
                raise ValueError(f"the environment variable {where} is not set or empty")
            return text
    raise ValueError("expected the secret as text, {file: PATH} or {env: NAME}")


@dataclass(frozen=True)
class ApiKey:
    name: str
    digest: bytes  # SHA-256 of the key: the key itself is not kept
    scopes: frozenset[str]

    def __repr__(self) -> str:  # never show even the digest
        return f"ApiKey({self.name!r}, scopes={sorted(self.scopes)})"


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


def _scopes(raw: Any, name: str) -> frozenset[str]:
    if raw is None:
        return frozenset(SCOPES)
    if isinstance(raw, str):
        raw = [s.strip() for s in raw.split(",")]
    if not isinstance(raw, list) or not raw or not all(isinstance(s, str) for s in raw):
        raise ValueError(f"key {name!r}: scopes must be a non-empty list of {', '.join(SCOPES)}")
    unknown = sorted(set(raw) - set(SCOPES))
    if unknown:
        raise ValueError(f"key {name!r}: unknown scope(s) {', '.join(unknown)}; "
                         f"use {', '.join(SCOPES)}")
    return frozenset(raw)


def parse_api_keys(raw: Any) -> tuple[ApiKey, ...]:
    """`[{name, key, scopes}, …]`, from YAML or (as YAML/JSON text) from the environment."""
    if isinstance(raw, str):
        try:
            raw = yaml.safe_load(raw)
        except yaml.YAMLError:
            raise ValueError("expected a YAML or JSON list of {name, key, scopes}") from None
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ValueError("expected a list of {name, key, scopes} mappings")
    keys: list[ApiKey] = []
    for n, entry in enumerate(raw, start=1):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) \
                or not entry["name"] or "key" not in entry or set(entry) - {"name", "key", "scopes"}:
            raise ValueError(f"entry {n}: expected a mapping with name, key and optional scopes")
        name = entry["name"]
        if any(k.name == name for k in keys):
            raise ValueError(f"entry {n}: the name {name!r} is used twice")
        try:
            secret = resolve_secret(entry["key"])
        except ValueError as e:
            raise ValueError(f"key {name!r}: {e}") from None
        keys.append(ApiKey(name, _digest(secret), _scopes(entry.get("scopes"), name)))
    if len({k.digest for k in keys}) < len(keys):
        raise ValueError("two entries have the same key; give each client its own")
    return tuple(keys)


def find_key(keys: tuple[ApiKey, ...], presented: str) -> ApiKey | None:
    """The configured key equal to `presented`, compared in constant time: every key is
    compared, and digests of equal length, so the time says nothing about any key."""
    digest = _digest(presented)
    found = None
    for key in keys:
        if hmac.compare_digest(key.digest, digest):
            found = key
    return found


class EncryptedKeyWithoutPassphrase(Exception):
    """An encrypted private key was configured without its passphrase."""


def _never_prompt() -> str:
    # Called by OpenSSL only for an encrypted key; without it OpenSSL would block the
    # thread on a terminal prompt (Enter PEM pass phrase:).
    raise EncryptedKeyWithoutPassphrase


def load_cert_chain(context: ssl.SSLContext, cert: str, key: str, passphrase: str | None) -> None:
    """Load a certificate and its key into `context`, never prompting for a passphrase:
    an encrypted key without one raises EncryptedKeyWithoutPassphrase."""
    context.load_cert_chain(cert, key, password=passphrase or _never_prompt)
