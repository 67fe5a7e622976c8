"""Admin pages: login, logout, password reset by e-mail link, and "my account" (password, language, API tokens)."""
from __future__ import annotations

import logging

from flask import abort, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from core import auth
from core.db import db, utcnow
from core.gates import public_endpoint
from core.models import ApiToken
from core.web import web

log = logging.getLogger(__name__)


def _safe_next(target: str | None) -> str:
    """Only same-site paths: no `//host`, `/\\host` or absolute URLs (no open redirect)."""
    target = target or ""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return url_for("web.home")
    return target


@web.route("/login", methods=["GET", "POST"])
@public_endpoint
def login():
    error = None
    status = 200
    if request.method == "POST":
        try:
            user = auth.authenticate(db.session, request.form.get("email", ""), request.form.get("password", ""),
                                     request.remote_addr or "")
        except auth.TooManyAttempts:
            error, status = _("Too many failed attempts. Try again in a few minutes."), 429
        else:
            if user is None:
                error, status = _("Unknown e-mail address or wrong password."), 401
            else:
                auth.login_user(user)
                return redirect(_safe_next(request.args.get("next")))
    return render_template("core/login.html", error=error), status


@web.route("/logout", methods=["POST"])
@public_endpoint
def logout():
    auth.logout_user()
    flash(_("You are logged out."), "info")
    return redirect(url_for("web.login"))


@web.route("/password/forgot", methods=["GET", "POST"])
@public_endpoint
def password_forgot():
    sent = False
    if request.method == "POST":
        try:
            auth.send_password_reset(db.session, request.form.get("email", ""), request.remote_addr or "")
        except Exception:  # a mail server failure must not tell the visitor whether the address exists
            log.exception("password reset mail could not be sent")
        sent = True
    return render_template("core/auth/forgot.html", sent=sent)


@web.route("/password/reset/<token>", methods=["GET", "POST"])
@public_endpoint
def password_reset(token: str):
    user = auth.user_for_reset_token(db.session, token)
    if user is None:
        return render_template("core/auth/reset.html", invalid=True), 400
    error = None
    if request.method == "POST":
        try:
            auth.reset_password(db.session, token, request.form.get("password", ""),
                                request.form.get("password_confirm", ""))
        except LookupError:
            return render_template("core/auth/reset.html", invalid=True), 400
        except auth.PasswordError as exc:
            error = _translate_password_error(exc)
        else:
            auth.logout_user()
            flash(_("Your password is set. You can log in now."), "success")
            return redirect(url_for("web.login"))
    return render_template("core/auth/reset.html", invalid=False, user=user, error=error), (422 if error else 200)


def _translate_password_error(exc: auth.PasswordError) -> str:
    messages = {
        "too_short": _("Use at least %(n)d characters.", n=auth.MIN_PASSWORD_LENGTH),
        "mismatch": _("The two passwords differ."),
        "wrong_current": _("The current password is wrong."),
    }
    return messages.get(exc.code, str(exc))


# --- my account ------------------------------------------------------------------------------------

def _account_page(status: int = 200, **extra):
    user = g.user
    return render_template("core/auth/account.html", user=user, tokens=auth.tokens_of(db.session, user),
                           now=utcnow(), language_choices=LANGUAGES, **extra), status


LANGUAGES = (("nl", "Nederlands"), ("fr", "Français"), ("en", "English"))


@web.route("/account")
def account():
    return _account_page()


@web.route("/account/password", methods=["POST"])
def account_password():
    user = g.user
    try:
        auth.change_password(user, request.form.get("current_password", ""), request.form.get("password", ""),
                             request.form.get("password_confirm", ""))
    except auth.PasswordError as exc:
        db.session.rollback()
        return _account_page(422, password_error=_translate_password_error(exc))
    db.session.commit()
    # The epoch changed: every other session of this user ends; this one continues with the new epoch.
    auth.login_user(user)
    flash(_("Your password is changed. Other sessions are logged out."), "success")
    return redirect(url_for("web.account"))


@web.route("/account/language", methods=["POST"])
def account_language():
    language = request.form.get("language", "")
    if language not in dict(LANGUAGES):
        return _account_page(422, language_error=_("Choose one of the languages."))
    g.user.person.preferred_language = language
    db.session.commit()
    session["lang"] = language
    flash(_("Your language is saved."), "success")
    return redirect(url_for("web.account"))


@web.route("/account/tokens", methods=["POST"])
def account_token_new():
    name = (request.form.get("name") or "").strip()[:100] or "api"
    raw, _token = auth.issue_token(db.session, g.user, name=name)
    db.session.commit()
    # Shown once, in this response only: only its hash is kept.
    return _account_page(201, new_token=raw)


@web.route("/account/tokens/<int:token_id>/revoke", methods=["POST"])
def account_token_revoke(token_id: int):
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != g.user.id:
        abort(404)
    auth.revoke_token(db.session, token)
    db.session.commit()
    flash(_("The token is revoked."), "success")
    return redirect(url_for("web.account"))
