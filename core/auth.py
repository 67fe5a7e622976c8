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
from sqlalchemy.orm import Session, object_session
from werkzeug.exceptions import HTTPException, Unauthorized

from core.db import db, utcnow
from core.models import ApiToken, LoginAttempt, User



class _Hasher:
    """The app's argon2 hasher: `PASSWORD_HASHER` in the config tunes its cost (tests make it cheap)."""

    def _get(self) -> PasswordHasher:
        params = current_app.config.get("PASSWORD_HASHER") or {}
        key = ("federa_password_hasher", tuple(sorted(params.items())))
        hasher = current_app.extensions.get(key)
        if hasher is None:
            hasher = current_app.extensions[key] = PasswordHasher(**params)
        return hasher

    def __getattr__(self, name):
        return getattr(self._get(), name)


_hasher = _Hasher()
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


MIN_PASSWORD_LENGTH = 8


class PasswordError(ValueError):
    """A refused new password; `code` is "too_short", "mismatch" or "wrong_current" (pages translate it)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def check_new_password(password: str, confirm: str | None = None) -> None:
    """The password policy for passwords people choose (reset, invitation, account page)."""
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise PasswordError("too_short", f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    if confirm is not None and confirm != password:
        raise PasswordError("mismatch", "the two passwords differ")


def set_password(user: User, password: str) -> None:
    """Store a new password and bump `auth_epoch`: other sessions and outstanding reset links stop working."""
    if len(password) < MIN_PASSWORD_LENGTH and not current_app.config.get("DEMO_MODE"):
        raise ValueError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    user.password_hash = hash_password(password)
    user.auth_epoch = (user.auth_epoch or 0) + 1
    session = object_session(user)
    if session is not None and user.id is not None:
        # A new password ends every session, API tokens included.
        session.execute(sa.update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
                        .values(revoked_at=utcnow()))


def change_password(user: User, current: str, new: str, confirm: str) -> None:
    """The account page: the current password is needed. Raises ValueError with a user-facing message."""
    if not verify_password(user, current or ""):
        raise PasswordError("wrong_current", "the current password is wrong")
    check_new_password(new, confirm)
    set_password(user, new)


# --- login throttling ----------------------------------------------------------------------------

class TooManyAttempts(Exception):
    """Too many failed logins for this account or address; try again later."""


def check_throttle(session: Session, email: str, ip: str) -> None:
    config = current_app.config
    since = utcnow() - dt.timedelta(seconds=config["LOGIN_FAILURE_WINDOW_SECONDS"])
    failures = sa.select(sa.func.count()).select_from(LoginAttempt).where(
        LoginAttempt.kind == "login", LoginAttempt.success.is_(False), LoginAttempt.at >= since
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
    """Start a fresh session (a new id against fixation) bound to the user's current `auth_epoch`."""
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
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
    """The user of a valid token (known, not revoked, not expired, active user); records its last use."""
    if not raw.startswith(TOKEN_PREFIX):
        return None
    # Token and user in one query: this runs on every API request.
    row = session.execute(sa.select(ApiToken, User).join(User, User.id == ApiToken.user_id)
                          .where(ApiToken.token_hash == _token_hash(raw))).first()
    now = utcnow()
    if row is None or row.ApiToken.revoked_at is not None or row.ApiToken.expires_at <= now:
        return None
    token, user = row.ApiToken, row.User
    if not user.is_active:
        return None
    # Written at most once a minute, without touching the request's session (no write per API call).
    if token.last_used_at is None or now - token.last_used_at > dt.timedelta(minutes=1):
        session.execute(sa.update(ApiToken).where(ApiToken.id == token.id).values(last_used_at=now),
                        execution_options={"synchronize_session": False})
        session.commit()
    return user, token


def tokens_of(session: Session, user: User) -> list[ApiToken]:
    """A user's tokens, newest first (for the account page)."""
    return list(session.execute(
        sa.select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    ).scalars())


# --- password reset links -----------------------------------------------------------------------

def _reset_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="federa-password-reset")


def invitation_ttl_seconds() -> int:
    """Invitation links live longer than reset links: people do not always read their mail the same hour."""
    return int(current_app.config.get("INVITATION_TTL_SECONDS", 7 * 24 * 3600))


