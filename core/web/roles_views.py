"""Admin pages: who holds which role on an organisation and below it, giving and taking roles, custom roles.

A custom role is edited as a matrix of modules (only those enabled for the organisation) × none/read/write;
permissions of modules not shown (switched off here) are kept as they are.
"""
from __future__ import annotations

import sqlalchemy as sa
from flask import abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from core.access import current_access
from core.api import paginate
from core.db import db
from core.gates import active_modules
from core.models import Organisation, User
from core.permissions import LEVELS, permissions_to_module_levels
from core.services import DomainError
from core.services import users
from core.web import web
from core.web.guard import can, require

PAGE_SIZE = 50


def _registry():
    return current_app.extensions["federa"].permissions


def subtree_options(org: Organisation) -> list[tuple[Organisation, int]]:
    """`org` and its descendants in tree order, with their depth below `org` (for an indented select)."""
    rows = db.session.execute(sa.select(Organisation).where(Organisation.path.startswith(org.path))).scalars().all()
    children: dict[int | None, list[Organisation]] = {}
    for row in rows:
        children.setdefault(row.parent_id, []).append(row)
    ordered: list[tuple[Organisation, int]] = []
    stack = [(org, 0)]
    while stack:
        node, depth = stack.pop()
        ordered.append((node, depth))
        stack.extend((child, depth + 1) for child in sorted(children.get(node.id, []),
                                                             key=lambda o: o.name.lower(), reverse=True))
    return ordered


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _roles_page(status: int = 200, form_error: str | None = None, field_errors: dict | None = None):
    org = g.org
    q = (request.args.get("q") or "").strip()
    page = max(1, _int(request.args.get("page")) or 1)
    query = users.filter_assignments(users.assignments_query(org), q=q or None)
    assignments = paginate(db.session, query, page, PAGE_SIZE)
    person_q = (request.values.get("person_q") or "").strip()
    candidates = users.search_people(db.session, org, person_q) if person_q and can("core.roles.write") else []
    logins = {}
    if candidates:
        logins = dict(db.session.execute(sa.select(User.person_id, User.email)
                                          .where(User.person_id.in_([p.id for p in candidates]))).all())
    roles = users.roles_for_org(db.session, org)
    return render_template(
        "core/roles/index.html", assignments=assignments, q=q, person_q=person_q, candidates=candidates,
        logins=logins, roles=roles, grantable=_grantable(roles, org), org_options=subtree_options(org),
        form=request.form, form_error=form_error, field_errors=field_errors or {}, can_write=can("core.roles.write"),
        permission_counts={role.id: len(users.role_permissions(role, _registry())) for role in roles},
    ), status


def _grantable(roles, org: Organisation) -> set[int]:
    """The roles this user may give here (the form offers only those; the service checks again)."""
    granter = current_access().granter(org)
    ids = set()
    for role in roles:
        try:
            users.check_can_grant(granter, users.role_permissions(role, _registry()), role.key)
        except DomainError:
            continue
        ids.add(role.id)
    return ids


@web.route("/o/<int:org_id>/roles")
@require("core.roles.read")
def roles(org_id: int):
    return _roles_page()


@web.route("/o/<int:org_id>/roles/assignments", methods=["POST"])
@require("core.roles.write")
def role_assign(org_id: int):
    session = db.session
    form = request.form
    try:
        target = g.org
        target_id = _int(form.get("target_org_id"))
        if target_id is not None and target_id != g.org.id:
            target = session.get(Organisation, target_id)
            if target is None or not users.in_subtree(g.org, target):
                raise DomainError(_("Choose an organisation in this list."), field="org_id")
        person_id = _int(form.get("person_id"))
        if person_id is None:
            raise DomainError(_("Choose a person."), field="person_id")
        role = users.resolve_role(session, g.org, role_id=_int(form.get("role_id")) or -1)
        assignment, invited = users.grant_role(
            session, g.org, _registry(), role=role, target_org=target, person_id=person_id,
            email=(form.get("email") or "").strip() or None, granter=current_access().granter(target),
            inviter_name=g.user.person.full_name)
    except DomainError as exc:
        session.rollback()
        return _roles_page(exc.status, form_error=exc.message, field_errors={exc.field: exc.message} if exc.field else {})
    session.commit()
    name = assignment.user.person.full_name
    if invited:
        flash(_("%(name)s is now %(role)s; an invitation was sent to %(email)s.", name=name,
                role=assignment.role.name, email=assignment.user.email), "success")
    else:
        flash(_("%(name)s is now %(role)s.", name=name, role=assignment.role.name), "success")
    return redirect(url_for("web.roles", org_id=g.org.id))


@web.route("/o/<int:org_id>/roles/assignments/<int:assignment_id>/delete", methods=["POST"])
@require("core.roles.write")
def role_unassign(org_id: int, assignment_id: int):
    try:
        assignment = users.assignment_in(db.session, g.org, assignment_id)
    except DomainError:
        abort(404)
    try:
        users.revoke_assignment(db.session, g.org, assignment, _registry(),
                                granter=current_access().granter(assignment.organisation))
    except DomainError as exc:
        db.session.rollback()
        return _roles_page(exc.status, form_error=exc.message)
    name, role = assignment.user.person.full_name, assignment.role.name
    db.session.commit()
    flash(_("%(name)s is no longer %(role)s.", name=name, role=role), "success")
    return redirect(url_for("web.roles", org_id=g.org.id))


