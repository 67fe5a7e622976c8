"""Core admin shell pages: start page, organisation switch, dashboard."""
from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from core import auth
from core.access import current_access
from core.db import db
from core.gates import public_endpoint
from core.web import web


@web.route("/")
def home():
    access = current_access()
    if not access.is_authenticated:
        return redirect(url_for("web.login"))
    return render_template("core/home.html")