def make_reset_token(user: User, invitation: bool = False) -> str:
    # The epoch makes a link single-use: setting the password bumps it. The kind is signed, so a reset link
    # cannot be passed off as a (longer-lived) invitation.
    data = {"uid": user.id, "epoch": user.auth_epoch}
    if invitation:
        data["inv"] = 1
    return _reset_serializer().dumps(data)


def user_for_reset_token(session: Session, token: str) -> User | None:
    """The user a reset or invitation link is for, while it is valid and unused."""
    config = current_app.config
    invitation_ttl = invitation_ttl_seconds()
    try:
        data, signed_at = _reset_serializer().loads(token, max_age=max(invitation_ttl,
                                                                        config["PASSWORD_RESET_TTL_SECONDS"]),
                                                    return_timestamp=True)
    except (SignatureExpired, BadSignature):
        return None
    if not isinstance(data, dict):
        return None
    ttl = invitation_ttl if data.get("inv") else config["PASSWORD_RESET_TTL_SECONDS"]
    if utcnow() - signed_at > dt.timedelta(seconds=ttl):
        return None
    user = session.get(User, data.get("uid"))
    if user is None or not user.is_active or user.auth_epoch != data.get("epoch"):
        return None
    return user


def external_url(endpoint: str, **values) -> str:
    """An absolute link for e-mails, from `BASE_URL` (works outside a request too)."""
    path = current_app.url_map.bind("localhost").build(endpoint, values)
    return current_app.config["BASE_URL"].rstrip("/") + path


def reset_requests_allowed(session: Session, email: str, ip: str) -> bool:
    """At most RESET_MAX_PER_ACCOUNT reset mails an hour to one address, RESET_MAX_PER_IP requests an hour from
    one address: nobody can flood a mailbox or probe the form."""
    config = current_app.config
    since = utcnow() - dt.timedelta(hours=1)
    recent = sa.select(sa.func.count()).select_from(LoginAttempt).where(
        LoginAttempt.kind == "reset", LoginAttempt.at >= since)
    return (session.scalar(recent.where(LoginAttempt.email == email)) < config["RESET_MAX_PER_ACCOUNT"]
            and session.scalar(recent.where(LoginAttempt.ip == ip)) < config["RESET_MAX_PER_IP"])


def send_password_reset(session: Session, email: str, ip: str = "") -> bool:
    """Mail a reset link when an active account has this address (and the hourly limits allow). Says whether one
    was sent; callers must not tell the visitor (the page is the same either way, so it does not reveal who has
    an account)."""
    from core.mail import send_mail

    email = (email or "").strip().lower()
    allowed = reset_requests_allowed(session, email, ip)
    user = session.execute(sa.select(User).where(User.email == email)).scalar_one_or_none() if email else None
    sending = allowed and user is not None and user.is_active
    session.add(LoginAttempt(kind="reset", email=email[:255], ip=ip, success=sending))
    session.commit()
    if not sending:
        return False
    minutes = max(1, current_app.config["PASSWORD_RESET_TTL_SECONDS"] // 60)
    send_mail(user.email, "password_reset", {
        "user": user, "person": user.person, "minutes": minutes,
        "link": external_url("web.password_reset", token=make_reset_token(user)),
    }, lang=user.person.preferred_language or "nl")
    return True


def send_invitation(user: User, inviter_name: str | None = None, org_name: str | None = None) -> None:
    """Mail a new login its set-password link (valid for `INVITATION_TTL_SECONDS`)."""
    from core.mail import send_mail

    days = max(1, invitation_ttl_seconds() // 86400)
    send_mail(user.email, "invitation", {
        "user": user, "person": user.person, "inviter": inviter_name, "org_name": org_name, "days": days,
        "link": external_url("web.password_reset", token=make_reset_token(user, invitation=True)),
        "login_link": external_url("web.login"),
    }, lang=user.person.preferred_language or "nl")


def reset_password(session: Session, token: str, password: str, confirm: str) -> User:
    """Set a new password from a reset or invitation link. Raises PasswordError or LookupError
    (link invalid, expired or used already: setting the password bumps the epoch the link carries)."""
    user = user_for_reset_token(session, token)
    if user is None:
        raise LookupError("this link is invalid, expired or was used already")
    check_new_password(password, confirm)
    set_password(user, password)
    session.commit()
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
