"""Admin pages: login, logout, password reset."""
from __future__ import annotations

from flask import redirect, render_template, request, url_for
from flask_babel import gettext as _

from core import auth
from core.db import db
from core.gates import public_endpoint
from core.web import web


@web.route("/login", methods=["GET", "POST"])
@public_endpoint
def login():
    error = None
    if request.method == "POST":
        try:
            user = auth.authenticate(db.session, request.form.get("email", ""), request.form.get("password", ""),
                                     request.remote_addr or "")
        except auth.TooManyAttempts:
            error = _("Too many failed attempts. Try again in a few minutes.")
        else:
            if user is None:
                error = _("Unknown e-mail address or wrong password.")
            else:
                auth.login_user(user)
                target = request.args.get("next") or ""
                if not target.startswith("/") or target.startswith("//"):
                    target = url_for("web.home")
                return redirect(target)
    return render_template("core/login.html", error=error), (200 if error is None else 401)


@web.route("/logout", methods=["POST"])
@public_endpoint
def logout():
    auth.logout_user()
    return redirect(url_for("web.login"))


