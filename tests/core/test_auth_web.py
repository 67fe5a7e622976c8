"""Browser authentication: login, logout, CSRF, throttling, password reset by e-mail, my account."""
from __future__ import annotations

import email
import email.policy
import re

import itsdangerous.timed
import pytest
import sqlalchemy as sa

from core.db import db
from core.models import ApiToken, User
from tests.conftest import _clean, csrf_token, web_login
from tests.factories import Factory

LINK_RE = re.compile(r"http://[^\s]+/password/reset/[^\s]+")
CSRF_VALUE_RE = re.compile(r'(name="csrf[-_]token" (?:content|value)=)"[^"]+"')


def outbox(app) -> list:
    return sorted((app.config["DATA_DIR"] / "outbox").glob("*.eml"))


def read_mail(path):
    return email.message_from_bytes(path.read_bytes(), policy=email.policy.default)


def reset_path(message) -> str:
    link = LINK_RE.search(message.get_content()).group(0)
    return link[link.index("/password/"):]


def logged_in(client) -> bool:
    return client.get("/account").status_code == 200


# --- login and logout ----------------------------------------------------------------------------

def test_login_and_logout(client, make):
    make.user("jan@example.org")
    r = web_login(client, "jan@example.org")
    assert r.status_code == 302 and r.headers["Location"] == "/"
    assert logged_in(client)
    assert 'href="/account"' in client.get("/account").get_data(as_text=True)  # the user menu links to it
    token = csrf_token(client, "/account")
    r = client.post("/logout", data={"csrf_token": token})
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")
    r = client.get("/account")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_wrong_password_is_refused(client, make):
    make.user("jan@example.org")
    r = web_login(client, "jan@example.org", "wrong-pass")
    assert r.status_code == 401
    assert "Unknown e-mail address or wrong password" in r.get_data(as_text=True) or "wachtwoord" in r.get_data(as_text=True)
    assert not logged_in(client)


@pytest.mark.parametrize("target, expected", [
    ("/account", "/account"),
    ("//evil.example.org/x", "/"),
    ("https://evil.example.org/", "/"),
    ("/\\evil.example.org", "/"),
])
def test_login_redirects_only_within_the_site(client, make, target, expected):
    make.user("jan@example.org")
    token = csrf_token(client)
    r = client.post("/login", query_string={"next": target},
                    data={"email": "jan@example.org", "password": "secret-pass", "csrf_token": token})
    assert r.status_code == 302 and r.headers["Location"] == expected


def test_forms_without_csrf_token_are_refused(client, make):
    make.user("jan@example.org")
    r = client.post("/login", data={"email": "jan@example.org", "password": "secret-pass"})
    assert r.status_code == 400
    assert not logged_in(client)
    web_login(client, "jan@example.org")
    assert client.post("/logout").status_code == 400
    assert logged_in(client)
    r = client.post("/account/password", data={"current_password": "secret-pass", "password": "new-password-1",
                                               "password_confirm": "new-password-1"})
    assert r.status_code == 400


# --- throttling ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def strict_app(make_app):
    return make_app(LOGIN_MAX_FAILURES_PER_ACCOUNT=2)


def test_login_form_is_rate_limited(strict_app):
    _clean(strict_app)
    with strict_app.app_context():
        Factory(db.session).user("jan@example.org")
        client = strict_app.test_client()
        assert web_login(client, "jan@example.org", "wrong-1").status_code == 401
        assert web_login(client, "jan@example.org", "wrong-2").status_code == 401
        r = web_login(client, "jan@example.org")
        assert r.status_code == 429
        assert client.get("/account").status_code == 302  # not logged in
        db.session.remove()


# --- password reset -------------------------------------------------------------------------------

def _forgot(client, address: str):
    return client.post("/password/forgot", data={"email": address, "csrf_token": csrf_token(client, "/password/forgot")})


def test_forgot_page_does_not_tell_who_has_an_account(client, make, ctx):
    make.user("jan@example.org")
    known = _forgot(client, "jan@example.org")
    unknown = _forgot(client, "nobody@example.org")
    assert known.status_code == unknown.status_code == 200
    same = lambda r: CSRF_VALUE_RE.sub(r'\1""', r.get_data(as_text=True))  # noqa: E731
    assert same(known) == same(unknown)
    mails = outbox(ctx)
    assert len(mails) == 1 and read_mail(mails[0])["To"] == "jan@example.org"


