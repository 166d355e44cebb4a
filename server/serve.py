"""Serving the app: waitress (default, any OS) or gunicorn workers (Linux), plus the
background sweep of expired keys. SIGTERM and SIGINT stop it cleanly."""
from __future__ import annotations

import errno
import logging
import signal
import socket
import sys
import threading

import waitress

from server import logs, mqtt, tls
from server.api.gate import warn_if_exposed
from server.app import create_app
from server.config import Config, ConfigError
from server.services import Services
from server.slow_clients import ConnectionLimits, ThrottledReport
from server.waitress_json import ValetChannel

log = logging.getLogger("valet")


class Sweeper(threading.Thread):
    """Deletes expired keys every `interval` seconds. Only housekeeping: reads already
    hide expired keys, so nothing depends on when (or in which process) it runs."""

    def __init__(self, services: Services, interval: float) -> None:
        super().__init__(name="valet-sweeper", daemon=True)
        self.services = services
        self.interval = interval
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            try:
                removed = self.services.store.sweep()
                if removed:
                    log.info("sweep: removed %d expired key(s)", removed)
            except Exception:  # keep sweeping after a transient database error
                log.exception("sweep failed")

    def stop(self) -> None:
        self.stopped.set()


def _waitress_body_cap(config: Config) -> int:
    # Waitress answers bodies over its own cap in plain text before the app sees them;
    # keep its cap well above Valet's limit so that Valet answers 413 in JSON.
    return max(64 * 1024 * 1024, 4 * config["Valet.limits.requestBodyBytes"])


def _tune_threads() -> None:
    # A thread back from a socket or SQLite call waits for the GIL until the running
    # thread gives it up, by default after up to 5 ms, several times what a whole
    # request here takes; meanwhile it may hold the store's write lock.
    sys.setswitchinterval(0.001)


def _stop_on_signals() -> None:
    def _raise(signum, _frame):
        raise SystemExit(f"signal {signum}")

    signal.signal(signal.SIGTERM, _raise)
    signal.signal(signal.SIGINT, _raise)


HOST, PORT = "Butler.restServerConfig.serverHost", "Butler.restServerConfig.serverPort"
# Windows' socket error numbers (WSAEADDRINUSE, WSAEADDRNOTAVAIL) beside POSIX's.
_IN_USE, _NOT_HERE = {errno.EADDRINUSE, 10048}, {errno.EADDRNOTAVAIL, 10049}


def bind_error(config: Config, error: Exception) -> ConfigError:
    """A failure to listen, as one line naming the key to change."""
    host, port = config[HOST], config[PORT]
    code = getattr(error, "winerror", None) or getattr(error, "errno", None)
    if code in _IN_USE:
        return ConfigError(f"{PORT}: port {port} on {host} is already in use (is Butler or another "
                           f"Valet still running?); stop it or choose another port")
    if code in _NOT_HERE:
        return ConfigError(f"{HOST}: {host} is not an address of this machine; use one of its "
                           "addresses, 0.0.0.0 for all of them, or 127.0.0.1")
    if isinstance(error, (ValueError, socket.gaierror)):  # the name does not resolve
        return ConfigError(f"{HOST}: {host!r} is not a host name or address this machine can "
                           "resolve; use one of its addresses or 0.0.0.0 for all of them")
    return ConfigError(f"{HOST}/{PORT}: cannot listen on {host}:{port}: {error}")


def check_servable(config: Config) -> None:
    if not config["Butler.restServerConfig.enable"]:
        raise ConfigError("Butler.restServerConfig.enable is false, but Valet's API is served over its "
                          "REST listener only: set it to true")


