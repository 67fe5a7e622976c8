"""API authentication: bearer tokens (hashed, expiring, revocable), /me, login throttling."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from core.db import db, utcnow
from core.models import ApiToken, LoginAttempt
from tests.conftest import _clean
from tests.factories import Factory


def bearer(raw: str) -> dict:
    return {"Authorization": f"Bearer {raw}"}


def test_token_is_hashed_at_rest_and_password_with_argon2(client, make):
    user = make.user("jan@example.org")
    r = client.post("/api/v1/auth/token", json={"email": "JAN@example.org", "password": "secret-pass", "name": "cli"})
    assert r.status_code == 201, r.json
    assert r.json["token_type"] == "Bearer" and r.json["expires_in"] > 0
    raw = r.json["access_token"]
    stored = db.session.execute(sa.select(ApiToken).where(ApiToken.user_id == user.id)).scalar_one()
    assert stored.token_hash != raw and raw not in stored.token_hash and len(stored.token_hash) == 64
    assert stored.name == "cli"
    assert user.password_hash.startswith("$argon2")


def test_me_returns_person_and_assignments(client, make):
    fed = make.federation("Judo Vlaanderen")
    club = make.club(fed, "Judoclub Gent")
    user = make.user("sec@example.org", role="federation_secretariat", org=fed)
    r = client.get("/api/v1/me", headers=make.headers(user))
    assert r.status_code == 200, r.json
    assert r.json["email"] == "sec@example.org" and r.json["person"]["id"] == user.person_id
    assert r.json["is_platform_admin"] is False
    assert [(a["role"], a["org_id"], a["org_name"]) for a in r.json["assignments"]] == [
        ("federation_secretariat", fed.id, "Judo Vlaanderen")]
    # The assignment on the federation reaches its club.
    assert client.get(f"/api/v1/orgs/{club.id}/roles", headers=make.headers(user)).status_code == 200


@pytest.mark.parametrize("body, status", [
    ({"email": "jan@example.org", "password": "wrong-pass"}, 401),
    ({"email": "nobody@example.org", "password": "secret-pass"}, 401),
    ({"email": "not-an-address", "password": "secret-pass"}, 422),
    ({"email": "jan@example.org"}, 422),
])
def test_bad_credentials(client, make, body, status):
    make.user("jan@example.org")
    r = client.post("/api/v1/auth/token", json=body)
    assert r.status_code == status, r.json
    assert r.json["code"] == status and r.json["message"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ApiToken)) == 0


def test_expired_revoked_and_unknown_tokens_are_401(client, make):
    user = make.user("jan@example.org")
    raw = make.token(user)
    assert client.get("/api/v1/me", headers=bearer(raw)).status_code == 200

    token = db.session.execute(sa.select(ApiToken)).scalar_one()
    token.expires_at = utcnow() - dt.timedelta(seconds=1)
    db.session.commit()
    r = client.get("/api/v1/me", headers=bearer(raw))
    assert r.status_code == 401
    assert r.json["message"] == "invalid or expired token"
    assert r.headers["WWW-Authenticate"].startswith("Bearer")

    for header in (bearer("fed_unknown"), bearer("garbage"), {"Authorization": "Basic amFuOmph"}, {}):
        r = client.get("/api/v1/me", headers=header)
        assert r.status_code == 401 and r.json["code"] == 401


def test_delete_token_revokes_only_the_current_one(client, make):
    user = make.user("jan@example.org")
    first, second = make.token(user), make.token(user)
    assert client.delete("/api/v1/auth/token", headers=bearer(first)).status_code == 204
    assert client.get("/api/v1/me", headers=bearer(first)).status_code == 401
    assert client.delete("/api/v1/auth/token", headers=bearer(first)).status_code == 401
    assert client.get("/api/v1/me", headers=bearer(second)).status_code == 200
    assert client.delete("/api/v1/auth/token").status_code == 401


def test_token_of_a_blocked_user_stops_working(client, make):
    user = make.user("jan@example.org")
    raw = make.token(user)
    user.is_active = False
    db.session.commit()
    assert client.get("/api/v1/me", headers=bearer(raw)).status_code == 401


def test_org_routes_need_a_token(client, make):
    fed = make.federation()
    r = client.get(f"/api/v1/orgs/{fed.id}/roles")
    assert r.status_code == 401 and r.json["message"] == "authentication required"


def test_token_records_last_use(client, make):
    user = make.user("jan@example.org")
    raw = make.token(user)
    assert client.get("/api/v1/me", headers=bearer(raw)).status_code == 200
    db.session.expire_all()
    assert db.session.execute(sa.select(ApiToken.last_used_at)).scalar_one() is not None


# --- throttling (own app with low limits) ----------------------------------------------------

@pytest.fixture(scope="module")
def strict_app(make_app):
    return make_app(LOGIN_MAX_FAILURES_PER_ACCOUNT=2, LOGIN_MAX_FAILURES_PER_IP=4)


@pytest.fixture
def strict(strict_app):
    _clean(strict_app)
    with strict_app.app_context():
        yield strict_app
        db.session.remove()


def test_token_endpoint_is_rate_limited(strict):
    make = Factory(db.session)
    make.user("jan@example.org")
    client = strict.test_client()
    for _ in range(2):
        r = client.post("/api/v1/auth/token", json={"email": "jan@example.org", "password": "wrong-pass"})
        assert r.status_code == 401
    # Even the right password is refused now, with 429 and nothing issued.
    r = client.post("/api/v1/auth/token", json={"email": "jan@example.org", "password": "secret-pass"})
    assert r.status_code == 429, r.json
    assert "too many" in r.json["message"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ApiToken)) == 0
    # Another account from the same address still works until the per-address limit.
    make.user("piet@example.org")
    r = client.post("/api/v1/auth/token", json={"email": "piet@example.org", "password": "secret-pass"})
    assert r.status_code == 201
    for _ in range(2):
        client.post("/api/v1/auth/token", json={"email": "someone@example.org", "password": "x"})
    r = client.post("/api/v1/auth/token", json={"email": "piet@example.org", "password": "secret-pass"})
    assert r.status_code == 429


def test_throttle_window_passes(strict):
    make = Factory(db.session)
    make.user("jan@example.org")
    client = strict.test_client()
    for _ in range(2):
        client.post("/api/v1/auth/token", json={"email": "jan@example.org", "password": "wrong-pass"})
    # Failures older than the window no longer count.
    for attempt in db.session.execute(sa.select(LoginAttempt)).scalars():
        attempt.at = utcnow() - dt.timedelta(seconds=strict.config["LOGIN_FAILURE_WINDOW_SECONDS"] + 1)
    db.session.commit()
    r = client.post("/api/v1/auth/token", json={"email": "jan@example.org", "password": "secret-pass"})
    assert r.status_code == 201


def test_a_new_password_revokes_every_api_token(client, make):
    user = make.user("pw@example.org")
    headers = make.headers(user)
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    from core.auth import set_password

    set_password(user, "another-secret-1")
    db.session.commit()
    response = client.get("/api/v1/me", headers=headers)
    assert response.status_code == 401
    token = client.post("/api/v1/auth/token", json={"email": "pw@example.org", "password": "another-secret-1"})
    assert token.status_code == 201


@pytest.fixture(scope="module")
def proxied_app(make_app):
    return make_app(LOGIN_MAX_FAILURES_PER_ACCOUNT=50, LOGIN_MAX_FAILURES_PER_IP=3, PROXY_COUNT=1)


def test_behind_a_proxy_each_client_has_its_own_limit(proxied_app):
    """With FEDERA_PROXY_COUNT=1 the client's address comes from X-Forwarded-For: one client's failures do
    not lock out everyone behind the same proxy."""
    _clean(proxied_app)
    with proxied_app.app_context():
        Factory(db.session).user("jan@example.org")
        client = proxied_app.test_client()
        first, second = {"X-Forwarded-For": "203.0.113.7"}, {"X-Forwarded-For": "203.0.113.8"}
        for number in range(3):
            client.post("/api/v1/auth/token", headers=first, json={"email": f"x{number}@example.org", "password": "x"})
        r = client.post("/api/v1/auth/token", headers=first,
                        json={"email": "jan@example.org", "password": "secret-pass"})
        assert r.status_code == 429
        r = client.post("/api/v1/auth/token", headers=second,
                        json={"email": "jan@example.org", "password": "secret-pass"})
        assert r.status_code == 201
        assert set(db.session.execute(sa.select(LoginAttempt.ip)).scalars()) == {"203.0.113.7", "203.0.113.8"}
        db.session.remove()
