"""REST API: the permission catalogue, roles and role assignments of an organisation.

`/api/v1/permissions`, `/api/v1/orgs/{org_id}/roles[/{role_id}]`, `/api/v1/orgs/{org_id}/assignments[/{id}]`.
Reading needs `core.roles.read`, changing `core.roles.write`; nobody grants what they do not hold
(see `core.services.users`).
"""
from __future__ import annotations

import marshmallow as ma
from flask import current_app, g
from flask.views import MethodView
from marshmallow import validate

from core.access import current_access
from core.api import ApiBlueprint, PageArgs, page_schema, paginate
from core.db import db
from core.gates import authenticated_endpoint
from core.models import Organisation, RoleAssignment
from core.permissions import LEVELS, permissions_to_module_levels
from core.services import DomainError
from core.services import users

blp = ApiBlueprint("roles", __name__, url_prefix="/api/v1",
                   description="Permissions, roles and who holds them on an organisation")


def _registry():
    return current_app.extensions["federa"].permissions


# --- schemas --------------------------------------------------------------------------------------

class PermissionSchema(ma.Schema):
    name = ma.fields.String()
    label = ma.fields.Function(lambda p: str(p.label))
    description = ma.fields.Function(lambda p: str(p.description or ""))
    level = ma.fields.String()
    default_roles = ma.fields.List(ma.fields.String())


class PermissionModuleSchema(ma.Schema):
    module = ma.fields.String()
    label = ma.fields.String()
    permissions = ma.fields.List(ma.fields.Nested(PermissionSchema))


class PermissionCatalogueSchema(ma.Schema):
    levels = ma.fields.List(ma.fields.String())
    modules = ma.fields.List(ma.fields.Nested(PermissionModuleSchema))


class RoleSchema(ma.Schema):
    id = ma.fields.Integer()
    key = ma.fields.String(allow_none=True)
    name = ma.fields.String()
    description = ma.fields.String(allow_none=True)
    builtin = ma.fields.Boolean()
    org_id = ma.fields.Integer(allow_none=True)
    permissions = ma.fields.Method("_permissions")
    modules = ma.fields.Method("_modules")

    def _permissions(self, role):
        return sorted(users.role_permissions(role, _registry()))

    def _modules(self, role):
        registry = _registry()
        return permissions_to_module_levels(registry, users.role_permissions(role, registry))


RolePageSchema = page_schema(RoleSchema, "RolePageSchema")

_module_levels = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String(validate=validate.OneOf(LEVELS)),
                                metadata={"description": 'Level per module, e.g. {"core": "read"}: "read" grants the '
                                                         'module\'s *.read permissions, "write" all of them.'})


class RoleCreateSchema(ma.Schema):
    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=100))
    description = ma.fields.String(load_default=None, allow_none=True)
    modules = _module_levels
    permissions = ma.fields.List(ma.fields.String())

    @ma.validates_schema
    def _one_of(self, data, **kwargs):
        if ("modules" in data) == ("permissions" in data):
            raise ma.ValidationError("give either modules or permissions", "modules")


class RoleUpdateSchema(ma.Schema):
    name = ma.fields.String(validate=validate.Length(min=1, max=100))
    description = ma.fields.String(allow_none=True)
    modules = _module_levels
    permissions = ma.fields.List(ma.fields.String())

    @ma.validates_schema
    def _at_most_one(self, data, **kwargs):
        if "modules" in data and "permissions" in data:
            raise ma.ValidationError("give either modules or permissions, not both", "modules")


class RoleAssignmentSchema(ma.Schema):
    id = ma.fields.Integer()
    user_id = ma.fields.Integer()
    email = ma.fields.Function(lambda a: a.user.email)
    person_id = ma.fields.Function(lambda a: a.user.person_id)
    person_name = ma.fields.Function(lambda a: a.user.person.full_name)
    role_id = ma.fields.Integer()
    role = ma.fields.Function(lambda a: a.role.key)
    role_name = ma.fields.Function(lambda a: a.role.name)
    org_id = ma.fields.Integer(allow_none=True)
    org_name = ma.fields.Function(lambda a: a.organisation.name if a.organisation else None)
    created_at = ma.fields.DateTime()


class RoleAssignmentCreatedSchema(RoleAssignmentSchema):
    invited = ma.fields.Boolean(metadata={"description": "a login was created and an invitation e-mail sent"})


RoleAssignmentPageSchema = page_schema(RoleAssignmentSchema, "RoleAssignmentPageSchema")


class AssignmentArgs(PageArgs):
    role_id = ma.fields.Integer()
    role = ma.fields.String(metadata={"description": "built-in role key"})
    org_id = ma.fields.Integer(metadata={"description": "only assignments on this organisation"})
    q = ma.fields.String(metadata={"description": "part of the e-mail address or name"})


class AssignmentCreateSchema(ma.Schema):
    user_id = ma.fields.Integer()
    person_id = ma.fields.Integer()
    email = ma.fields.Email(metadata={"description": "for a person without a login: creates one and invites them"})
    role_id = ma.fields.Integer()
    role = ma.fields.String(metadata={"description": "built-in role key, instead of role_id"})
    org_id = ma.fields.Integer(metadata={"description": "default: the organisation of the URL; must be in its subtree"})

    @ma.validates_schema
    def _choices(self, data, **kwargs):
        if ("user_id" in data) == ("person_id" in data):
            raise ma.ValidationError("give either user_id or person_id", "person_id")
        if ("role_id" in data) == ("role" in data):
            raise ma.ValidationError("give either role_id or role", "role_id")


# --- permissions ----------------------------------------------------------------------------------