def test_reset_link_sets_password_once(client, make, ctx):
    user = make.user("jan@example.org")
    _forgot(client, "jan@example.org")
    message = read_mail(outbox(ctx)[-1])
    assert message["Subject"] == "Kies een nieuw wachtwoord voor Federa"  # Dutch first
    path = reset_path(message)
    assert client.get(path).status_code == 200

    token = csrf_token(client, path)
    r = client.post(path, data={"password": "short", "password_confirm": "short", "csrf_token": token})
    assert r.status_code == 422
    r = client.post(path, data={"password": "long-enough-1", "password_confirm": "different-1", "csrf_token": token})
    assert r.status_code == 422
    db.session.refresh(user)
    assert user.auth_epoch == 0  # nothing changed

    r = client.post(path, data={"password": "new-password-1", "password_confirm": "new-password-1", "csrf_token": token})
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")
    assert web_login(client, "jan@example.org", "new-password-1").status_code == 302
    assert web_login(client, "jan@example.org", "secret-pass").status_code == 401

    # The link is single-use.
    other = ctx.test_client()
    assert other.get(path).status_code == 400
    r = other.post(path, data={"password": "again-password", "password_confirm": "again-password",
                               "csrf_token": csrf_token(other, "/login")})
    assert r.status_code == 400
    assert web_login(other, "jan@example.org", "again-password").status_code == 401


def test_reset_link_expires(client, make, ctx, monkeypatch):
    make.user("jan@example.org")
    real = itsdangerous.timed.TimestampSigner.get_timestamp
    ttl = ctx.config["PASSWORD_RESET_TTL_SECONDS"]
    monkeypatch.setattr(itsdangerous.timed.TimestampSigner, "get_timestamp", lambda self: real(self) - ttl - 5)
    _forgot(client, "jan@example.org")
    monkeypatch.setattr(itsdangerous.timed.TimestampSigner, "get_timestamp", real)
    path = reset_path(read_mail(outbox(ctx)[-1]))
    r = client.get(path)
    assert r.status_code == 400
    assert client.get(path[:-3] + "abc").status_code == 400  # tampered


def test_invitation_link_lives_longer_than_a_reset_link(client, make, ctx, monkeypatch):
    from core import auth

    user = make.user("jan@example.org")
    real = itsdangerous.timed.TimestampSigner.get_timestamp
    two_hours_ago = lambda self: real(self) - 7200  # noqa: E731
    monkeypatch.setattr(itsdangerous.timed.TimestampSigner, "get_timestamp", two_hours_ago)
    with ctx.test_request_context():
        reset = auth.make_reset_token(user)
        invitation = auth.make_reset_token(user, invitation=True)
    monkeypatch.setattr(itsdangerous.timed.TimestampSigner, "get_timestamp", real)
    assert client.get(f"/password/reset/{reset}").status_code == 400
    assert client.get(f"/password/reset/{invitation}").status_code == 200


def test_password_change_ends_other_sessions(client, make, ctx):
    make.user("jan@example.org")
    web_login(client, "jan@example.org")
    other = ctx.test_client()
    web_login(other, "jan@example.org")
    assert logged_in(other)

    token = csrf_token(client, "/account")
    r = client.post("/account/password", data={"current_password": "wrong", "password": "new-password-1",
                                               "password_confirm": "new-password-1", "csrf_token": token})
    assert r.status_code == 422
    assert logged_in(other)

    r = client.post("/account/password", data={"current_password": "secret-pass", "password": "new-password-1",
                                               "password_confirm": "new-password-1", "csrf_token": token})
    assert r.status_code == 302
    assert logged_in(client)  # this session continues ...
    assert not logged_in(other)  # ... the other one is over
    assert web_login(other, "jan@example.org", "new-password-1").status_code == 302


def test_reset_ends_existing_sessions(client, make, ctx):
    make.user("jan@example.org")
    session_client = ctx.test_client()
    web_login(session_client, "jan@example.org")
    _forgot(client, "jan@example.org")
    path = reset_path(read_mail(outbox(ctx)[-1]))
    client.post(path, data={"password": "new-password-1", "password_confirm": "new-password-1",
                            "csrf_token": csrf_token(client, path)})
    assert not logged_in(session_client)