def serve_waitress(config: Config) -> None:
    check_servable(config)
    context = tls.server_context(config) if tls.enabled(config) else None
    app = create_app(config)
    services: Services = app.extensions["valet"]
    host, port = config[HOST], config[PORT]
    limits = ConnectionLimits.from_config(config)
    try:
        server = waitress.create_server(app, host=host, port=port, threads=config["Valet.threads"],
                                        max_request_body_size=_waitress_body_cap(config),
                                        # X-Forwarded-For reaches ProxyFix only when trusted
                                        clear_untrusted_proxy_headers=not config["Valet.trustedProxies"],
                                        connection_limit=limits.connections,
                                        url_scheme="https" if context else "http",
                                        ident="valet")
    except (OSError, ValueError) as e:
        services.database.dispose()
        raise bind_error(config, e) from None
    server.valet_limits, server.valet_report = limits, ThrottledReport(limits)
    front = tls.TlsFront(context, ValetChannel, limits, server.valet_report) if context else None
    server.channel_class = front or ValetChannel
    sweeper = Sweeper(services, config["Valet.sweepIntervalSeconds"])
    warn_if_exposed(host, config["Valet.apiKeys"])
    _tune_threads()
    _stop_on_signals()
    sweeper.start()
    services.mqtt = mqtt.start_listener(config, services.starter)
    log.info("Valet listening on %s://%s:%s (database %s)", "https" if context else "http", host,
             server.effective_port, services.database.safe_url)
    try:
        server.run()  # returns after SIGTERM/SIGINT, once running requests have finished
    finally:
        sweeper.stop()
        server.close()
        if front:
            front.stop()
        if services.mqtt:
            services.mqtt.stop()
        services.database.dispose()
        log.info("Valet stopped")


def serve_gunicorn(config: Config, workers: int) -> None:  # linux-only
    """Several worker processes on one port and one database (Linux only)."""
    from gunicorn.app.base import BaseApplication

    from server import gunicorn_worker

    check_servable(config)
    try:  # gunicorn would retry and exit 1 with its own message: try the address first
        with socket.create_server((config[HOST], config[PORT])):
            pass
    except (OSError, ValueError) as e:
        raise bind_error(config, e) from None
    context = tls.server_context(config) if tls.enabled(config) else None
    create_app(config).extensions["valet"].database.dispose()  # migrate once, before forking
    warn_if_exposed(config["Butler.restServerConfig.serverHost"], config["Valet.apiKeys"])
    limits = ConnectionLimits.from_config(config)

    class _Valet(BaseApplication):
        def load_config(self) -> None:
            host = config["Butler.restServerConfig.serverHost"]
            self.cfg.set("bind", f"{host}:{config['Butler.restServerConfig.serverPort']}")
            self.cfg.set("workers", workers)
            self.cfg.set("worker_class", gunicorn_worker.worker_class(limits, context))
            self.cfg.set("worker_connections", limits.connections)
            if context:  # gunicorn's TLS, with the context built (and checked) above
                self.cfg.set("certfile", config[tls.TLS + "cert"])
                self.cfg.set("keyfile", config[tls.TLS + "key"])
                self.cfg.set("ssl_context", lambda _config, _default: context)
            self.cfg.set("threads", config["Valet.workerThreads"])
            self.cfg.set("graceful_timeout", 10)
            # 0: no limit of its own (1 MiB): a key within the documented limits, percent-encoded
            # in a URL, can take 16 KB, and gunicorn would answer a longer line in HTML.
            self.cfg.set("limit_request_line", 0)
            self.cfg.set("post_fork", lambda _server, _worker: logs.restart())
            self.cfg.set("worker_exit", lambda _arbiter, _worker: self.stop_mqtt())

        def load(self):
            _tune_threads()
            app = create_app(config)
            self.services = app.extensions["valet"]
            Sweeper(self.services, config["Valet.sweepIntervalSeconds"]).start()
            # One MQTT client per worker, in one shared subscription: each message reaches one.
            self.services.mqtt = mqtt.start_listener(config, self.services.starter,
                                                     shared_group="valet")
            return app

        def stop_mqtt(self) -> None:
            services = getattr(self, "services", None)  # this worker's, once loaded
            if services is not None and services.mqtt is not None:
                services.mqtt.stop()

    logs.stop()  # nothing pending to be inherited; each worker starts a writer of its own
    _Valet().run()
