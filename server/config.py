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

from server import logs
from server.credentials import parse_api_keys, resolve_secret
from server.rate_limits import parse_rate

log = logging.getLogger("valet.config")


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


def _log_level(v: Any) -> int:
    return logs.parse_level(v)


@dataclass(frozen=True)
class Option:
    key: str
    parse: Callable[[Any], Any]
    default: Any = None
    env: str | None = None
    used: bool = True  # False: accepted for Butler compatibility, has no effect in Valet
    path: bool = False  # a folder: relative values from the file resolve against its folder


OPTIONS: list[Option] = [
    Option("Butler.restServerConfig.enable", _bool, True),
    Option("Butler.restServerConfig.serverHost", _str, "127.0.0.1", env="VALET_HOST"),
    Option("Butler.restServerConfig.serverPort", _port, 8080, env="VALET_PORT"),
    Option("Butler.restServerConfig.backgroundServerPort", _port, used=False),
    # HTTPS on Valet's listener (server/tls.py): PEM certificate and key; `ca` completes the
    # chain sent to clients, as in Butler.
    Option("Butler.restServerConfig.tls.enable", _bool, False),
    Option("Butler.restServerConfig.tls.cert", _optional_str, None),
    Option("Butler.restServerConfig.tls.key", _optional_str, None),
    Option("Butler.restServerConfig.tls.ca", _optional_str, None),
    Option("Valet.tls.keyPassphrase", _optional_secret, None),
    Option("Butler.logLevel", _log_level, logging.INFO, env="VALET_LOG_LEVEL"),
    Option("Butler.fileLogging", _bool, False),
    Option("Butler.logDirectory", _str, "log", path=True),
    Option("Butler.restServerEndpointsEnable.apiListEnabledEndpoints", _bool, True),
    Option("Butler.restServerEndpointsEnable.apiListEnbledEndpoints", _bool, True),  # older templates' spelling
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
    # What Butler's mqttConfig lacks (server/mqtt.py; the README's MQTT section).
    Option("Valet.mqtt.protocolVersion", lambda v: _one_of("3.1.1", "5")(str(v)), "3.1.1"),
    Option("Valet.mqtt.clientId", _optional_str, None),
    Option("Valet.mqtt.username", _optional_str, None, env="VALET_MQTT_USERNAME"),
    Option("Valet.mqtt.password", _optional_secret, None, env="VALET_MQTT_PASSWORD"),
    Option("Valet.mqtt.tls.enable", _bool, False),
    Option("Valet.mqtt.tls.caFile", _optional_str, None),
    Option("Valet.mqtt.tls.certFile", _optional_str, None),
    Option("Valet.mqtt.tls.keyFile", _optional_str, None),
    Option("Valet.mqtt.taskStartResultTopic", _optional_str, None),
    Option("Valet.mqtt.keepaliveSeconds", _int_between(5, 65535), 60),
    Option("Valet.mqtt.reconnectMinSeconds", _int_between(1, 3600), 1),
    Option("Valet.mqtt.reconnectMaxSeconds", _int_between(1, 3600), 30),
    Option("Valet.mqtt.requiredForReadiness", _bool, False),
    Option("Valet.mqtt.maxBatch", _int_between(1, 1000), 1000),
    Option("Valet.mqtt.sharedSubscriptionGroup", _optional_str, None),
    # 0: a clean session; more: the broker keeps Valet's session (subscription and messages)
    # that long while Valet is away, and messages are acknowledged once handled.
    Option("Valet.mqtt.sessionExpirySeconds", _int_between(0, 0xFFFFFFFF), 0),
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
    Option("Valet.dataDir", _str, "./data", env="VALET_DATA_DIR", path=True),
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
    # Host names Valet answers to, against DNS rebinding (server/api/allowed_hosts.py); unset:
    # loopback names when listening on loopback, any name otherwise.
    Option("Valet.allowedHosts", lambda v: None if v is None else _str_list(v), None,
           env="VALET_ALLOWED_HOSTS"),
    # Requests per client address and per API key: N (per minute) or "10/second"; off when unset.
    Option("Valet.rateLimit.perClient", parse_rate, None, env="VALET_RATE_LIMIT"),
    Option("Valet.rateLimit.perKey", parse_rate, None),
    Option("Valet.threads", _int_between(1, 256), 8, env="VALET_THREADS"),
    # Reverse proxies in front whose X-Forwarded-For is trusted for the client address (0: none).
    Option("Valet.trustedProxies", _int_between(0, 10), 0),
    Option("Valet.workerThreads", _int_between(1, 256), 2, env="VALET_WORKER_THREADS"),
    Option("Valet.sweepIntervalSeconds", _number_at_least(0.05), 60.0),
    Option("Valet.limits.namespaceChars", _int_between(1), 255),
    Option("Valet.limits.keyChars", _int_between(1), 1024),
    Option("Valet.limits.valueBytes", _int_between(1), 1024 * 1024),
    Option("Valet.limits.requestBodyBytes", _int_between(1024), 2 * 1024 * 1024),
    # Slow or idle clients (server/slow_clients.py): open connections in all (per process),
    # per client address (0: no cap), and the time to send a request head.
    Option("Valet.limits.connections", _int_between(10, 4000), 400),
    Option("Valet.limits.connectionsPerClient", _int_between(0, 4000), 50),
    Option("Valet.limits.headerTimeoutSeconds", _number_at_least(0.5), 10.0),
    # /health's disk check is down below this much free space beside the SQLite file (0: off).
    Option("Valet.health.minFreeDiskBytes", _int_between(0), 1024 * 1024),
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
    """The loaded configuration: dotted key -> parsed value. Read-only. `ignored` maps each
    key of the file that Valet does not use to its value."""

    def __init__(self, values: dict[str, Any], source: str | None = None,
                 ignored: dict[str, Any] | None = None) -> None:
        self._values = values
        self.source = source
        self.ignored = ignored or {}

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    @property
    def database_url(self) -> str:
        url = self["Valet.databaseUrl"]
        if url:
            return url
        return f"sqlite:///{Path(self['Valet.dataDir']).resolve() / 'valet.sqlite3'}"

    @property
    def log_directory(self) -> Path | None:
        return Path(self["Butler.logDirectory"]) if self["Butler.fileLogging"] else None

    @property
    def start_task_enabled(self) -> bool:
        flag = self["Butler.restServerEndpointsEnable.senseStartTask"]
        return bool(self["Butler.configQRS.host"]) if flag is None else flag

    @property
    def kv_enabled(self) -> bool:
        return (self["Butler.restServerEndpointsEnable.keyValueStore"]
                and self["Butler.keyValueStore.enable"])

    @property
    def endpoint_list_enabled(self) -> bool:
        prefix = "Butler.restServerEndpointsEnable."
        return self[prefix + "apiListEnabledEndpoints"] and self[prefix + "apiListEnbledEndpoints"]

    @property
    def endpoints_enabled(self) -> list[str]:
        """The Butler endpoint flags Valet serves, by their names in Butler's file (what
        Butler's `GET /v4/configfile/endpointsenabled` lists)."""
        flags = {"apiListEnabledEndpoints": self.endpoint_list_enabled,
                 "butlerping": self["Butler.restServerEndpointsEnable.butlerping"],
                 "keyValueStore": self.kv_enabled, "senseStartTask": self.start_task_enabled}
        return [name for name, on in flags.items() if on]

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
    """Defaults, then the file (`path` or $VALET_CONFIG), then the environment. Relative
    folders from the file, and the default ones, resolve against the file's folder (a
    Windows service runs in C:\\Windows\\System32); from the environment, against the
    working directory."""
    env = dict(os.environ if env is None else env)
    path = path or env.get("VALET_CONFIG") or None
    values = {o.key: o.default for o in OPTIONS}
    ignored: dict[str, Any] = {}
    if path:
        for key, raw in _flatten(_read_file(path)).items():
            option = _BY_KEY.get(key)
            if option is None or not option.used:
                ignored[key] = raw
            else:
                values[key] = _parse(option, raw, f"file {path}")
    base = Path(path).resolve().parent if path else Path.cwd()
    for option in OPTIONS:
        if option.path:
            values[option.key] = str(base / values[option.key])
        if option.env and env.get(option.env, "") != "":
            values[option.key] = _parse(option, env[option.env], f"environment {option.env}")
    return Config(values, path, ignored)


# --- reporting at start-up --------------------------------------------------------------

# Butler features Valet does not have, by the key that switches each on, and what Valet
# does instead. Any other ignored `….enable` (or endpoint flag) set to true gets a
# generic warning.
INSTEAD = {
    "Butler.heartbeat.enable": "Valet sends no heartbeat; have your monitoring poll GET /health",
    "Butler.scheduler.enable": "Valet has no scheduler; use QMC triggers, or the OS scheduler "
                               "calling PUT /v4/reloadtask/{taskId}/start",
    "Butler.uptimeMonitor.enable": "Valet does not report its own uptime; poll GET /health",
}


def _section(key: str) -> str:
    return ".".join(key.split(".")[:2])


def _switched_on(key: str, value: Any) -> bool:
    flag = key.startswith("Butler.restServerEndpointsEnable.") or key.endswith(".enable")
    return flag and value is True


def feature_warnings(config: Config) -> list[str]:
    """One line per Butler feature that the file switches on and Valet does not have."""
    lines = []
    for key, value in config.ignored.items():
        if not _switched_on(key, value):
            continue
        if key in INSTEAD:
            lines.append(f"{key} is true: {INSTEAD[key]}")
        elif key.startswith("Butler.restServerEndpointsEnable."):
            lines.append(f"{key} is true, but Valet does not implement that Butler endpoint; "
                         "calls to it answer 404 saying so")
        elif _section(key) == key.rsplit(".", 1)[0]:  # a whole section switched on
            lines.append(f"{key} is true, but Valet does not implement Butler's "
                         f"{key.split('.')[1]} feature; the section is ignored")
    if not config.endpoints_enabled or config.endpoints_enabled == ["apiListEnabledEndpoints"]:
        lines.append("no API endpoint is enabled, so every call will answer 404: set "
                     "Butler.restServerEndpointsEnable.keyValueStore (and keyValueStore.enable), "
                     "senseStartTask or butlerping to true")
    return lines


def ignored_summary(config: Config) -> str | None:
    """The ignored keys, counted by section, in one line."""
    if not config.ignored:
        return None
    sections: dict[str, int] = {}
    for key in config.ignored:
        name = _section(key).removeprefix("Butler.")
        sections[name] = sections.get(name, 0) + 1
    listed = ", ".join(f"{name} ({n})" for name, n in sorted(sections.items()))
    return (f"config: {len(config.ignored)} key(s) Valet does not use are ignored, by section "
            f"(of Butler: unless named): {listed}")


def summary(config: Config) -> list[str]:
    """What this configuration serves, for the start-up log."""
    host = config["Butler.configQRS.host"]
    repository = (f"{'https' if config['Butler.configQRS.useSSL'] else 'http'}://{host}:"
                  f"{config['Butler.configQRS.port']}, authentication "
                  f"{config['Butler.configQRS.authentication']}") if host else "not configured"
    return [
        f"config: {Path(config.source).resolve() if config.source else 'no file (built-in defaults)'}",
        f"endpoints enabled: {', '.join(config.endpoints_enabled) or 'none'}",
        f"repository: {repository}; start filter "
        f"{'on' if config['Butler.startTaskFilter.enable'] else 'off'}",
        "mqtt: " + (f"task starts on {config['Butler.mqttConfig.taskStartTopic']} from the broker "
                    f"{config['Butler.mqttConfig.brokerHost']}:{config['Butler.mqttConfig.brokerPort']}"
                    if config["Butler.mqttConfig.enable"] else "off"),
        f"key-value limits: {config['Butler.keyValueStore.maxKeysPerNamespace']} keys per "
        f"namespace, value {config['Valet.limits.valueBytes']} bytes, request body "
        f"{config['Valet.limits.requestBodyBytes']} bytes",
    ]


def log_report(config: Config) -> None:
    """Everything an admin should know about the configuration, logged once at start-up."""
    for line in summary(config):
        log.info("%s", line)
    ignored = ignored_summary(config)
    if ignored:
        log.info("%s", ignored)
    for line in feature_warnings(config):
        log.warning("config: %s", line)