# --- my account -----------------------------------------------------------------------------------

def test_account_needs_login(client):
    r = client.get("/account")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_language_preference(client, make):
    user = make.user("jan@example.org")
    web_login(client, "jan@example.org")
    token = csrf_token(client, "/account")
    assert client.post("/account/language", data={"language": "xx", "csrf_token": token}).status_code == 422
    r = client.post("/account/language", data={"language": "fr", "csrf_token": token})
    assert r.status_code == 302
    db.session.refresh(user.person)
    assert user.person.preferred_language == "fr"
    assert 'lang="fr"' in client.get("/account").get_data(as_text=True)


def test_api_tokens_on_the_account_page(client, make):
    user = make.user("jan@example.org")
    stranger = make.user("piet@example.org")
    foreign = make.token(stranger)
    web_login(client, "jan@example.org")
    token = csrf_token(client, "/account")
    r = client.post("/account/tokens", data={"name": "export script", "csrf_token": token})
    assert r.status_code == 201
    raw = re.search(r'id="new-token">([^<]+)<', r.get_data(as_text=True)).group(1)
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"}).json["email"] == "jan@example.org"
    page = client.get("/account").get_data(as_text=True)
    assert "export script" in page and raw not in page  # shown once only

    mine = db.session.execute(sa.select(ApiToken).where(ApiToken.user_id == user.id)).scalar_one()
    theirs = db.session.execute(sa.select(ApiToken).where(ApiToken.user_id == stranger.id)).scalar_one()
    r = client.post(f"/account/tokens/{theirs.id}/revoke", data={"csrf_token": token})
    assert r.status_code == 404
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {foreign}"}).status_code == 200
    r = client.post(f"/account/tokens/{mine.id}/revoke", data={"csrf_token": token})
    assert r.status_code == 302
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"}).status_code == 401


def test_invited_person_sets_password_and_logs_in(client, make, ctx):
    """The whole invitation: a contact person gives a role to someone without a login."""
    fed = make.federation()
    club = make.club(fed, "KSV Oudenaarde")
    make.user("contact@example.org", role="club_contact", org=club)
    person = make.person("Lotte", "Verbeke", org=club, email="lotte@example.org", preferred_language="en")
    web_login(client, "contact@example.org")
    token = csrf_token(client, f"/o/{club.id}/roles")
    role_id = db.session.execute(sa.text("select id from role where key = 'club_admin'")).scalar_one()
    r = client.post(f"/o/{club.id}/roles/assignments",
                    data={"person_id": person.id, "role_id": role_id, "csrf_token": token})
    assert r.status_code == 302, r.get_data(as_text=True)
    message = read_mail(outbox(ctx)[-1])
    assert message["To"] == "lotte@example.org"
    assert message["Subject"] == "Invitation to Federa – KSV Oudenaarde"
    assert "has created a Federa account for you" in message.get_content()

    invitee = ctx.test_client()
    path = reset_path(message)
    r = invitee.post(path, data={"password": "lotte-password", "password_confirm": "lotte-password",
                                 "csrf_token": csrf_token(invitee, path)})
    assert r.status_code == 302
    assert web_login(invitee, "lotte@example.org", "lotte-password").status_code == 302
    assert invitee.get(f"/o/{club.id}/roles").status_code == 200
    assert db.session.execute(sa.select(User).where(User.email == "lotte@example.org")).scalar_one().password_hash


def test_reset_mails_are_limited_per_address_and_hour(client, make, ctx):
    """Asking again and again does not flood the mailbox: three mails an hour, the page stays the same."""
    make.user("flood@example.org")
    pages = [_forgot(client, "flood@example.org") for _ in range(5)]
    assert {p.status_code for p in pages} == {200}
    assert len(outbox(ctx)) == 3
    from core.models import LoginAttempt

    kinds = db.session.execute(sa.select(LoginAttempt.kind, LoginAttempt.success)).all()
    assert sorted(kinds) == [("reset", False)] * 2 + [("reset", True)] * 3
