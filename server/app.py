"""The Flask app factory: config loaded once, services built once, blueprints registered."""
from __future__ import annotations

import time
from typing import Callable

from flask import Flask, g, request
from werkzeug.middleware.proxy_fix import ProxyFix

from server import api, config as config_module, db, tasks
from server.api.access_log import log_request
from server.api.errors import ApiError
from server.api.kv_fast import KvFastPath
from server.config import Config
from server.kv import KeyValueStore, Limits, now_ms
from server.services import Services
from server.wsgi import MethodOverride, RawPath


def create_app(config: Config | None = None, clock: Callable[[], int] = now_ms) -> Flask:
    config = config or config_module.load()
    app = Flask("valet")
    app.json.sort_keys = False
    app.config["MAX_CONTENT_LENGTH"] = config["Valet.limits.requestBodyBytes"]
    try:
        database = db.open_database(config.database_url, config["Valet.fsyncEachCommit"],
                                    pool_size=config["Valet.threads"] + 2)
    except db.DatabaseUnavailable as e:
        raise config_module.ConfigError(f"Valet.databaseUrl: {e.message}") from None
    limits = Limits(namespace_chars=config["Valet.limits.namespaceChars"],
                    key_chars=config["Valet.limits.keyChars"],
                    value_bytes=config["Valet.limits.valueBytes"],
                    max_keys_per_namespace=config["Butler.keyValueStore.maxKeysPerNamespace"])
    store = KeyValueStore(database, limits, database.now_ms if clock is now_ms else clock)
    app.extensions["valet"] = Services(config, database, store,
                                       tasks.build_starter(config, database, store))
    api.register(app, config)
    _log_requests(app)
    wsgi_app = app.wsgi_app
    if config.kv_enabled:
        wsgi_app = KvFastPath(wsgi_app, store, config["Valet.limits.requestBodyBytes"])
    app.wsgi_app = RawPath(MethodOverride(wsgi_app))
    if config["Valet.trustedProxies"]:  # the client address from X-Forwarded-For
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=config["Valet.trustedProxies"])
    return app


def _log_requests(app: Flask) -> None:
    @app.before_request
    def _start() -> None:
        g.started = time.perf_counter()
        bad = request.environ.get("valet.bad_override")
        if bad is not None:
            raise ApiError(400, f"X-HTTP-Method-Override {bad!r} is not supported; "
                                "use PUT, DELETE or PATCH")

    @app.after_request
    def _log(response):
        log_request(request.method, request.path, response.status_code,
                    g.get("started", time.perf_counter()), request.remote_addr,
                    g.get("error_message"))
        return response
