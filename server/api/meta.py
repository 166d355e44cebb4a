"""Liveness (Butler's ping) and readiness (/health)."""
from __future__ import annotations

from flask import jsonify
from sqlalchemy.exc import SQLAlchemyError

from server import db
from server.api.gate import OPEN, requires
from server.api.openapi import VERSION, Blueprint
from server.services import current

ping_blp = Blueprint("ping", __name__, url_prefix="/v4", description="Liveness, as Butler's")
health_blp = Blueprint("health", __name__, description="Readiness")


@ping_blp.route("/butlerping", methods=["GET"])
@requires(OPEN)
@ping_blp.response(200, description='{"response": "Butler reporting for duty", "butlerVersion": …}')
def butler_ping():
    """Liveness: answers as long as the process serves requests."""
    return {"response": "Butler reporting for duty", "butlerVersion": VERSION}


@health_blp.route("/health", methods=["GET"])
@requires(OPEN)
@health_blp.response(200, description='{"status": "ok", "checks": {"database": "ok"}}')
@health_blp.alt_response(503, description="a dependency is not reachable")
def health():
    """Readiness: the database answers."""
    try:
        db.ping(current().engine)
    except SQLAlchemyError as e:
        response = jsonify({"status": "unavailable",
                            "checks": {"database": f"unreachable: {type(e).__name__}"}})
        response.status_code = 503
        return response
    return {"status": "ok", "checks": {"database": "ok"}}
