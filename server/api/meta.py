"""Liveness (Butler's ping) and readiness (/health)."""
from __future__ import annotations

from flask import jsonify
from sqlalchemy.exc import SQLAlchemyError

from server import db
from server.api.openapi import VERSION, Blueprint
from server.services import current

ping_blp = Blueprint("ping", __name__, url_prefix="/v4", description="Liveness, as Butler's")
health_blp = Blueprint("health", __name__, description="Readiness")


@ping_blp.route("/butlerping", methods=["GET"])
@ping_blp.response(200, description='{"response": "Butler reporting for duty", "butlerVersion": …}')
def butler_ping():
    """Liveness: answers as long as the process serves requests."""
    return {"response": "Butler reporting for duty", "butlerVersion": VERSION}


@health_blp.route("/health", methods=["GET"])
@health_blp.response(200, description='{"status": "ok", "checks": {"database": "ok", "mqtt": {…}}}')
@health_blp.alt_response(503, description="a dependency is not reachable")
def health():
    """Readiness: the database answers; the MQTT state when MQTT is enabled (it fails
    readiness only with Valet.mqtt.requiredForReadiness)."""
    checks, ready = {}, True
    try:
        db.ping(current().engine)
        checks["database"] = "ok"
    except SQLAlchemyError as e:
        checks["database"], ready = f"unreachable: {type(e).__name__}", False
    listener = current().mqtt
    if listener is not None:
        checks["mqtt"] = listener.health()
        ready = ready and listener.ready
    response = jsonify({"status": "ok" if ready else "unavailable", "checks": checks})
    response.status_code = 200 if ready else 503
    return response
