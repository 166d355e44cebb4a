"""Valet's configuration: one YAML file in Butler's layout plus a `Valet:` section,
environment overrides, command-line overrides, defaults. Loaded once at start-up.

Every key Valet reads is one row of OPTIONS below; that table is the whole contract
(the README lists it). Precedence: command line, environment, file, defaults.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import yaml

from server.rate_limits import parse_rate
from server.credentials import parse_api_keys, resolve_secret

log = logging.getLogger(__name__)


class ConfigError(ValueError):
    """A configuration value is wrong; the message names the key."""


# --- value parsers: each takes the raw value (from YAML or an env string) -------------


def _bool(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, str) and v.strip().lower() in ("true", "false", "1", "0", "yes", "no"):
        return v.strip().lower() in ("true", "1", "yes")
    raise ValueError(f"expected true or false, got {v!r}")


def _int_between(low: int, high: int | None = None) -> Callable[[Any], int]:
    def parse(v: Any) -> int:
        if isinstance(v, bool):
            raise ValueError(f"expected a whole number, got {v!r}")
        try:
            n = int(v) if isinstance(v, int) else int(str(v).strip())
        except ValueError:
            raise ValueError(f"expected a whole number, got {v!r}") from None
        if n < low or (high is not None and n > high):
            bounds = f"from {low} to {high}" if high is not None else f"of at least {low}"
            raise ValueError(f"expected a whole number {bounds}, got {n}")
        return n

    return parse


def _number_at_least(low: float) -> Callable[[Any], float]:
    def parse(v: Any) -> float:
        if isinstance(v, bool):
            raise ValueError(f"expected a number, got {v!r}")
        try:
            n = float(v)
        except (TypeError, ValueError):
            raise ValueError(f"expected a number, got {v!r}") from None
        if n < low:
            raise ValueError(f"expected a number of at least {low}, got {n}")
        return n

    return parse


def _str(v: Any) -> str:
    if isinstance(v, (str, int)) and not isinstance(v, bool):
        return str(v)
    raise ValueError(f"expected text, got {v!r}")


def _optional_str(v: Any) -> str | None:
    return None if v is None or v == "" else _str(v)


def _optional_secret(v: Any) -> str | None:
    return None if v is None or v == "" else resolve_secret(v)


def _str_list(v: Any) -> list[str]:
    if isinstance(v, str):  # from the environment: comma-separated
        return [s.strip() for s in v.split(",") if s.strip()]
    if v is None:
        return []
    if isinstance(v, list) and all(isinstance(s, (str, int)) and not isinstance(s, bool) for s in v):
        return [str(s) for s in v]
    raise ValueError(f"expected a list of text values, got {v!r}")


def _name_value_list(v: Any) -> list[dict[str, str]]:
    if v is None:
        return []
    ok = isinstance(v, list) and all(
        isinstance(i, dict) and set(i) == {"name", "value"} for i in v)
    if not ok:
        raise ValueError(f"expected a list of {{name, value}} mappings, got {v!r}")
    return [{"name": str(i["name"]), "value": str(i["value"])} for i in v]


def _one_of(*choices: str) -> Callable[[Any], str]:
    def parse(v: Any) -> str:
        if v in choices:
            return v
        raise ValueError(f"expected one of {', '.join(choices)}, got {v!r}")

    return parse


_port = _int_between(0, 65535)


@dataclass(frozen=True)
class Option:
    key: str
    parse: Callable[[Any], Any]
    default: Any = None
    env: str | None = None
    used: bool = True  # False: accepted for Butler compatibility, has no effect in Valet


OPTIONS: list[Option] = [
    Option("Butler.restServerConfig.enable", _bool, True),
    Option("Butler.restServerConfig.serverHost", _str, "127.0.0.1", env="VALET_HOST"),
    Option("Butler.restServerConfig.serverPort", _port, 8080, env="VALET_PORT"),
    Option("Butler.restServerConfig.backgroundServerPort", _port, used=False),
    Option("Butler.restServerEndpointsEnable.butlerping", _bool, True),
    Option("Butler.restServerEndpointsEnable.keyValueStore", _bool, True),
    # None: enabled when a repository is configured (Butler.configQRS.host).
    Option("Butler.restServerEndpointsEnable.senseStartTask", _bool, None),
    Option("Butler.keyValueStore.enable", _bool, True),
    Option("Butler.keyValueStore.maxKeysPerNamespace", _int_between(1), 1000),
    Option("Butler.startTaskFilter.enable", _bool, False),
    Option("Butler.startTaskFilter.allowTask.taskId", _str_list, []),
    Option("Butler.startTaskFilter.allowTask.tag", _str_list, []),
    Option("Butler.startTaskFilter.allowTask.customProperty", _name_value_list, []),
    Option("Butler.mqttConfig.enable", _bool, False),
    Option("Butler.mqttConfig.brokerHost", _str, "127.0.0.1"),
    Option("Butler.mqttConfig.brokerPort", _port, 1883),
    Option("Butler.mqttConfig.subscriptionRootTopic", _str, "qliksense/#"),
    Option("Butler.mqttConfig.taskStartTopic", _str, "qliksense/start_task"),
    Option("Butler.configQRS.authentication", _one_of("certificates", "header"), "certificates"),
    Option("Butler.configQRS.host", _optional_str, None, env="VALET_QRS_HOST"),
    Option("Butler.configQRS.port", _port, 4242, env="VALET_QRS_PORT"),
    Option("Butler.configQRS.useSSL", _bool, True),
    Option("Butler.configQRS.headers.static", _name_value_list, []),
    # Verify the repository's certificate against Butler.cert.clientCertCA (root.pem); false
    # (Butler's default) is allowed with a warning at start-up.
    Option("Butler.configQRS.rejectUnauthorized", _bool, True),
    Option("Butler.cert.clientCert", _optional_str, None),
    Option("Butler.cert.clientCertKey", _optional_str, None),
    Option("Butler.cert.clientCertCA", _optional_str, None),
    Option("Valet.dataDir", _str, "./data", env="VALET_DATA_DIR"),
    # None: SQLite file valet.sqlite3 under Valet.dataDir.
    Option("Valet.databaseUrl", _optional_str, None, env="VALET_DATABASE_URL"),
    # fsync on every commit (power-loss durability); a process crash loses nothing either way.
    Option("Valet.fsyncEachCommit", _bool, False, env="VALET_FSYNC"),
    Option("Valet.apiKeys", parse_api_keys, (), env="VALET_API_KEYS"),
    # /docs and /openapi.json without an API key even when keys are configured.
    Option("Valet.docsOpen", _bool, False),
    # Web origins (scheme://host[:port]) whose pages may call Valet from a browser (CORS);
    # other browser-originated cross-site requests are refused.
    Option("Valet.cors.allowedOrigins", _str_list, []),
    # Requests per client address and per API key: N (per minute) or "10/second"; off when unset.
    Option("Valet.rateLimit.perClient", parse_rate, None, env="VALET_RATE_LIMIT"),
    Option("Valet.rateLimit.perKey", parse_rate, None),
    Option("Valet.threads", _int_between(1, 256), 8, env="VALET_THREADS"),
    Option("Valet.workerThreads", _int_between(1, 256), 2, env="VALET_WORKER_THREADS"),
    Option("Valet.sweepIntervalSeconds", _number_at_least(0.05), 60.0),
    Option("Valet.limits.namespaceChars", _int_between(1), 255),
    Option("Valet.limits.keyChars", _int_between(1), 1024),
    Option("Valet.limits.valueBytes", _int_between(1), 1024 * 1024),
    Option("Valet.limits.requestBodyBytes", _int_between(1024), 2 * 1024 * 1024),
    Option("Valet.qrs.timeoutSeconds", _number_at_least(0.1), 10.0),
    # The passphrase of an encrypted Butler.cert.clientCertKey: text, {file: PATH} or {env: NAME}.
    Option("Valet.qrs.clientCertKeyPassphrase", _optional_secret, None),
    Option("Valet.qrs.virtualProxyPrefix", _optional_str, None),
    Option("Valet.qrs.headerAuthName", _optional_str, None),
    Option("Valet.qrs.headerAuthUser", _optional_str, None),
]
_BY_KEY = {o.key: o for o in OPTIONS}
# Sections whose whole content is a value (lists of mappings): not walked for unknown keys.
_LEAF_KEYS = set(_BY_KEY)


class Config:
    """The loaded configuration: dotted key -> parsed value. Read-only."""

    def __init__(self, values: dict[str, Any], source: str | None = None,
                 ignored: list[str] | None = None) -> None:
        self._values = values
        self.source = source
        self.ignored = ignored or []

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    @property
    def database_url(self) -> str:
        url = self["Valet.databaseUrl"]
        if url:
            return url
        return f"sqlite:///{Path(self['Valet.dataDir']).resolve() / 'valet.sqlite3'}"

    @property
    def start_task_enabled(self) -> bool:
        flag = self["Butler.restServerEndpointsEnable.senseStartTask"]
        return bool(self["Butler.configQRS.host"]) if flag is None else flag

    @property
    def kv_enabled(self) -> bool:
        return (self["Butler.restServerEndpointsEnable.keyValueStore"]
                and self["Butler.keyValueStore.enable"])

    def with_overrides(self, overrides: dict[str, Any]) -> "Config":
        values = dict(self._values)
        for key, raw in overrides.items():
            values[key] = _parse(_BY_KEY[key], raw, "command line")
        return Config(values, self.source, self.ignored)


def _parse(option: Option, raw: Any, origin: str) -> Any:
    try:
        return option.parse(raw)
    except ValueError as e:
        raise ConfigError(f"{option.key} ({origin}): {e}") from None


def _flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted keys for every leaf of a YAML mapping; known list/mapping options stay whole."""
    if not isinstance(tree, dict) or prefix in _LEAF_KEYS:
        return {prefix: tree}
    flat: dict[str, Any] = {}
    for k, v in tree.items():
        flat.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    if not tree and prefix:
        flat[prefix] = tree
    return flat