# --- custom roles ------------------------------------------------------------------------------

def matrix_modules(org: Organisation) -> list[dict]:
    """The modules shown in the role matrix: core and the plugins enabled for `org` that declare permissions."""
    registry = _registry()
    plugins = current_app.extensions["federa"].plugins
    enabled = active_modules(org)
    grouped = registry.grouped()
    rows = []
    for name in plugins.order:
        if name in enabled and name in grouped:
            rows.append({"name": name, "label": plugins[name].label or name, "permissions": grouped[name]})
    return rows


def _role_form(role, status: int = 200, error: str | None = None, field_errors: dict | None = None,
               levels: dict | None = None, name: str | None = None, description: str | None = None):
    registry = _registry()
    current = users.role_permissions(role, registry) if role is not None else frozenset()
    editable = role is None or (not role.builtin and role.org_id == g.org.id and can("core.roles.write"))
    owner = db.session.get(Organisation, role.org_id) if role is not None and role.org_id else None
    return render_template(
        "core/roles/edit.html", role=role, modules=matrix_modules(g.org), editable=editable, owner=owner,
        levels=levels if levels is not None else permissions_to_module_levels(registry, current),
        name=name if name is not None else (role.name if role else ""),
        description=description if description is not None else ((role.description or "") if role else ""),
        error=error, field_errors=field_errors or {}, choices=LEVELS,
    ), status


def _submitted_permissions(role) -> tuple[set[str], dict[str, str]]:
    """Permissions from the matrix; modules not shown, or left at "custom", keep what the role had."""
    registry = _registry()
    shown = {m["name"] for m in matrix_modules(g.org)}
    current = users.role_permissions(role, registry) if role is not None else frozenset()
    levels: dict[str, str] = {}
    chosen: dict[str, str] = {}
    for module in shown:
        value = request.form.get(f"level-{module}", "none")
        levels[module] = value
        if value in LEVELS:
            chosen[module] = value
        elif value != "custom":
            raise DomainError(_("Choose none, read or write."), field=f"level-{module}")
    permissions = users.permissions_from_input(registry, modules=chosen)
    kept = {p for p in current if p.split(".", 1)[0] not in chosen}
    return permissions | kept, levels


@web.route("/o/<int:org_id>/roles/new", methods=["GET", "POST"])
@require("core.roles.write")
def role_new(org_id: int):
    if request.method == "GET":
        return _role_form(None)
    levels = None
    try:
        permissions, levels = _submitted_permissions(None)
        role = users.create_custom_role(db.session, g.org, request.form.get("name", ""), permissions, _registry(),
                                        description=request.form.get("description"),
                                        granter=current_access().granter(g.org))
    except DomainError as exc:
        db.session.rollback()
        return _role_form(None, exc.status, error=exc.message, field_errors={exc.field: exc.message},
                          levels=levels, name=request.form.get("name", ""),
                          description=request.form.get("description", ""))
    db.session.commit()
    flash(_("The role %(name)s is saved.", name=role.name), "success")
    return redirect(url_for("web.roles", org_id=g.org.id))


@web.route("/o/<int:org_id>/roles/<int:role_id>", methods=["GET", "POST"])
@require("core.roles.read")
def role_edit(org_id: int, role_id: int):
    try:
        role = users.role_for_org(db.session, g.org, role_id)
    except DomainError:
        abort(404)
    if request.method == "GET":
        return _role_form(role)
    if not can("core.roles.write"):
        abort(403)
    levels = None
    try:
        permissions, levels = _submitted_permissions(role)
        users.update_custom_role(db.session, g.org, role, _registry(), name=request.form.get("name", ""),
                                 description=request.form.get("description", ""), permissions=permissions,
                                 granter=current_access().granter(g.org))
    except DomainError as exc:
        db.session.rollback()
        return _role_form(role, exc.status, error=exc.message, field_errors={exc.field: exc.message},
                          levels=levels, name=request.form.get("name", ""),
                          description=request.form.get("description", ""))
    db.session.commit()
    flash(_("The role %(name)s is saved.", name=role.name), "success")
    return redirect(url_for("web.roles", org_id=g.org.id))


@web.route("/o/<int:org_id>/roles/<int:role_id>/delete", methods=["POST"])
@require("core.roles.write")
def role_delete(org_id: int, role_id: int):
    try:
        role = users.role_for_org(db.session, g.org, role_id)
    except DomainError:
        abort(404)
    name = role.name
    try:
        users.delete_custom_role(db.session, g.org, role)
    except DomainError as exc:
        db.session.rollback()
        return _role_form(role, exc.status, error=exc.message)
    db.session.commit()
    flash(_("The role %(name)s is deleted.", name=name), "success")
    return redirect(url_for("web.roles", org_id=g.org.id))
