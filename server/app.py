"""The Flask app factory: config loaded once, services built once, blueprints registered."""
from __future__ import annotations

from typing import Callable

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from server import api, config as config_module, db, log_safety, tasks
from server.api.gate import Gate
from server.api.kv_fast import KvFastPath
from server.config import Config
from server.kv import KeyValueStore, Limits, now_ms
from server.services import Services
from server.wsgi import MethodOverride, RawPath


def create_app(config: Config | None = None, clock: Callable[[], int] = now_ms) -> Flask:
    log_safety.install()
    config = config or config_module.load()
    app = Flask("valet")
    app.json.sort_keys = False
    app.url_map.merge_slashes = False  # `//` is a 404, not a redirect built from the Host header
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
    services = Services(config, database, store, tasks.build_starter(config, database, store))
    app.extensions["valet"] = services
    api.register(app, config)
    wsgi_app = app.wsgi_app
    if config.kv_enabled:
        wsgi_app = KvFastPath(wsgi_app, services)
    wsgi_app = Gate.from_config(wsgi_app, app, config)
    app.wsgi_app = RawPath(MethodOverride(wsgi_app))
    if config["Valet.trustedProxies"]:  # the client address from X-Forwarded-For
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=config["Valet.trustedProxies"])
    return app