def _read_file(path: str) -> dict[str, Any]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"cannot read config file {path}: {e.strerror}") from None
    try:
        tree = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"config file {path} is not valid YAML: {e}") from None
    if tree is None:
        return {}
    if not isinstance(tree, dict):
        raise ConfigError(f"config file {path} must hold a mapping with a top-level Butler: or Valet: key")
    return tree


def load(path: str | None = None, env: dict[str, str] | None = None) -> Config:
    """Defaults, then the file (`path` or $VALET_CONFIG), then the environment."""
    env = dict(os.environ if env is None else env)
    path = path or env.get("VALET_CONFIG") or None
    values = {o.key: o.default for o in OPTIONS}
    ignored: list[str] = []
    if path:
        for key, raw in _flatten(_read_file(path)).items():
            option = _BY_KEY.get(key)
            if option is None or not option.used:
                ignored.append(key)
            else:
                values[key] = _parse(option, raw, f"file {path}")
    for option in OPTIONS:
        if option.env and env.get(option.env, "") != "":
            values[option.key] = _parse(option, env[option.env], f"environment {option.env}")
    if ignored:
        log.warning("config: ignoring %d key(s) Valet does not use: %s", len(ignored),
                    ", ".join(sorted(ignored)[:20]) + (" …" if len(ignored) > 20 else ""))
    return Config(values, path, ignored)
