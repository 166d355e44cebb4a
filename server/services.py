"""What the request handlers share, built once by the app factory."""
from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from sqlalchemy import Engine

from server.config import Config
from server.kv import KeyValueStore
from server.tasks import TaskStarter


@dataclass
class Services:
    config: Config
    engine: Engine
    store: KeyValueStore
    starter: TaskStarter | None = None  # None: start endpoint disabled or no repository named


def current() -> Services:
    return current_app.extensions["valet"]
