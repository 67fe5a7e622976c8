"""Admin pages: the modules of an organisation (and why each is on), switches, subscriptions."""
from __future__ import annotations

import datetime as dt

from flask import abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from core import modules as service
from core.db import db
from core.services import DomainError
from core.web import web
from core.web.guard import can, require


def _plugins():
    return current_app.extensions["federa"].plugins


def _page(errors: dict | None = None, values: dict | None = None, status: int = 200):
    org = g.org
    states = service.module_overview(db.session, _plugins(), org)
    return render_template(
        "core/modules/index.html", org=org, modules=states, labels={m.name: m.label for m in states},
        subscriptions=service.subscriptions_of(db.session, org),
        inherited=service.subscriptions_of(db.session, org, inherited=True),
        packages=service.list_packages(db.session), may_write=can("core.modules.write"),
        is_active=service.is_active, errors=errors or {}, values=values or {}, today=dt.date.today(),
    ), status


@web.route("/o/<int:org_id>/modules")
@require("core.modules.read")
def modules(org_id):
    return _page()


@web.route("/o/<int:org_id>/modules/<plugin>", methods=["POST"])
@require("core.modules.write")
def module_switch(org_id, plugin):
    choice = request.form.get("enabled", "")
    enabled = {"on": True, "off": False, "": None}.get(choice, "invalid")
    if enabled == "invalid":
        flash(_("Choose on, off or as the packages say."), "error")
        return redirect(url_for("web.modules", org_id=g.org.id))
    try:
        service.set_override(db.session, _plugins(), g.org, plugin, enabled)
    except service.ModuleError:
        db.session.rollback()
        abort(404)
    db.session.commit()
    g.pop("_enabled_modules", None)
    flash(_("Module settings saved. Switching a module off keeps all its data."), "success")
    return redirect(url_for("web.modules", org_id=g.org.id))


def _date(value: str, field: str, errors: dict) -> dt.date | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        errors[field] = _("Not a valid date.")
        return None


@web.route("/o/<int:org_id>/subscriptions", methods=["POST"])
@require("core.modules.write")
def subscription_add(org_id):
    form = request.form
    errors: dict[str, str] = {}
    starts_on = _date(form.get("starts_on"), "starts_on", errors)
    ends_on = _date(form.get("ends_on"), "ends_on", errors)
    package_id = form.get("package_id", "")
    if not package_id.isdigit():
        errors["package_id"] = _("Choose a package.")
    if not errors:
        try:
            service.subscribe(db.session, g.org, int(package_id), starts_on=starts_on, ends_on=ends_on,
                              include_descendants=form.get("include_descendants") == "1")
        except DomainError as exc:
            db.session.rollback()
            errors[exc.field or "package_id"] = exc.message
    if errors:
        return _page(errors, dict(form), 422)
    db.session.commit()
    g.pop("_enabled_modules", None)
    flash(_("Subscription added."), "success")
    return redirect(url_for("web.modules", org_id=g.org.id))


@web.route("/o/<int:org_id>/subscriptions/<int:subscription_id>/end", methods=["POST"])
@require("core.modules.write")
def subscription_end(org_id, subscription_id):
    try:
        sub = service.get_subscription(db.session, g.org, subscription_id)
    except DomainError:
        abort(404)
    service.end_subscription(db.session, sub)
    db.session.commit()
    g.pop("_enabled_modules", None)
    flash(_("Subscription ended. The data of its modules is kept."), "success")
    return redirect(url_for("web.modules", org_id=g.org.id))
