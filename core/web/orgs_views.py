"""Admin pages: the organisation tree, an organisation's page and settings, edit and new-child forms."""
from __future__ import annotations

import sqlalchemy as sa
from flask import abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from core import validation
from core.access import current_access
from core.db import db
from core.gates import active_modules
from core.models import Organisation
from core.services import DomainError
from core.services import organisations as service
from core.settings import SettingErrors, SettingForbidden, effective_settings, set_settings
from core.web import web
from core.web.guard import can, require

TREE_LIMIT = 1000
FORM_FIELDS = ("name", "short_name", "street", "postal_code", "city", "country", "email", "phone", "website",
               "kbo_number", "v_code", "iban", "bic", "legal_form")
SEE_BANK_ACCOUNT = "core.people.national_number"


def _tree_rows(root: Organisation, orgs: list[Organisation]) -> list[tuple[Organisation, int]]:
    """(organisation, level below `root`) in tree order, siblings by name."""
    children: dict[int | None, list[Organisation]] = {}
    for org in orgs:
        children.setdefault(org.parent_id, []).append(org)
    for siblings in children.values():
        siblings.sort(key=lambda o: (o.name.lower(), o.id))
    rows: list[tuple[Organisation, int]] = []
    stack = [(root, 0)]
    while stack:
        org, level = stack.pop()
        rows.append((org, level))
        stack.extend((child, level + 1) for child in reversed(children.get(org.id, [])))
    return rows


def _grouped(iban: str | None) -> str:
    """An IBAN as people write it: groups of four."""
    return " ".join(iban[i:i + 4] for i in range(0, len(iban), 4)) if iban else ""


def _may_see_bank_account(org: Organisation) -> bool:
    return current_access().has(SEE_BANK_ACCOUNT, org)


@web.route("/o/<int:org_id>/organisations")
@require("core.organisation.read")
def org_tree(org_id):
    org = g.org
    q = (request.args.get("q") or "").strip()
    kind = request.args.get("kind") or None
    query = service.search_organisations(q=q or None, kind=kind, below=org).limit(TREE_LIMIT + 1)
    found = list(db.session.execute(query).scalars())
    truncated = len(found) > TREE_LIMIT
    found = found[:TREE_LIMIT]
    if q or kind:
        # Matches as a flat list, each with its parent's name (only parents inside this subtree).
        rows = [(o, 0) for o in sorted(found, key=lambda o: (o.name.lower(), o.id))]
        parent_ids = {o.parent_id for o in found if o.parent_id and o.id != org.id}
        names = dict(db.session.execute(
            sa.select(Organisation.id, Organisation.name).where(Organisation.id.in_(parent_ids))).all()
        ) if parent_ids else {}
        parents = {o.id: names.get(o.parent_id) for o in found if o.id != org.id}
    else:
        rows = _tree_rows(org, found)
        parents = {}
    kinds = service.list_kinds(db.session)
    return render_template("core/orgs/tree.html", org=org, rows=rows, parents=parents, q=q, kind=kind, kinds=kinds,
                           truncated=truncated, limit=TREE_LIMIT, may_create=can("core.organisation.create"),
                           filtered=bool(q or kind))


@web.route("/o/<int:org_id>/organisation")
@require("core.organisation.read")
def org_detail(org_id):
    org = g.org
    registry = current_app.extensions["federa"].settings
    settings = effective_settings(db.session, registry, org, active_modules(org))
    return render_template("core/orgs/detail.html", **_detail_context(org, settings))


def _detail_context(org: Organisation, settings, setting_errors=None, submitted=None) -> dict:
    access = current_access()
    source_names = {}
    source_ids = {s.source_org_id for s in settings if s.source == "inherited"}
    if source_ids:
        source_names = dict(db.session.execute(
            sa.select(Organisation.id, Organisation.name).where(Organisation.id.in_(source_ids))).all())
    show_iban = _may_see_bank_account(org)
    return {
        "org": org,
        "parent": org.parent,
        "trail": service.ancestors(db.session, org),
        "kbo": validation.format_kbo(org.kbo_number),
        "iban": _grouped(org.iban) if show_iban else validation.mask_iban(org.iban),
        "settings": settings,
        "source_names": source_names,
        "may_edit": access.has("core.organisation.write", org),
        "may_set": {s.spec.key: access.has(s.spec.write_permission, org) for s in settings},
        "setting_errors": setting_errors or {},
        "submitted": submitted or {},
    }


