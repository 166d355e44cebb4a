"""What the request handlers share, built once by the app factory."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask import current_app

from server.config import Config
from server.db import Database
from server.kv import KeyValueStore
from server.tasks import TaskStarter

if TYPE_CHECKING:
    from server.mqtt import MqttListener


@dataclass
class Services:
    config: Config
    database: Database
    store: KeyValueStore
    starter: TaskStarter | None = None  # None: no start endpoint nor MQTT, or no repository named
    mqtt: MqttListener | None = None  # set while serving, when MQTT is enabled


def current() -> Services:
    return current_app.extensions["valet"]
