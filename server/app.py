"""The Flask app factory: config loaded once, services built once, blueprints registered."""
from __future__ import annotations

import logging
import time
from typing import Callable

from flask import Flask, g, request

from server import api, config as config_module, db, tasks
from server.api.errors import ApiError
from server.config import Config
from server.kv import KeyValueStore, Limits, now_ms
from server.services import Services
from server.wsgi import MethodOverride, RawPath

log = logging.getLogger("valet.requests")


def create_app(config: Config | None = None, clock: Callable[[], int] = now_ms) -> Flask:
    config = config or config_module.load()
    app = Flask("valet")
    app.json.sort_keys = False
    app.config["MAX_CONTENT_LENGTH"] = config["Valet.limits.requestBodyBytes"]
    engine = db.make_engine(config.database_url, config["Valet.fsyncEachCommit"],
                            pool_size=config["Valet.threads"] + 2)
    db.migrate(engine)
    limits = Limits(namespace_chars=config["Valet.limits.namespaceChars"],
                    key_chars=config["Valet.limits.keyChars"],
                    value_bytes=config["Valet.limits.valueBytes"],
                    max_keys_per_namespace=config["Butler.keyValueStore.maxKeysPerNamespace"])
    store = KeyValueStore(engine, limits, clock)
    app.extensions["valet"] = Services(config, engine, store,
                                       tasks.build_starter(config, engine, store))
    api.register(app, config)
    _log_requests(app)
    app.wsgi_app = RawPath(MethodOverride(app.wsgi_app))
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
        ms = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
        log.info("%s %s %d %.1fms", request.method, request.path, response.status_code, ms)
        return response
