"""Liveness (Butler's ping), readiness (/health) and Butler's list of enabled endpoints.

/health runs the checks of `CHECKS` that apply to this configuration. Each reports its
part "up" or "down" with a detail; a required part down answers 503, any other part down
"degraded" with 200 (the key-value store still serves while the repository is away).
Adding a part is one more `Check` in `CHECKS`."""
from __future__ import annotations

import dataclasses
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from flask import current_app, jsonify

from server.api.gate import ANY_KEY, OPEN, requires
from server.api.openapi import VERSION, Blueprint
from server.qrs import QrsClient, QrsError
from server.services import Services, current

ping_blp = Blueprint("ping", __name__, url_prefix="/v4", description="Liveness, as Butler's")
health_blp = Blueprint("health", __name__, description="Readiness")
endpoints_blp = Blueprint("endpointsenabled", __name__, url_prefix="/v4",
                          description="Which Butler endpoints are enabled, as Butler lists them")

REPOSITORY_PROBE_TIMEOUT = 3.0  # seconds; /health must answer well within a prober's timeout
DISK_FULL_RECENT_SECONDS = 60.0  # a write that failed for a full disk keeps the check down this long


@dataclass(frozen=True)
class Check:
    """One part /health reports. `probe` returns a detail, or raises when the part is down."""

    name: str
    probe: Callable[[Services], str]
    applies: Callable[[Services], bool] = lambda _services: True
    required: bool | Callable[[Services], bool] = True  # or decided by the configuration
    cache_seconds: float = 0.0  # reuse a result this long (for calls that cost the part work)


def _database(services: Services) -> str:
    services.database.ping()
    return services.database.dialect


def _repository(services: Services) -> str:
    """`GET /qrs/about`: a cheap call that needs the same certificates as a task start."""
    settings = dataclasses.replace(services.starter.settings, get_retries=0,
                                   timeout=min(services.starter.settings.timeout,
                                               REPOSITORY_PROBE_TIMEOUT))
    with QrsClient(settings) as client:
        about = client.about()
    version = about.get("buildVersion", "") if isinstance(about, dict) else ""
    return f"{settings.host}:{settings.port} answers" + (f" (Sense {version})" if version else "")


class PartDown(Exception):
    """A probe's own report that its part is down; the message is the detail."""


def _disk(services: Services) -> str:
    """Room for writes: the free space beside a SQLite file, and for any store whether a
    write failed for a full disk lately (PostgreSQL's disk is the server's, seen only so)."""
    database = services.database
    failed = database.disk_full_at
    if failed is not None and time.monotonic() - failed < DISK_FULL_RECENT_SECONDS:
        raise PartDown(f"disk full: a write failed for lack of disk space {time.monotonic() - failed:.0f} s ago")
    path = database.engine.url.database if database.sqlite else None
    if not path or path == ":memory:":
        return "no write has failed for lack of disk space"
    free = shutil.disk_usage(Path(path).parent).free
    # Below the default 1 MiB a write (its WAL pages, a checkpoint) may not fit.
    minimum = services.config["Valet.health.minFreeDiskBytes"]
    if free < minimum:
        raise PartDown(f"disk full: {free} bytes free beside {path}, under "
                       f"Valet.health.minFreeDiskBytes ({minimum}); writes may answer 507")
    return f"{free // (1024 * 1024)} MiB free beside the database"


def _mqtt(services: Services) -> str:
    """The listener's own state (no probe of the broker: the connection is the probe)."""
    if not services.mqtt.connected:
        raise PartDown(services.mqtt.describe())
    return services.mqtt.describe()


CHECKS: list[Check] = [
    Check("database", _database),
    Check("repository", _repository, applies=lambda s: s.starter is not None, required=False,
          cache_seconds=5.0),
    Check("mqtt", _mqtt, applies=lambda s: s.mqtt is not None,
          required=lambda s: s.mqtt.settings.required_for_readiness),
    Check("disk", _disk, required=False),
]


def _run(check: Check, services: Services) -> dict:
    cache = current_app.extensions.setdefault("valet.health", {})
    cached = cache.get(check.name)
    if cached and time.monotonic() - cached[0] < check.cache_seconds:
        return cached[1]
    try:
        state = {"status": "up", "detail": check.probe(services)}
    except QrsError as e:
        state = {"status": "down", "detail": f"{e.kind}: {e.message}"}
    except PartDown as e:
        state = {"status": "down", "detail": str(e)}
    except Exception as e:  # noqa: BLE001 - any failure of a part is its state, not a 500
        state = {"status": "down", "detail": f"{type(e).__name__}: {str(e)[:200]}"}
    required = check.required(services) if callable(check.required) else check.required
    result = {"name": check.name, "required": required, **state}
    cache[check.name] = (time.monotonic(), result)
    return result


@ping_blp.route("/butlerping", methods=["GET"])
@requires(OPEN)
@ping_blp.response(200, description="Valet answers", example={
    "response": "Butler reporting for duty", "butlerVersion": VERSION})
def butler_ping():
    """Liveness: answers as long as the process serves requests."""
    return {"response": "Butler reporting for duty", "butlerVersion": VERSION}


_HEALTH_EXAMPLE = {"status": "ok", "version": VERSION, "checks": [
    {"name": "database", "required": True, "status": "up", "detail": "sqlite"},
    {"name": "repository", "required": False, "status": "up", "detail": "sense.example:4242 answers"}]}


@health_blp.route("/health", methods=["GET"])
@requires(OPEN)
@health_blp.response(200, description="every required part is up; `status` is `degraded` when "
                                      "an optional part (the repository) is down",
                     example=_HEALTH_EXAMPLE)
@health_blp.alt_response(503, description="a required part (the database) is down", example={
    "status": "unavailable", "version": VERSION, "checks": [
        {"name": "database", "required": True, "status": "down",
         "detail": "OperationalError: unable to open database file"}]})
def health():
    """Readiness: the database, the repository when task starts are enabled (its result is
    cached for a few seconds), and the MQTT connection when MQTT is enabled."""
    services = current()
    checks = [_run(check, services) for check in CHECKS if check.applies(services)]
    down = [c for c in checks if c["status"] != "up"]
    required_down = any(c["required"] for c in down)
    status = "unavailable" if required_down else ("degraded" if down else "ok")
    response = jsonify({"status": status, "version": VERSION, "checks": checks})
    response.status_code = 503 if required_down else 200
    return response


@endpoints_blp.route("/configfile/endpointsenabled", methods=["GET"])
@requires(ANY_KEY)
@endpoints_blp.response(200, description="names of the enabled endpoint flags of "
                                         "Butler.restServerEndpointsEnable",
                        example=["apiListEnabledEndpoints", "butlerping", "keyValueStore",
                                 "senseStartTask"])
def endpoints_enabled():
    """The endpoints this configuration serves, by their flags' names in Butler's config
    (Butler's load-script library asks this before calling an endpoint)."""
    return current().config.endpoints_enabled
