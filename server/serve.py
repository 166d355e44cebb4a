"""Serving the app: waitress (default, any OS) or gunicorn workers (Linux), plus the
background sweep of expired keys. SIGTERM and SIGINT stop it cleanly."""
from __future__ import annotations

import logging
import signal
import sys
import threading

import waitress

from server.api.gate import warn_if_exposed
from server.app import create_app
from server.config import Config
from server.services import Services
from server.waitress_json import JsonErrorChannel

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


def serve_waitress(config: Config) -> None:
    app = create_app(config)
    services: Services = app.extensions["valet"]
    host, port = config["Butler.restServerConfig.serverHost"], config["Butler.restServerConfig.serverPort"]
    server = waitress.create_server(app, host=host, port=port, threads=config["Valet.threads"],
                                    max_request_body_size=_waitress_body_cap(config),
                                    ident="valet")
    server.channel_class = JsonErrorChannel
    sweeper = Sweeper(services, config["Valet.sweepIntervalSeconds"])
    warn_if_exposed(host, config["Valet.apiKeys"])
    _tune_threads()
    _stop_on_signals()
    sweeper.start()
    log.info("Valet listening on http://%s:%s (database %s)", host, server.effective_port,
             services.engine.url.render_as_string(hide_password=True))
    try:
        server.run()  # returns after SIGTERM/SIGINT, once running requests have finished
    finally:
        sweeper.stop()
        server.close()
        services.engine.dispose()
        log.info("Valet stopped")


def serve_gunicorn(config: Config, workers: int) -> None:
    """Several worker processes on one port and one database (Linux only)."""
    from gunicorn.app.base import BaseApplication

    create_app(config).extensions["valet"].engine.dispose()  # migrate once, before forking
    warn_if_exposed(config["Butler.restServerConfig.serverHost"], config["Valet.apiKeys"])

    class _Valet(BaseApplication):
        def load_config(self) -> None:
            host = config["Butler.restServerConfig.serverHost"]
            self.cfg.set("bind", f"{host}:{config['Butler.restServerConfig.serverPort']}")
            self.cfg.set("workers", workers)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("threads", config["Valet.workerThreads"])
            self.cfg.set("graceful_timeout", 10)
            # 0: no limit of its own (1 MiB): a key within the documented limits, percent-encoded
            # in a URL, can take 16 KB, and gunicorn would answer a longer line in HTML.
            self.cfg.set("limit_request_line", 0)

        def load(self):
            _tune_threads()
            app = create_app(config)
            Sweeper(app.extensions["valet"], config["Valet.sweepIntervalSeconds"]).start()
            return app

    _Valet().run()