@web.route("/o/<int:org_id>/organisation/settings", methods=["POST"])
@require("core.organisation.write")
def org_settings(org_id):
    org = g.org
    registry = current_app.extensions["federa"].settings
    modules = active_modules(org)
    access = current_access()
    values = {}
    for name, raw in request.form.items():
        if name.startswith("setting:"):
            values[name[len("setting:"):]] = raw.strip() or None
    try:
        set_settings(db.session, registry, org, values, modules=modules,
                     allowed=lambda spec: access.has(spec.write_permission, org))
    except SettingForbidden:
        db.session.rollback()
        abort(403)
    except SettingErrors as exc:
        db.session.rollback()
        settings = effective_settings(db.session, registry, org, modules)
        flash(_("The settings were not saved: check the fields marked in red."), "error")
        return render_template("core/orgs/detail.html", **_detail_context(org, settings, exc.errors, values)), 422
    db.session.commit()
    flash(_("Settings saved."), "success")
    return redirect(url_for("web.org_detail", org_id=org.id) + "#settings")


def _form_values(org: Organisation | None, show_iban: bool) -> dict:
    if org is None:
        return {"country": "BE", "kind": "club"}
    values = {key: getattr(org, key) or "" for key in FORM_FIELDS}
    values["kind"] = org.kind
    values["kbo_number"] = validation.format_kbo(org.kbo_number)
    if not show_iban:
        values["iban"] = ""
    return values


def _submitted() -> dict:
    return {key: request.form.get(key, "").strip() for key in (*FORM_FIELDS, "kind")}


@web.route("/o/<int:org_id>/organisation/edit", methods=["GET", "POST"])
@require("core.organisation.write")
def org_edit(org_id):
    org = g.org
    show_iban = _may_see_bank_account(org)
    errors: dict[str, str] = {}
    values = _form_values(org, show_iban)
    if request.method == "POST":
        values = _submitted()
        fields = {key: values[key] for key in FORM_FIELDS}
        if not show_iban and not fields["iban"]:
            del fields["iban"]  # left empty by someone who cannot see it: keep the stored account
        try:
            service.update_organisation(db.session, org, kind=values["kind"] or None, **fields)
        except DomainError as exc:
            db.session.rollback()
            errors = _errors_of(exc)
        else:
            db.session.commit()
            flash(_("Organisation saved."), "success")
            return redirect(url_for("web.org_detail", org_id=org.id))
    return render_template("core/orgs/form.html", org=org, parent=org.parent, values=values, errors=errors,
                           kinds=service.list_kinds(db.session), mode="edit", show_iban=show_iban,
                           masked_iban=validation.mask_iban(org.iban)), (422 if errors else 200)


@web.route("/o/<int:org_id>/organisations/new", methods=["GET", "POST"])
@require("core.organisation.create")
def org_new(org_id):
    parent = g.org
    errors: dict[str, str] = {}
    values = _form_values(None, True)
    if request.method == "POST":
        values = _submitted()
        fields = {key: values[key] for key in FORM_FIELDS if key != "name"}
        try:
            child = service.create_organisation(db.session, name=values["name"], kind=values["kind"], parent=parent,
                                                **fields)
        except DomainError as exc:
            db.session.rollback()
            errors = _errors_of(exc)
        else:
            db.session.commit()
            flash(_("Organisation created."), "success")
            return redirect(url_for("web.org_detail", org_id=child.id))
    return render_template("core/orgs/form.html", org=None, parent=parent, values=values, errors=errors,
                           kinds=service.list_kinds(db.session), mode="new", show_iban=True,
                           masked_iban=""), (422 if errors else 200)


def _errors_of(exc: DomainError) -> dict[str, str]:
    errors = dict(exc.details.get("errors") or {})
    if exc.field and exc.field not in errors:
        errors[exc.field] = exc.message
    if not errors:
        errors["_"] = exc.message
    return errors
