"""`GET /healthz`: is this node able to serve? For load balancers and monitoring.

200 `{"status": "ok", "database": "ok", "jobs": {"broker": "in-process"|"redis", "status": "ok"}}`;
503 with the failing part (`"database": "error"`, `"jobs": {"status": "error", ...}`) when the
database or the Redis broker cannot be reached. Public, and says nothing secret (no URLs, no messages
that could carry credentials: only the error class).
"""
from __future__ import annotations

import sqlalchemy as sa
from flask import current_app, jsonify

from core.db import db


def database_status() -> dict:
    try:
        with db.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:  # any failure to reach the database is "down" for the load balancer
        return {"database": "error", "database_error": type(exc).__name__}
    return {"database": "ok"}


def healthz():
    body: dict = {"status": "ok"}
    body.update(database_status())
    body["jobs"] = current_app.extensions["federa"].jobs.health()
    healthy = body["database"] == "ok" and body["jobs"]["status"] == "ok"
    if not healthy:
        body["status"] = "error"
    response = jsonify(body)
    response.status_code = 200 if healthy else 503
    response.headers["Cache-Control"] = "no-store"
    return response
