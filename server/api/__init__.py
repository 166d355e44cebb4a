"""The HTTP API: one blueprint per area, one error handler."""
from __future__ import annotations

from flask import Flask

from server.api import audit, errors, kv, meta, tasks
from server.api.openapi import create_api
from server.config import Config


def register(app: Flask, config: Config) -> None:
    api = create_api(app)
    errors.register(app)
    if config["Butler.restServerEndpointsEnable.butlerping"]:
        api.register_blueprint(meta.ping_blp)
    api.register_blueprint(meta.health_blp)
    api.register_blueprint(audit.blp)
    if config.endpoint_list_enabled:
        api.register_blueprint(meta.endpoints_blp)
    if config.kv_enabled:
        api.register_blueprint(kv.blp)
    if config.start_task_enabled:
        api.register_blueprint(tasks.blp)