@blp.route("/permissions")
class PermissionsResource(MethodView):
    @authenticated_endpoint
    @blp.requires()
    @blp.response(200, PermissionCatalogueSchema)
    def get(self):
        """The permissions core and the loaded plugins declare, grouped by module."""
        plugins = current_app.extensions["federa"].plugins
        modules = []
        for module, permissions in _registry().grouped().items():
            label = plugins[module].label if module in plugins else module
            modules.append({"module": module, "label": str(label or module), "permissions": permissions})
        return {"levels": list(LEVELS), "modules": modules}


# --- roles ------------------------------------------------------------------------------------------

def _role(role_id: int):
    return users.role_for_org(db.session, g.org, role_id)


@blp.route("/orgs/<int:org_id>/roles")
class RolesResource(MethodView):
    @blp.requires("core.roles.read")
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, RolePageSchema)
    def get(self, args, org_id):
        """Built-in roles and the custom roles of this organisation and its ancestors."""
        return paginate(db.session, users.roles_query(g.org), args["page"], args["page_size"])

    @blp.requires("core.roles.write")
    @blp.arguments(RoleCreateSchema)
    @blp.response(201, RoleSchema)
    @blp.alt_response(409, description="A role with this name exists")
    def post(self, data, org_id):
        """Make a custom role, by module level (`modules`) or as a list of `permissions`."""
        registry = _registry()
        permissions = users.permissions_from_input(registry, data.get("modules"), data.get("permissions"))
        role = users.create_custom_role(db.session, g.org, data["name"], permissions, registry,
                                        description=data.get("description"), granter=current_access().granter(g.org))
        db.session.commit()
        return role


@blp.route("/orgs/<int:org_id>/roles/<int:role_id>")
class RoleResource(MethodView):
    @blp.requires("core.roles.read")
    @blp.etag
    @blp.response(200, RoleSchema)
    def get(self, org_id, role_id):
        """One role; the ETag is needed to change it."""
        return _role(role_id)

    @blp.requires("core.roles.write")
    @blp.etag
    @blp.arguments(RoleUpdateSchema)
    @blp.response(200, RoleSchema)
    @blp.alt_response(409, description="A role with this name exists")
    def patch(self, data, org_id, role_id):
        """Change a custom role of this organisation (send `If-Match`). `modules`/`permissions` replace the set."""
        role = _role(role_id)
        blp.check_etag(role, RoleSchema)
        registry = _registry()
        permissions = None
        if "modules" in data or "permissions" in data:
            permissions = users.permissions_from_input(registry, data.get("modules"), data.get("permissions"))
        users.update_custom_role(db.session, g.org, role, registry, name=data.get("name"),
                                 description=(data["description"] or "") if "description" in data else None,
                                 permissions=permissions, granter=current_access().granter(g.org))
        db.session.commit()
        return role

    @blp.requires("core.roles.write")
    @blp.response(204)
    @blp.alt_response(409, description="The role is still given to someone")
    def delete(self, org_id, role_id):
        """Delete a custom role of this organisation that nobody holds any more."""
        role = _role(role_id)
        users.delete_custom_role(db.session, g.org, role)
        db.session.commit()


# --- assignments ------------------------------------------------------------------------------------

@blp.route("/orgs/<int:org_id>/assignments")
class AssignmentsResource(MethodView):
    @blp.requires("core.roles.read")
    @blp.arguments(AssignmentArgs, location="query")
    @blp.response(200, RoleAssignmentPageSchema)
    def get(self, args, org_id):
        """Who holds which role on this organisation and the organisations below it."""
        role = None
        if "role_id" in args or "role" in args:
            role = users.resolve_role(db.session, g.org, args.get("role_id"), args.get("role"))
        query = users.filter_assignments(users.assignments_query(g.org), role=role,
                                         target_org_id=args.get("org_id"), q=args.get("q"))
        return paginate(db.session, query, args["page"], args["page_size"])

    @blp.requires("core.roles.write")
    @blp.arguments(AssignmentCreateSchema)
    @blp.response(201, RoleAssignmentCreatedSchema)
    @blp.alt_response(409, description="Limit reached (one contact person, N club admins) or e-mail in use")
    def post(self, data, org_id):
        """Give a role to a person (by `person_id` or `user_id`) on this organisation or one below it.

        A person without a login gets one for `email` (default: the person's address) and an invitation e-mail."""
        session = db.session
        target = g.org
        if data.get("org_id") is not None and data["org_id"] != g.org.id:
            target = session.get(Organisation, data["org_id"])
            if target is None or not users.in_subtree(g.org, target):
                raise DomainError("this organisation is not in your organisation's subtree", field="org_id")
        role = users.resolve_role(session, g.org, data.get("role_id"), data.get("role"))
        assignment, invited = users.grant_role(
            session, g.org, _registry(), role=role, target_org=target, user_id=data.get("user_id"),
            person_id=data.get("person_id"), email=data.get("email"), granter=current_access().granter(target),
            inviter_name=g.user.person.full_name)
        session.commit()
        assignment.invited = invited
        return assignment


def _assignment(assignment_id: int) -> RoleAssignment:
    return users.assignment_in(db.session, g.org, assignment_id)


@blp.route("/orgs/<int:org_id>/assignments/<int:assignment_id>")
class AssignmentResource(MethodView):
    @blp.requires("core.roles.read")
    @blp.response(200, RoleAssignmentSchema)
    def get(self, org_id, assignment_id):
        """One assignment on this organisation or below it."""
        return _assignment(assignment_id)

    @blp.requires("core.roles.write")
    @blp.response(204)
    def delete(self, org_id, assignment_id):
        """Take a role away again."""
        assignment = _assignment(assignment_id)
        users.revoke_assignment(db.session, g.org, assignment, _registry(),
                                granter=current_access().granter(assignment.organisation))
        db.session.commit()
