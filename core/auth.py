"""Authentication: password hashes, browser sessions, API bearer tokens, reset links, login throttling.

Browser: the Flask session holds the user id and the user's `auth_epoch`; a password change bumps
the epoch and so ends every other session. API: `Authorization: Bearer fed_...`; only the SHA-256
of a token is stored; tokens expire and can be revoked.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import abort, current_app, g, jsonify, redirect, request, session, url_for
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException, Unauthorized

from core.db import db, utcnow
from core.models import ApiToken, LoginAttempt, User

_hasher = PasswordHasher()
TOKEN_PREFIX = "fed_"


# --- passwords --------------------------------------------------------------------------------

def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(user: User, password: str) -> bool:
    if not user.password_hash:
        return False
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return True


def set_password(user: User, password: str) -> None:
    if len(password) < 8 and not current_app.config.get("DEMO_MODE"):
        raise ValueError("password must be at least 8 characters")
    user.password_hash = hash_password(password)
    user.auth_epoch = (user.auth_epoch or 0) + 1


# --- login throttling ----------------------------------------------------------------------------

class TooManyAttempts(Exception):
    """Too many failed logins for this account or address; try again later."""


def check_throttle(session: Session, email: str, ip: str) -> None:
    config = current_app.config
    since = utcnow() - dt.timedelta(seconds=config["LOGIN_FAILURE_WINDOW_SECONDS"])
    failures = sa.select(sa.func.count()).select_from(LoginAttempt).where(
        LoginAttempt.success.is_(False), LoginAttempt.at >= since
    )
    if session.scalar(failures.where(LoginAttempt.email == email)) >= config["LOGIN_MAX_FAILURES_PER_ACCOUNT"]:
        raise TooManyAttempts()
    if session.scalar(failures.where(LoginAttempt.ip == ip)) >= config["LOGIN_MAX_FAILURES_PER_IP"]:
        raise TooManyAttempts()


def authenticate(session: Session, email: str, password: str, ip: str) -> User | None:
    """Check credentials, recording the attempt. Raises TooManyAttempts when throttled."""
    email = (email or "").strip().lower()
    check_throttle(session, email, ip)
    user = session.execute(sa.select(User).where(User.email == email)).scalar_one_or_none()
    ok = user is not None and user.is_active and verify_password(user, password or "")
    if user is None:
        _hasher.hash("timing-equaliser")  # same cost for unknown accounts
    session.add(LoginAttempt(email=email, ip=ip, success=ok))
    if ok:
        user.last_login_at = utcnow()
    session.commit()
    return user if ok else None


# --- browser sessions ---------------------------------------------------------------------------

def login_user(user: User) -> None:
    session.clear()
    session["uid"] = user.id
    session["epoch"] = user.auth_epoch
    session.permanent = True


def logout_user() -> None:
    session.clear()


# --- API tokens ----------------------------------------------------------------------------------

def _token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def issue_token(session: Session, user: User, name: str = "api", ttl_seconds: int | None = None) -> tuple[str, ApiToken]:
    ttl = ttl_seconds or current_app.config["API_TOKEN_TTL_SECONDS"]
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, name=name, token_hash=_token_hash(raw),
                     expires_at=utcnow() + dt.timedelta(seconds=ttl))
    session.add(token)
    session.flush()
    return raw, token


def revoke_token(session: Session, token: ApiToken) -> None:
    if token.revoked_at is None:
        token.revoked_at = utcnow()


def user_for_token(session: Session, raw: str) -> tuple[User, ApiToken] | None:
    token = session.execute(sa.select(ApiToken).where(ApiToken.token_hash == _token_hash(raw))).scalar_one_or_none()
    if token is None or token.revoked_at is not None or token.expires_at <= utcnow():
        return None
    user = token.user
    if not user.is_active:
        return None
    return user, token


# --- password reset links -----------------------------------------------------------------------

def _reset_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="federa-password-reset")


def make_reset_token(user: User) -> str:
    # The epoch makes a link single-use: setting the password bumps it.
    return _reset_serializer().dumps({"uid": user.id, "epoch": user.auth_epoch})


def user_for_reset_token(session: Session, token: str) -> User | None:
    try:
        data = _reset_serializer().loads(token, max_age=current_app.config["PASSWORD_RESET_TTL_SECONDS"])
    except (SignatureExpired, BadSignature):
        return None
    user = session.get(User, data.get("uid"))
    if user is None or not user.is_active or user.auth_epoch != data.get("epoch"):
        return None
    return user


# --- per-request identification ---------------------------------------------------------------

def is_api_request() -> bool:
    return request.path.startswith("/api/")


def identify() -> None:
    """Find the user of this request (bearer token for the API, session cookie for the web)."""
    from core.access import load_access
    from core.gates import federa

    user = None
    g.api_token = None
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        found = user_for_token(db.session, header[7:].strip())
        if found is None:
            g.auth_error = "invalid or expired token"
        else:
            user, g.api_token = found
    elif not is_api_request() and "uid" in session:
        candidate = db.session.get(User, session["uid"])
        if candidate is not None and candidate.is_active and candidate.auth_epoch == session.get("epoch"):
            user = candidate
        else:
            session.clear()
    g.user = user
    g.access = load_access(db.session, user, federa().permissions)


def authentication_required():
    """Abort: 401 JSON for the API, a redirect to the login page for the web UI."""
    if is_api_request():
        response = jsonify(code=401, status="Unauthorized",
                           message=getattr(g, "auth_error", None) or "authentication required")
        response.status_code = 401
        response.headers["WWW-Authenticate"] = 'Bearer realm="federa"'
        abort(response)
    abort(redirect(url_for("web.login", next=request.full_path.rstrip("?"))))
