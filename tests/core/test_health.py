"""`GET /healthz`: public, 200 when database and job broker answer, 503 naming the part that does not."""
from __future__ import annotations

import uuid

import pytest

from core.app import create_app

REDIS_URL = "redis://127.0.0.1:6379/0"


def test_healthy_node_answers_200_without_login(client):
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json == {"status": "ok", "database": "ok", "jobs": {"broker": "in-process", "status": "ok", "worker": "idle"}}
    assert r.headers["Cache-Control"] == "no-store"


def _app(tmp_path, **config):
    settings = {"DATA_DIR": tmp_path, "SECRET_KEY": "x", "TESTING": True, "REDIS_URL": None, "PLUGINS": []}
    settings.update(config)
    return create_app(settings)


def test_database_down_is_503(tmp_path):
    app = _app(tmp_path, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'missing' / 'dir' / 'db.sqlite'}")
    r = app.test_client().get("/healthz")
    assert r.status_code == 503
    assert r.json["status"] == "error" and r.json["database"] == "error"
    assert r.json["database_error"] == "OperationalError"
    assert r.json["jobs"]["status"] == "ok"


def test_redis_down_is_503(tmp_path, database_url):
    app = _app(tmp_path, SQLALCHEMY_DATABASE_URI=database_url, REDIS_URL="redis://127.0.0.1:1/0")
    r = app.test_client().get("/healthz")
    assert r.status_code == 503
    assert r.json["database"] == "ok"
    assert r.json["jobs"] == {"broker": "redis", "status": "error", "error": "ConnectionError"}
    assert "127.0.0.1" not in r.get_data(as_text=True)  # no connection details for the public


@pytest.mark.redis
def test_redis_up_is_200(tmp_path, database_url):
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.exceptions.ConnectionError:
        pytest.skip(f"Redis is not reachable at {REDIS_URL}")
    app = _app(tmp_path, SQLALCHEMY_DATABASE_URI=database_url, REDIS_URL=REDIS_URL,
               REDIS_NAMESPACE=f"federa-test-{uuid.uuid4().hex[:8]}")
    r = app.test_client().get("/healthz")
    assert r.status_code == 200
    assert r.json["jobs"] == {"broker": "redis", "status": "ok"}
