"""What the request handlers share, built once by the app factory."""
from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from server.config import Config
from server.db import Database
from server.kv import KeyValueStore
from server.tasks import TaskStarter


@dataclass
class Services:
    config: Config
    database: Database
    store: KeyValueStore
    starter: TaskStarter | None = None  # None: the start endpoint is disabled


def current() -> Services:
    return current_app.extensions["valet"]
